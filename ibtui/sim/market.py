"""The moving market: a deterministic price path per instrument, quotes and day statistics.

Prices follow a geometric Brownian motion in *trading time* (see :mod:`ibtui.sim.hours`): one step
per trading second, flat outside regular hours, with an overnight jump at each open. The path passes
through the instrument's reference price at ``ANCHOR``. Same seed + same clock readings ⇒ the same
quotes, whatever was asked before.

The market moves a step a second, all instruments at once, and each step is asked about many
times (a frame per streamed instrument, every snapshot, each position's value): per instrument,
the current step's last price and quote and the current session's prior close, open and running
high and low are kept, one of each, and replaced as the market moves on.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from ibtui.sim.hours import GAP, VENUES, Session, Venue
from ibtui.sim.universe import Instrument, Universe
from ibtui.sim.walk import SPAN, Walk, mix64, unit

__all__ = ["ANCHOR", "DayStats", "Market", "Quote", "Tick"]

ANCHOR = datetime(2024, 11, 4, 20, 0, tzinfo=UTC).timestamp()  # reference prices hold here
_DAY_STRIDE = 16  # trading seconds between samples for day high/low
_CACHE = 16_384  # sessions whose running high and low are kept (more than 5,000 positions)
_FEW = 8  # new day samples read node by node (more: along the grid, which shares their ancestors)


@dataclass(frozen=True)
class Tick:
    """Top of book at one trading-time step."""

    step: int
    last: Decimal
    bid: Decimal
    ask: Decimal
    bid_size: int  # shares
    ask_size: int
    last_size: int


@dataclass(frozen=True)
class DayStats:
    session: Session
    open: Decimal
    high: Decimal
    low: Decimal
    prior_close: Decimal
    volume: int  # shares so far in the session


@dataclass(frozen=True)
class Quote:
    conid: int
    time: float  # clock time the quote describes
    tick: Tick
    day: DayStats
    in_rth: bool
    traded_today: bool  # a trade happened in the current local day's session
    halted: bool

    @property
    def last(self) -> Decimal:
        return self.tick.last

    @property
    def change(self) -> Decimal:
        return self.tick.last - self.day.prior_close


_ONE = Decimal(1)


def to_tick(price: float, tick: Decimal) -> Decimal:
    return (Decimal(repr(price)) / tick).quantize(_ONE, rounding=ROUND_HALF_UP) * tick


class Market:
    def __init__(self, universe: Universe, seed: int) -> None:
        self.universe = universe
        self.seed = seed
        self.halted: set[int] = set()
        self._walks: dict[int, tuple[Walk, float, float]] = {}
        self._days: OrderedDict[tuple[int, int], tuple[int, float, float]] = OrderedDict()
        self._prices: dict[tuple[int, int], float] = {}
        # Per conid, the latest of each: (step, last), (session index, prior close, open, the
        # day's volume), (step, session index, tick, high, low).
        self._lasts: dict[int, tuple[int, Decimal]] = {}
        self._sessions: dict[int, tuple[int, Decimal, Decimal, float]] = {}
        self._quotes: dict[int, tuple[int, int, Tick, Decimal, Decimal]] = {}
        # Per conid: (session index, sample, the day's highest and lowest samples on the tick).
        self._extremes: dict[int, tuple[int, int, Decimal, Decimal]] = {}

    # -- the path ---------------------------------------------------------------------------
    def venue(self, inst: Instrument) -> Venue:
        return VENUES[inst.venue]

    def _walk(self, inst: Instrument) -> tuple[Walk, float, float]:
        """(walk, sigma per trading second, walk value at the anchor)."""
        got = self._walks.get(inst.conid)
        if got is None:
            walk = Walk(mix64(self.seed * 1_000_003 + inst.conid))
            venue = self.venue(inst)
            sigma = inst.daily_vol / math.sqrt(venue.day_span)
            got = (walk, sigma, walk.at(int(venue.trading_time(ANCHOR))))
            self._walks[inst.conid] = got
        return got

    def price_at_step(self, inst: Instrument, step: int) -> float:
        key = (inst.conid, step)
        price = self._prices.get(key)
        if price is None:
            walk, sigma, b0 = self._walk(inst)
            price = float(inst.price) * math.exp(sigma * (walk.at(step) - b0))
            if len(self._prices) > 200_000:
                self._prices.clear()
            self._prices[key] = price
        return price

    def path(self, inst: Instrument, a: int, b: int, stride: int) -> list[tuple[int, float]]:
        """``(step, price)`` at the multiples of ``stride`` in trading-time steps ``[a, b]``."""
        walk, sigma, b0 = self._walk(inst)
        p0 = float(inst.price)
        return [(k, p0 * math.exp(sigma * (v - b0))) for k, v in walk.grid(a, b, stride)]

    def step_at(self, inst: Instrument, t: float) -> int:
        return int(self.venue(inst).trading_time(t))

    # -- quotes -----------------------------------------------------------------------------
    def _last_at_step(self, inst: Instrument, step: int) -> Decimal:
        got = self._lasts.get(inst.conid)
        if got is not None and got[0] == step:
            return got[1]
        last = to_tick(self.price_at_step(inst, step), inst.tick)
        self._lasts[inst.conid] = (step, last)
        return last

    def tick_at_step(self, inst: Instrument, step: int, price: float | None = None) -> Tick:
        last = self._last_at_step(inst, step) if price is None else to_tick(price, inst.tick)
        h = mix64((self.seed << 40) ^ (inst.conid << 8) ^ step)
        spread = 1 + (h % (2 if last < 100 else 4))
        below = (h >> 8) % (spread + 1)
        tick = inst.tick
        bid = max(tick, last - below * tick)
        ask = bid + spread * tick
        return Tick(
            step=step,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=100 * (1 + (h >> 16) % 30),
            ask_size=100 * (1 + (h >> 24) % 30),
            last_size=100 * (1 + (h >> 32) % 5),
        )

    def tick(self, conid: int, t: float) -> Tick:
        inst = self._inst(conid)
        return self.tick_at_step(inst, self.step_at(inst, t))

    def last(self, conid: int, t: float) -> Decimal:
        inst = self._inst(conid)
        return self._last_at_step(inst, self.step_at(inst, t))

    def quote(self, conid: int, t: float) -> Quote:
        inst = self._inst(conid)
        venue = self.venue(inst)
        session = venue.last_opened(t)
        step = self.step_at(inst, t)
        got = self._quotes.get(conid)
        if got is not None and got[0] == step and got[1] == session.index:
            _, _, tick, high, low = got
            prior_close, open_, day_volume = self._session_facts(inst, session)
        else:
            tick = self.tick_at_step(inst, step)
            high, low, prior_close, open_, day_volume = self._day(inst, session, step, tick.last)
            self._quotes[conid] = (step, session.index, tick, high, low)
        elapsed = min(max(t - session.open, 0.0), session.length) / session.length
        volume = int(day_volume * intraday_share(elapsed))
        day = DayStats(session, open_, high, low, prior_close, volume)
        return Quote(
            conid=conid,
            time=t,
            tick=tick,
            day=day,
            in_rth=session.open <= t < session.close,  # venue.in_rth(t)
            traded_today=session.day == venue.local_date(t),
            halted=conid in self.halted,
        )

    def prior_close(self, inst: Instrument, t: float) -> Decimal:
        """Close of the session before the latest one that has opened at ``t``."""
        return self._session_facts(inst, self.venue(inst).last_opened(t))[0]

    def _session_facts(self, inst: Instrument, session: Session) -> tuple[Decimal, Decimal, float]:
        """The session's prior close, its open and its whole day's volume (shares)."""
        got = self._sessions.get(inst.conid)
        if got is None or got[0] != session.index:
            start = session.index * self.venue(inst).day_span
            prior_close = to_tick(self.price_at_step(inst, start), inst.tick)
            open_ = to_tick(self.price_at_step(inst, start + GAP), inst.tick)
            got = (session.index, prior_close, open_, self.day_volume(inst, session.day))
            self._sessions[inst.conid] = got
        return got[1], got[2], got[3]

    def _day(
        self, inst: Instrument, session: Session, step: int, last: Decimal
    ) -> tuple[Decimal, Decimal, Decimal, Decimal, float]:
        """The day's high and low at ``step`` of ``session`` (``last``: the price then), with
        :meth:`_session_facts`."""
        prior_close, open_, day_volume = self._session_facts(inst, session)
        span = self.venue(inst).day_span
        start = session.index * span
        now_step = min(step, start + span)
        i = max(0, (now_step - start - GAP) // _DAY_STRIDE)
        got = self._extremes.get(inst.conid)
        if got is None or got[0] != session.index or got[1] != i:
            highest, lowest = self._day_extremes(inst, session.index, i)
            got = (session.index, i, to_tick(highest, inst.tick), to_tick(lowest, inst.tick))
            self._extremes[inst.conid] = got
        high = max(got[2], open_, last)
        low = min(got[3], open_, last)
        return high, low, prior_close, open_, day_volume

    def day_stats(self, inst: Instrument, t: float, last: Decimal) -> DayStats:
        session = self.venue(inst).last_opened(t)
        high, low, prior_close, open_, _ = self._day(inst, session, self.step_at(inst, t), last)
        elapsed = min(max(t - session.open, 0.0), session.length) / session.length
        return DayStats(session, open_, high, low, prior_close, self.volume(inst, session, elapsed))

    def _day_extremes(self, inst: Instrument, index: int, i: int) -> tuple[float, float]:
        """Max and min of the session's path over its first ``i + 1`` samples (one every
        ``_DAY_STRIDE`` steps; ``i`` is capped at the session's last sample). Kept per session
        and extended as the session goes on: a quote costs the samples since the last one, not
        the whole day's (a book of thousands of positions outgrows any cache of whole days)."""
        span = self.venue(inst).day_span
        a, b = max(index * span + GAP, 1), min((index + 1) * span, SPAN - 1)
        first = -(-a // _DAY_STRIDE) * _DAY_STRIDE  # the session's first sample
        upto = first + max(0, min(i, (b - first) // _DAY_STRIDE)) * _DAY_STRIDE
        key = (inst.conid, index)
        done, high, low = self._days.get(key) or (first - 1, -math.inf, math.inf)
        if done > upto:  # asked about an earlier moment: from the session's start
            done, high, low = first - 1, -math.inf, math.inf
        if upto - done <= _FEW * _DAY_STRIDE:  # the samples since the last quote, one by one
            walk, sigma, b0 = self._walk(inst)
            p0 = float(inst.price)
            from_ = max(-(-(done + 1) // _DAY_STRIDE) * _DAY_STRIDE, 1)
            for k in range(from_, min(upto, SPAN - 1) + 1, _DAY_STRIDE):
                price = p0 * math.exp(sigma * (walk.node(k) - b0))  # as path() has it
                high, low = max(high, price), min(low, price)
        else:
            for _, price in self.path(inst, done + 1, upto, _DAY_STRIDE):
                high, low = max(high, price), min(low, price)
        self._days[key] = (max(done, upto), high, low)
        self._days.move_to_end(key)
        if len(self._days) > _CACHE:
            self._days.popitem(last=False)
        return high, low

    def volume(self, inst: Instrument, session: Session, fraction: float) -> int:
        """Shares traded in ``session`` once ``fraction`` of it has elapsed (U-shaped intraday)."""
        return int(self.day_volume(inst, session.day) * intraday_share(fraction))

    def day_volume(self, inst: Instrument, day: date) -> float:
        u = unit(mix64(self.seed * 7919 + inst.conid), day.toordinal())
        return inst.adv * math.exp(0.3 * (2 * u - 1) * math.sqrt(3))

    def _inst(self, conid: int) -> Instrument:
        inst = self.universe.get(conid)
        if inst is None:
            raise KeyError(conid)
        return inst


def intraday_share(x: float) -> float:
    """Cumulative share of the day's volume after fraction ``x`` (more at the open and close)."""
    x = min(max(x, 0.0), 1.0)
    return x + 0.6 / (2 * math.pi) * math.sin(2 * math.pi * x)
