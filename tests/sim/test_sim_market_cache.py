"""The market's kept answers (resumed walk descents, per-step quotes, per-session facts, running
day extremes, venue calendar answers, formatted fields, indexed fills) equal the computation from
scratch, value for value: checked against reference copies of the uncached code over a day that
goes through the open, the close, a day boundary, a weekend, a halt and a fill, asked in order,
out of order and again."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ibtui.sim import ManualClock, SimConfig, Simulator
from ibtui.sim.hours import GAP, VENUES, Session, Venue
from ibtui.sim.market import ANCHOR, DayStats, Market, Quote, Tick, intraday_share, to_tick
from ibtui.sim.portfolio import cents
from ibtui.sim.universe import Instrument
from ibtui.sim.valuation import Fill, PositionValue, value_account
from ibtui.sim.views_market import fmt_volume, snapshot_values
from ibtui.sim.walk import _GOLDEN, _HALF_SQRT, _M, _SQRT3, LEVELS, SPAN, Walk

from .conftest import START, HeaderAuthenticator

STRIDE = 16  # the market's day-extremes sampling


# -- reference copies of the uncached computations ----------------------------------------------


def reference_at(walk: Walk, k: int) -> float:
    """Walk.at from the root every time."""
    if k <= 0:
        return 0.0
    if k >= SPAN:
        return walk._top
    key, m, golden, half = walk._key, _M, _GOLDEN, _HALF_SQRT
    scale = _SQRT3 * 2.0 / (1 << 53)
    lo, hi, vlo, vhi, level = 0, SPAN, 0.0, walk._top, LEVELS
    while True:
        mid = (lo + hi) >> 1
        x = ((key ^ ((mid * golden) & m)) + golden) & m
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
        z = ((x ^ (x >> 31)) >> 11) * scale - _SQRT3
        vmid = (vlo + vhi) / 2.0 + half[level] * z
        level -= 1
        if k == mid:
            return vmid
        if k < mid:
            hi, vhi = mid, vmid
        else:
            lo, vlo = mid, vmid


def reference_last_opened(venue: Venue, t: float) -> Session:
    d = datetime.fromtimestamp(t, venue.tz).date()
    weeks, rem = divmod((d - date(1990, 1, 1)).days, 7)
    i = weeks * 5 + min(rem, 5)
    if d.weekday() >= 5:
        return venue._make_session(i - 1)
    s = venue._make_session(i)
    return s if t >= s.open else venue._make_session(i - 1)


class Reference:
    """The market's answers computed from the walk and the calendar alone, as before any cache."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.universe = market.universe
        self._walks: dict[int, tuple[Walk, float, float]] = {}

    def walk(self, inst: Instrument) -> tuple[Walk, float, float]:
        got = self._walks.get(inst.conid)
        if got is None:  # read with reference_at() and grid() only: nothing kept between reads
            walk = Walk(_mix64(self.market.seed * 1_000_003 + inst.conid))
            sigma = inst.daily_vol / math.sqrt(VENUES[inst.venue].day_span)
            got = (walk, sigma, reference_at(walk, self.step(inst, ANCHOR)))
            self._walks[inst.conid] = got
        return got

    def step(self, inst: Instrument, t: float) -> int:
        venue = VENUES[inst.venue]
        s = reference_last_opened(venue, t)
        base = s.index * venue.day_span
        return int(base + venue.day_span if t >= s.close else base + GAP + (t - s.open))

    def price(self, inst: Instrument, step: int) -> float:
        walk, sigma, b0 = self.walk(inst)
        return float(inst.price) * math.exp(sigma * (reference_at(walk, step) - b0))

    def tick(self, inst: Instrument, step: int) -> Tick:
        last = to_tick(self.price(inst, step), inst.tick)
        h = _mix64((self.market.seed << 40) ^ (inst.conid << 8) ^ step)
        spread = 1 + (h % (2 if last < 100 else 4))
        below = (h >> 8) % (spread + 1)
        bid = max(inst.tick, last - below * inst.tick)
        ask = bid + spread * inst.tick
        return Tick(
            step=step,
            last=last,
            bid=bid,
            ask=ask,
            bid_size=100 * (1 + (h >> 16) % 30),
            ask_size=100 * (1 + (h >> 24) % 30),
            last_size=100 * (1 + (h >> 32) % 5),
        )

    def last(self, conid: int, t: float) -> Decimal:
        inst = self._inst(conid)
        return to_tick(self.price(inst, self.step(inst, t)), inst.tick)

    def prior_close(self, inst: Instrument, t: float) -> Decimal:
        venue = VENUES[inst.venue]
        start = reference_last_opened(venue, t).index * venue.day_span
        return to_tick(self.price(inst, start), inst.tick)

    def quote(self, conid: int, t: float) -> Quote:
        inst = self._inst(conid)
        venue = VENUES[inst.venue]
        tick = self.tick(inst, self.step(inst, t))
        session = reference_last_opened(venue, t)
        span = venue.day_span
        start = session.index * span
        prior_close = to_tick(self.price(inst, start), inst.tick)
        open_ = to_tick(self.price(inst, start + GAP), inst.tick)
        now_step = min(self.step(inst, t), start + span)
        i = max(0, (now_step - start - GAP) // STRIDE)
        a, b = max(start + GAP, 1), min(start + span, SPAN - 1)
        first = -(-a // STRIDE) * STRIDE
        upto = first + max(0, min(i, (b - first) // STRIDE)) * STRIDE
        walk, sigma, b0 = self.walk(inst)
        p0 = float(inst.price)
        path = [p0 * math.exp(sigma * (v - b0)) for _, v in walk.grid(first, upto, STRIDE)]
        high = max(to_tick(max(path), inst.tick), open_, tick.last)
        low = min(to_tick(min(path), inst.tick), open_, tick.last)
        elapsed = min(max(t - session.open, 0.0), session.length) / session.length
        u = _unit(_mix64(self.market.seed * 7919 + inst.conid), session.day.toordinal())
        day_volume = inst.adv * math.exp(0.3 * (2 * u - 1) * math.sqrt(3))
        volume = int(day_volume * intraday_share(elapsed))
        return Quote(
            conid=conid,
            time=t,
            tick=tick,
            day=DayStats(session, open_, high, low, prior_close, volume),
            in_rth=session.open <= t < session.close,
            traded_today=session.day == datetime.fromtimestamp(t, venue.tz).date(),
            halted=conid in self.market.halted,
        )

    def venue(self, inst: Instrument) -> Any:
        class _Venue:
            def last_opened(self, t: float) -> Session:
                return reference_last_opened(VENUES[inst.venue], t)

        return _Venue()

    def _inst(self, conid: int) -> Instrument:
        inst = self.universe.get(conid)
        assert inst is not None
        return inst


def _mix64(x: int) -> int:
    x = (x + _GOLDEN) & _M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M
    return x ^ (x >> 31)


def _unit(key: int, n: int) -> float:
    return (_mix64(key ^ ((n * _GOLDEN) & _M)) >> 11) * (1.0 / (1 << 53))


def reference_fills(sim: Simulator, account_id: str) -> list[Fill]:
    return [
        Fill(e.account_id, e.instrument.conid, e.signed, e.price, e.commission, e.time)
        for e in sim.broker.executions
        if e.account_id == account_id
    ]


def reference_position_value(
    sim: Simulator, ref: Reference, account_id: str, conid: int, t: float
) -> PositionValue | None:
    account = sim.broker.accounts[account_id]
    pos = account.positions.get(conid)
    inst = sim.universe.get(conid)
    if pos is None or inst is None:
        return None
    opened = reference_last_opened(VENUES[inst.venue], t).open
    today = [f for f in reference_fills(sim, account_id) if f.conid == conid and f.time >= opened]
    if pos.quantity == 0 and not today:
        return None
    fx = sim.config.fx_usd_per_unit
    rate = fx[pos.currency] / fx[account.base_currency]
    mark = ref.last(conid, t)
    exact = pos.quantity * mark
    prior_close = ref.prior_close(inst, t)
    daily = pos.quantity * (mark - prior_close)
    for f in today:
        daily += f.signed_qty * (prior_close - f.price) - f.commission
    unrealized = cents(exact - pos.quantity * pos.avg_cost)
    return PositionValue(pos, inst, mark, cents(exact), unrealized, rate, daily)


def reference_snapshot_values(
    inst: Instrument, q: Quote, availability: str, server_id: str, position: PositionValue | None
) -> dict[str, str]:
    from ibtui.sim.orders import fmt_qty

    prefix = "H" if q.halted else ("" if q.in_rth else "C")
    t, d = q.tick, q.day
    change = t.last - d.prior_close
    pct = change / d.prior_close * 100 if d.prior_close else Decimal(0)
    values = {
        "31": f"{prefix}{t.last:.2f}",
        "55": inst.symbol,
        "70": f"{d.high:.2f}",
        "71": f"{d.low:.2f}",
        "82": f"{change:.2f}",
        "83": f"{pct:.2f}",
        "84": f"{t.bid:.2f}",
        "85": f"{t.ask_size // 100:,}",
        "86": f"{t.ask:.2f}",
        "88": f"{t.bid_size // 100:,}",
        "87": fmt_volume(d.volume),
        "7762": str(d.volume),
        "7059": str(t.last_size),
        "7295": f"{d.open:.2f}",
        "7296": f"{t.last:.2f}",
        "7741": f"{d.prior_close:.2f}",
        "7635": f"{t.last:.2f}",
        "6509": availability,
        "6119": server_id,
        "6008": str(inst.conid),
        "6070": inst.asset_class,
        "6004": inst.exchange,
        "7221": inst.listing_exchange,
        "7051": inst.name,
        "7184": "0" if q.halted else "1",
        "7768": "1",
        "7282": fmt_volume(inst.adv),
    }
    if position is not None:
        pos = position.position
        cost = pos.quantity * pos.avg_cost
        values.update(
            {
                "73": f"{position.market_value:.2f}",
                "74": f"{pos.avg_cost:.2f}",
                "75": f"{position.unrealized:.2f}",
                "76": fmt_qty(pos.quantity),
                "77": f"{position.unrealized:,.2f}",
                "78": f"{position.daily:.2f}",
                "79": f"{pos.realized:.2f}",
                "80": f"{position.unrealized / abs(cost) * 100:.2f}" if cost else "0.00",
                "7920": f"{position.daily:.2f}",
                "7921": f"{abs(cost):.2f}",
                "7292": f"{abs(cost):.2f}",
            }
        )
    return values


# -- the walk and the calendar -------------------------------------------------------------------


def test_resumed_walk_descents_equal_descents_from_the_root() -> None:
    rng = random.Random(11)
    for _ in range(60):
        walk = Walk(rng.randrange(1 << 62))
        k = rng.randrange(1, SPAN)
        for _ in range(200):
            roll = rng.random()
            if roll < 0.6:
                k += 1  # the market's next step
            elif roll < 0.75:
                k += rng.randrange(-40, 40)
            elif roll < 0.9:
                k = rng.randrange(-3, SPAN + 3)
            else:
                k = rng.choice([0, 1, 2, SPAN // 2, SPAN - 2, SPAN - 1, SPAN])
            assert walk.at(k) == reference_at(walk, k), k
            if 0 < k < SPAN:
                node = k - k % STRIDE or STRIDE
                assert walk.node(node) == walk.grid(node, node, STRIDE)[0][1], node


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, (1 << 62) - 1),
    st.lists(st.one_of(st.integers(-2, 40), st.integers(1, SPAN - 1)), min_size=1, max_size=40),
)
def test_any_order_of_walk_reads_gives_the_same_values(key: int, moves: list[int]) -> None:
    walk = Walk(key)
    k = 1 << 31
    for move in moves:
        k = min(max(k + move, 1), SPAN - 1) if move <= 40 else move
        assert walk.at(k) == reference_at(walk, k)
        assert walk.node(k) == walk.grid(k, k, 1)[0][1]


def _calendar_times() -> list[float]:
    """Around the opens, closes and local midnights of weeks with a DST change (US and EU)."""
    times: list[float] = []
    for first in (date(2024, 10, 24), date(2024, 10, 31), date(2024, 3, 7), date(2025, 3, 27)):
        for n in range(7):
            d = first + timedelta(days=n)
            for venue in VENUES.values():
                for moment in (
                    datetime.combine(d, venue.open_time, venue.tz),
                    datetime.combine(d, venue.close_time, venue.tz),
                    datetime.combine(d, datetime.min.time(), venue.tz),
                ):
                    t = moment.timestamp()
                    times += [t - 1e-6, t, t + 1e-6, t + 0.5, t - 0.5]
            midnight = datetime.combine(d, datetime.min.time(), UTC).timestamp()
            times += [midnight + h * 1800.25 for h in range(48)]
    return times


def test_venue_calendar_answers_kept_equal_fresh_ones() -> None:
    times = _calendar_times()
    for order in (sorted(times), times, random.Random(3).sample(times, len(times))):
        for venue in VENUES.values():
            for t in order:
                assert venue.last_opened(t) == reference_last_opened(venue, t), (venue.name, t)
                assert venue.local_date(t) == datetime.fromtimestamp(t, venue.tz).date()


# -- quotes, positions, snapshot fields and valuations --------------------------------------------


def _sim() -> Simulator:
    config = SimConfig(seed=5, clock=ManualClock(START), portfolio_size=12, pacing_enabled=False)
    return Simulator(config, authenticator=HeaderAuthenticator())


def _day_times() -> list[float]:
    """Monday 2024-11-04 (New York) and the next days: before the open, the open, consecutive
    seconds, the day-sample boundaries, jumps, the close, the evening, the next open, a weekend."""
    us = VENUES["US"]
    monday = us.session(us.last_opened(START.timestamp()).index)
    tuesday = us.session(monday.index + 1)
    friday = us.session(monday.index + 4)
    o, c = monday.open, monday.close
    times = [o - 3600, o - 0.5, o, o + 0.25, o + 1]
    times += [o + 1800 + s + 0.001 for s in range(40)]  # a second at a time, over 2 samples
    times += [START.timestamp() + s for s in (0, 5, 17, 33, 600, 601, 3600, 7200, 20000)]
    times += [c - 1, c - 0.001, c, c + 0.3, c + 3600, tuesday.open - 1, tuesday.open]
    times += [tuesday.open + s for s in (1, 2, 3, 900)]
    times += [friday.close + 3600 * 30, friday.close + 3600 * 60]  # Saturday, Sunday
    # An earlier moment after a later one, then the later one again.
    times += [o + 1830.5, c - 1, o + 60, c + 1]
    return times


def _check(sim: Simulator, ref: Reference, conids: list[int], t: float) -> None:
    quotes = {}
    for conid in conids:
        inst = sim.universe.get(conid)
        assert inst is not None
        quotes[conid] = q = sim.market.quote(conid, t)
        expected = ref.quote(conid, t)
        assert repr(q) == repr(expected), (conid, t)
        assert repr(sim.market.last(conid, t)) == repr(expected.tick.last)
        assert repr(sim.market.prior_close(inst, t)) == repr(expected.day.prior_close)
    for account_id, account in sim.broker.accounts.items():
        for conid, q in quotes.items():
            inst = sim.universe.get(conid)
            assert inst is not None
            held = sim.broker.position_value(account_id, conid, t)
            assert repr(held) == repr(reference_position_value(sim, ref, account_id, conid, t))
            got = snapshot_values(inst, q, "RpB", "q7", held)
            want = reference_snapshot_values(inst, ref.quote(conid, t), "RpB", "q7", held)
            assert list(got.items()) == list(want.items()), (conid, t)
        value = sim.broker.valuation(account_id, t)
        fills = reference_fills(sim, account_id)
        fresh = value_account(account, ref, t, sim.config.fx_usd_per_unit, fills)  # type: ignore[arg-type]
        assert repr(replace(value, time=t)) == repr(fresh)


def test_kept_quotes_positions_fields_and_values_equal_fresh_ones_through_the_days() -> None:
    """Over two trading days, a weekend, asked in order and out of it; a halt comes and goes, and
    two fills during the day change a position, its realized and its day's P&L."""
    from ibtui.sim.orders import Ticket

    sim = _sim()
    ref = Reference(sim.market)
    paper, live = sim.broker.accounts.values()
    conids = list(dict.fromkeys([*paper.positions, *live.positions]))
    halted, filled = conids[1], conids[0]
    for n, t in enumerate(_day_times()):
        if n == 20:
            sim.market.halted.add(halted)
            assert sim.market.quote(halted, t).halted
        if n == 30:
            sim.market.halted.discard(halted)
        if n == 25:
            inst = sim.universe.get(filled)
            assert inst is not None
            price = sim.market.tick(filled, t).ask + 1
            ticket = Ticket(
                inst, "BUY", "LMT", Decimal(7), price, None, "DAY", False, None, None, False
            )
            sim.broker.place(paper.account_id, [ticket], t)
            assert len(sim.broker.executions) == 1  # it filled at once
        if n == 50:  # later that day, part of it sold: another fill, a realized P&L
            inst = sim.universe.get(filled)
            assert inst is not None
            price = sim.market.tick(filled, t).bid - 1
            ticket = Ticket(
                inst, "SELL", "LMT", Decimal(3), price, None, "DAY", False, None, None, False
            )
            sim.broker.place(paper.account_id, [ticket], t)
            assert len(sim.broker.executions) == 2
        _check(sim, ref, conids, t)
    assert not sim.market.quote(halted, t).halted


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-2 * 86400, 6 * 86400, allow_nan=False), min_size=1, max_size=5))
def test_any_order_of_quotes_gives_the_same_answers(offsets: list[float]) -> None:
    sim = SHARED
    ref = Reference(sim.market)
    conids = list(sim.broker.accounts["DU4820311"].positions)[:4]
    for offset in offsets:
        _check(sim, ref, conids, START.timestamp() + offset)


SHARED = _sim()  # asked by every example: what was asked before must not matter
