"""When does a working order trade? Scans the market path between two instants.

Orders are checked against every trading-time step (one per second of regular hours); the
virtual overnight steps between a close and the next open are skipped, so a resting order that the
opening jump crosses trades at the opening quote. Ranges longer than ``MAX_POINTS`` steps are
sampled more coarsely.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ibtui.sim.hours import GAP
from ibtui.sim.market import Market, Tick

if TYPE_CHECKING:  # orders exist only once one was placed (see routes_orders)
    from ibtui.sim.orders import Order, Ticket

__all__ = ["MarketEvent", "PathCache", "fill_price", "scan", "triggered"]

MAX_POINTS = 100_000
_SLACK = 0.011  # float pre-filter margin around a price level


@dataclass(frozen=True)
class MarketEvent:
    time: float  # clock time of the step
    step: int
    kind: str  # "fill" | "trigger"
    price: Decimal | None  # fill price
    tick: Tick


class PathCache:
    """Price paths computed once per advance, shared by the orders of one instrument."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self._paths: dict[tuple[int, int, int], list[tuple[int, float]]] = {}

    def get(self, order: Order, a: int, b: int) -> list[tuple[int, float]]:
        inst = order.instrument
        key = (inst.conid, a, b)
        got = self._paths.get(key)
        if got is None:
            stride = 1
            while (b - a) // stride > MAX_POINTS:
                stride *= 2
            got = self.market.path(inst, a + 1, b, stride)
            self._paths[key] = got
        return got


def triggered(t: Ticket, last: Decimal) -> bool:
    assert t.aux_price is not None
    return last >= t.aux_price if t.side == "BUY" else last <= t.aux_price


def fill_price(t: Ticket, tick: Tick, *, as_market: bool) -> Decimal | None:
    """The price a (triggered) order trades at against ``tick``, or None if not marketable."""
    touch = tick.ask if t.side == "BUY" else tick.bid
    if as_market or t.order_type in ("MKT", "STP"):
        return touch
    assert t.price is not None
    if t.side == "BUY":
        return touch if touch <= t.price else None
    return touch if touch >= t.price else None


def _could_act(order: Order, p: float) -> bool:
    """Cheap float test: can the step at price ``p`` possibly trigger or fill the order?"""
    t = order.ticket
    buy = t.side == "BUY"
    if t.order_type in ("STP", "STOP_LIMIT") and not order.triggered:
        assert t.aux_price is not None
        level = float(t.aux_price)
        return p >= level - _SLACK if buy else p <= level + _SLACK
    if t.order_type in ("MKT", "STP"):
        return True
    assert t.price is not None
    level = float(t.price)
    return p <= level + _SLACK if buy else p >= level - _SLACK


def scan(order: Order, cache: PathCache, t_from: float, t_to: float) -> MarketEvent | None:
    """The first step in ``(t_from, t_to]`` at which the order triggers or fills."""
    market = cache.market
    inst = order.instrument
    venue = market.venue(inst)
    a = int(venue.trading_time(t_from))
    b = int(venue.trading_time(t_to))
    if b <= a:
        return None
    span = venue.day_span
    t = order.ticket
    for step, p in cache.get(order, a, b):
        if 0 < step % span < GAP or not _could_act(order, p):
            continue
        tick = market.tick_at_step(inst, step, p)
        when = max(venue.clock_time(step), t_from)
        if t.order_type in ("STP", "STOP_LIMIT") and not order.triggered:
            if not triggered(t, tick.last):
                continue
            price = fill_price(t, tick, as_market=t.order_type == "STP")
            kind = "fill" if price is not None else "trigger"
            return MarketEvent(when, step, kind, price, tick)
        price = fill_price(t, tick, as_market=False)
        if price is not None:
            return MarketEvent(when, step, "fill", price, tick)
    return None
