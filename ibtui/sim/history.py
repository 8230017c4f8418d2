"""Historical bars (``/iserver/marketdata/history``) from the same path as live quotes.

Intraday bars are aligned on each session's open and cover regular hours only; a period in
``min``/``h`` counts regular-hours time backwards from the end, one in ``d``/``w``/``m``/``y``
counts sessions (1 / 5 / 21 / 252 per unit). With ``startTime`` the period extends forward from
it (never past now). At most 1,000 bars: the latest ones are kept. The market does not move outside
regular hours, so ``outsideRth=true`` is echoed but gives the same (regular-hours) bars.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ibtui.sim.hours import GAP, Session, Venue
from ibtui.sim.market import Market, intraday_share
from ibtui.sim.universe import Instrument
from ibtui.sim.walk import mix64, unit

__all__ = ["BARS", "Bar", "HistoryError", "Spec", "bars", "parse_spec"]

MAX_BARS = 1000
BARS = {
    "1min": 60, "2min": 120, "3min": 180, "5min": 300, "10min": 600, "15min": 900,
    "30min": 1800, "1h": 3600, "2h": 7200, "3h": 10800, "4h": 14400, "8h": 28800,
    "1d": 86400, "1w": 604800, "1m": 2592000,
}  # fmt: skip
_PERIOD = re.compile(r"^(\d+)(min|h|d|w|m|y)$")
_PERIOD_RANGE = {"min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}
_PERIOD_MIN = {"min": 1, "h": 60, "d": 1440, "w": 10080, "m": 43200, "y": 525600}
_SESSIONS = {"d": 1, "w": 5, "m": 21, "y": 252}
# Step-size table (API.md §6.1): column (period, in minutes) → (min bar, max bar, default bar).
_TABLE = (
    (1, "1min", "1min", "1min"),
    (60, "1min", "8h", "1min"),
    (1440, "1min", "8h", "1min"),
    (10080, "10min", "1w", "15min"),
    (43200, "1h", "1m", "30min"),
    (129600, "2h", "1m", "1d"),
    (259200, "4h", "1m", "1d"),
    (525600, "8h", "1m", "1d"),
    (1051200, "1d", "1m", "1d"),
    (1576800, "1d", "1m", "1w"),
    (7884000, "1w", "1m", "1w"),
)


class HistoryError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Spec:
    period: str
    count: int
    unit: str
    bar: str

    @property
    def bar_seconds(self) -> int:
        return BARS[self.bar]


@dataclass(frozen=True)
class Bar:
    t: float  # epoch seconds, bar start
    o: float
    h: float
    lo: float
    c: float
    v: float  # hundreds of shares


def parse_spec(period: str | None, bar: str | None) -> Spec:
    period = period or "1w"
    m = _PERIOD.match(period)
    if m is None:
        raise HistoryError(f"Bad Request: invalid period {period!r}")
    n, unit_ = int(m.group(1)), m.group(2)
    if not 1 <= n <= _PERIOD_RANGE[unit_]:
        raise HistoryError(f"Bad Request: period {period!r} out of range")
    minutes = n * _PERIOD_MIN[unit_]
    column = next(c for c in _TABLE if minutes <= c[0])
    lo, hi, default = column[1], column[2], column[3]
    # ⚠ single report: an unknown bar (e.g. upper case "5MIN") is replaced by the default.
    chosen = bar if bar in BARS else default
    if not BARS[lo] <= BARS[chosen] <= BARS[hi]:
        raise HistoryError(
            f"Bad Request: bar {chosen} is not allowed for period {period} ({lo}-{hi})"
        )
    return Spec(period, n, unit_, chosen)


def _rth(venue: Venue, t: float) -> float:
    """Regular-hours seconds since the origin at clock time ``t``."""
    s = venue.last_opened(t)
    return s.index * venue.session_seconds + min(t - s.open, s.length)


def _session_bounds(
    venue: Venue, spec: Spec, start: float | None, now: float
) -> tuple[float, float]:
    """The window [a, b] in regular-hours seconds."""
    length = venue.session_seconds
    if spec.unit in ("min", "h"):
        span = spec.count * _PERIOD_MIN[spec.unit] * 60
        if start is None:
            b = _rth(venue, now)
            return b - span, b
        a = _rth(venue, start)
        return a, min(a + span, _rth(venue, now))
    sessions = spec.count * _SESSIONS[spec.unit]
    if start is None:
        b = _rth(venue, now)
        last = math.ceil(b / length) - 1
        return (last - sessions + 1) * length, b
    a = _rth(venue, start)
    return a, min(a + sessions * length, _rth(venue, now))


def bars(
    market: Market, inst: Instrument, spec: Spec, start: float | None, now: float
) -> list[Bar]:
    venue = market.venue(inst)
    a, b = _session_bounds(venue, spec, start, now)
    if b <= a:
        return []
    if spec.bar_seconds >= 86400:
        out = _daily(market, inst, venue, a, b, now)
        if spec.bar != "1d":
            out = _group(out, spec.bar, venue)
    else:
        out = _intraday_bars(market, inst, venue, spec.bar_seconds, a, b)
    return out[-MAX_BARS:]


Extremes = Callable[[int, int, float, float], tuple[float, float]]


def _sampler(market: Market, inst: Instrument, tt_a: int, tt_b: int, per_bar: int) -> Extremes:
    """Max/min of the path between two steps, from samples at a stride fitting the bar size."""
    stride = 1
    while stride * 2 <= max(1, per_bar // 16) or (tt_b - tt_a) // stride > 100_000:
        stride *= 2
    pts = market.path(inst, tt_a, tt_b, stride)
    keys = [k for k, _ in pts]

    def extremes(x: int, y: int, o: float, c: float) -> tuple[float, float]:
        i, j = bisect.bisect_left(keys, x), bisect.bisect_right(keys, y)
        window = [p for _, p in pts[i:j]]
        return max([o, c, *window]), min([o, c, *window])

    return extremes


def _mk(t: float, o: float, h: float, lo: float, c: float, v: float) -> Bar:
    o, c = round(o, 2), round(c, 2)
    return Bar(t, o, max(round(h, 2), o, c), min(round(lo, 2), o, c), c, round(v / 100, 2))


def _intraday_bars(
    market: Market, inst: Instrument, venue: Venue, bar: int, a: float, b: float
) -> list[Bar]:
    length = venue.session_seconds
    span = venue.day_span
    first, last = int(a // length), math.ceil(b / length) - 1
    extremes = _sampler(market, inst, first * span, (last + 1) * span, bar)
    noise_key = mix64(market.seed * 31 + inst.conid)
    out: list[Bar] = []
    for idx in range(first, last + 1):
        session = venue.session(idx)
        day_v = market.day_volume(inst, session.day)
        for off in range(0, length, bar):
            r0 = idx * length + off
            if r0 < a or r0 >= b:
                continue
            end = min(off + bar, length, b - idx * length)
            t0, t1 = idx * span + GAP + off, idx * span + GAP + int(end)
            o, c = market.price_at_step(inst, t0), market.price_at_step(inst, t1)
            h, lo = extremes(t0, t1, o, c)
            share = intraday_share(end / length) - intraday_share(off / length)
            v = day_v * share * math.exp(0.25 * (2 * unit(noise_key, t0) - 1) * math.sqrt(3))
            out.append(_mk(session.open + off, o, h, lo, c, v))
    return out


def _daily(
    market: Market, inst: Instrument, venue: Venue, a: float, b: float, now: float
) -> list[Bar]:
    length = venue.session_seconds
    span = venue.day_span
    first, last = int(a // length), math.ceil(b / length) - 1
    extremes = _sampler(market, inst, first * span, (last + 1) * span, length)
    out: list[Bar] = []
    for idx in range(first, last + 1):
        session: Session = venue.session(idx)
        done = min(length, b - idx * length)
        t0, t1 = idx * span + GAP, idx * span + GAP + int(done)
        o, c = market.price_at_step(inst, t0), market.price_at_step(inst, t1)
        h, lo = extremes(t0, t1, o, c)
        v = market.volume(inst, session, done / length)
        out.append(_mk(session.open, o, h, lo, c, v))
    return out


def _group(daily: list[Bar], bar: str, venue: Venue) -> list[Bar]:
    groups: dict[tuple[int, int], list[Bar]] = {}
    for d in daily:
        day = datetime.fromtimestamp(d.t, venue.tz).date()
        key = (day.isocalendar()[0], day.isocalendar()[1]) if bar == "1w" else (day.year, day.month)
        groups.setdefault(key, []).append(d)
    out = []
    for items in groups.values():
        out.append(
            Bar(
                items[0].t,
                items[0].o,
                max(x.h for x in items),
                min(x.lo for x in items),
                items[-1].c,
                round(sum(x.v for x in items), 2),
            )
        )
    return out


def fmt_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d-%H:%M:%S")
