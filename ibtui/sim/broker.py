"""The broker: accounts, the order book, fills and executions, all driven by the clock.

Every request first calls :meth:`Broker.advance` with the current time; working orders are then
matched against the market path since the last call, earliest event first (fills, stop triggers,
cancellations after the cancel lag, DAY expiries).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ibtui.sim.config import SimConfig
from ibtui.sim.market import Market
from ibtui.sim.matching import MarketEvent, PathCache, fill_price, scan, triggered
from ibtui.sim.portfolio import Account, apply_fill, commission
from ibtui.sim.starting import starting_accounts
from ibtui.sim.valuation import (
    AccountValue,
    Fill,
    PositionValue,
    fills_today,
    value_account,
    value_position,
)

if TYPE_CHECKING:  # the order book's types: imported by the first order (see routes_orders)
    from ibtui.sim.orders import Execution, Order, Ticket

__all__ = ["Broker"]


class Broker:
    def __init__(self, config: SimConfig, market: Market, now: float) -> None:
        self.config = config
        self.market = market
        accounts = starting_accounts(market.universe, config.seed, config.portfolio_size)
        self.accounts: dict[str, Account] = {a.account_id: a for a in accounts}
        self.orders: dict[int, Order] = {}
        self.executions: list[Execution] = []
        self.version = 0
        self._next_id = config.order_id_start
        self._coids: dict[tuple[str, str], int] = {}
        self._advanced_to = now
        self._values: dict[str, tuple[tuple[float, int], AccountValue]] = {}
        # The fills by account and conid, as of the executions counted (a fill appends one).
        self._fill_index: tuple[int, dict[str, dict[int | None, list[Fill]]]] = (0, {})

    # -- queries ------------------------------------------------------------------------------
    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def valuation(self, account_id: str, now: float) -> AccountValue:
        """The account valued at ``now`` (prices move once per second: cached per second)."""
        key = (float(int(now)), self.version)
        got = self._values.get(account_id)
        if got is not None and got[0] == key:
            return got[1]
        fills = self._fills(account_id)
        value = value_account(
            self.accounts[account_id], self.market, now, self.config.fx_usd_per_unit, fills
        )
        self._values[account_id] = (key, value)
        return value

    def _fills(self, account_id: str, conid: int | None = None) -> list[Fill]:
        """The account's fills (of ``conid``), in execution order."""
        counted, index = self._fill_index
        if counted != len(self.executions):  # a fill since: index them again
            index = {}
            for e in self.executions:
                fill = Fill(
                    e.account_id, e.instrument.conid, e.signed, e.price, e.commission, e.time
                )
                index.setdefault(e.account_id, {}).setdefault(None, []).append(fill)
                index[e.account_id].setdefault(fill.conid, []).append(fill)
            self._fill_index = (len(self.executions), index)
        return list(index.get(account_id, {}).get(conid, ()))

    def position_value(self, account_id: str, conid: int, now: float) -> PositionValue | None:
        """One position valued at ``now`` (cheap, unlike a whole-account valuation); a position
        closed today is kept for the day's figures, as in the positions list."""
        account = self.accounts[account_id]
        pos = account.positions.get(conid)
        inst = self.market.universe.get(conid)
        if pos is None or inst is None:
            return None
        today = fills_today(self.market, inst, now, self._fills(account_id, conid))
        if pos.quantity == 0 and not today:
            return None
        fx = self.config.fx_usd_per_unit
        rate = fx[pos.currency] / fx[account.base_currency]
        return value_position(pos, inst, self.market, now, rate, today)

    def order_by_coid(self, account_id: str, coid: str) -> Order | None:
        oid = self._coids.get((account_id, coid))
        return self.orders.get(oid) if oid is not None else None

    # -- placing ------------------------------------------------------------------------------
    def check_new(self, account_id: str, tickets: list[Ticket]) -> None:
        """Raise TicketError for duplicate client order ids or unknown bracket parents."""
        from ibtui.sim.orders import TicketError

        in_request = set()
        for t in tickets:
            if t.coid is not None:
                if (account_id, t.coid) in self._coids or t.coid in in_request:
                    raise TicketError(
                        "Order couldn't be submitted: "
                        f"Local order ID={t.coid} is already registered."
                    )
                in_request.add(t.coid)
            if t.parent_coid is not None and t.parent_coid not in in_request:
                parent = self.order_by_coid(account_id, t.parent_coid)
                if parent is None or not parent.working:
                    raise TicketError(f"Parent order {t.parent_coid} not found")

    def place(self, account_id: str, tickets: list[Ticket], now: float) -> list[dict[str, Any]]:
        from ibtui.sim.orders import Order

        self.advance(now)
        self.check_new(account_id, tickets)
        placed: list[Order] = []
        group = None
        for t in tickets:
            order = Order(
                self._next_id, account_id, t, created=now, status="PreSubmitted", checked_until=now
            )
            self._next_id += 1
            order.last_change = now
            order.expires_at = self._expiry(t, now)
            if t.coid is not None:
                self._coids[(account_id, t.coid)] = order.order_id
            if t.parent_coid is not None:
                parent = self.order_by_coid(account_id, t.parent_coid)
                assert parent is not None
                order.parent_id = parent.order_id
                order.oca_group = f"bracket-{parent.order_id}"
                order.active = parent.status == "Filled"
                parent.children.append(order.order_id)
            elif t.single_group:
                group = group or f"oca-{order.order_id}"
                order.oca_group = group
            self.orders[order.order_id] = order
            placed.append(order)
            self._settle_status(order, now)
            if order.active:
                self._on_arrival(order, now)
        self.version += 1
        return [
            {"order_id": str(o.order_id), "order_status": o.status, "encrypt_message": "1"}
            for o in placed
        ]

    def modify(self, order: Order, ticket: Ticket, now: float) -> list[dict[str, Any]]:
        from ibtui.sim.orders import TicketError

        self.advance(now)
        if not order.working or order.status == "PendingCancel":
            raise TicketError(f"OrderID {order.order_id} doesn't exist")
        if ticket.instrument.conid != order.instrument.conid or ticket.side != order.ticket.side:
            raise TicketError("Cannot change the contract or side of an order")
        if ticket.quantity < order.filled:
            raise TicketError("Order quantity cannot be less than the filled quantity")
        keep_trigger = order.triggered and ticket.order_type == order.ticket.order_type
        if ticket.tif != order.ticket.tif:
            order.expires_at = self._expiry(ticket, now)
        order.ticket = replace(ticket, coid=order.ticket.coid, parent_coid=order.ticket.parent_coid)
        order.triggered = keep_trigger
        order.last_change = now
        order.checked_until = now
        if order.remaining == 0:
            order.status = "Filled"
        else:
            self._settle_status(order, now)
            if order.active:
                self._on_arrival(order, now)
        self.version += 1
        return [
            {"order_id": str(order.order_id), "order_status": order.status, "encrypt_message": "1"}
        ]

    def cancel(self, order: Order, now: float) -> None:
        """Start cancelling: PendingCancel now, Cancelled after the configured lag."""
        self.advance(now)
        if not order.working or order.status == "PendingCancel":
            return
        order.status = "PendingCancel"
        order.cancel_at = now + self.config.cancel_lag_seconds
        order.last_change = now
        self.version += 1
        if self.config.cancel_lag_seconds <= 0:
            self._finish(order, "Cancelled", now)

    # -- time ---------------------------------------------------------------------------------
    def advance(self, now: float) -> None:
        if now <= self._advanced_to:
            return
        cache = PathCache(self.market)
        while True:
            best: tuple[float, int, str, MarketEvent | None] | None = None
            for order in self._live_orders():
                ev = self._next_event(order, now, cache)
                if ev is not None and (best is None or (ev[0], ev[1]) < (best[0], best[1])):
                    best = ev
            if best is None:
                break
            when, oid, kind, mev = best
            order = self.orders[oid]
            if kind in ("cancel", "expire"):
                self._finish(order, "Cancelled", when)
            elif mev is not None:
                order.checked_until = when
                if order.ticket.order_type in ("STP", "STOP_LIMIT") and not order.triggered:
                    order.triggered = True
                    order.status = "Submitted"
                    order.last_change = when
                if kind == "fill" and mev.price is not None:
                    self._fill(order, order.remaining, mev.price, when)
            self.version += 1
        for order in self._live_orders():
            order.checked_until = now
            self._settle_status(order, now)
        self._advanced_to = now

    def _live_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.working and o.active]

    def _next_event(
        self, order: Order, now: float, cache: PathCache
    ) -> tuple[float, int, str, MarketEvent | None] | None:
        limit = now
        timed: tuple[float, int, str, MarketEvent | None] | None = None
        if order.cancel_at is not None and order.cancel_at <= limit:
            limit = order.cancel_at
            timed = (order.cancel_at, order.order_id, "cancel", None)
        if order.expires_at is not None and order.expires_at <= limit:
            limit = order.expires_at
            timed = (order.expires_at, order.order_id, "expire", None)
        if order.ticket.tif == "IOC":
            return timed
        mev = scan(order, cache, order.checked_until, limit)
        if mev is not None and (timed is None or mev.time <= timed[0]):
            return (mev.time, order.order_id, mev.kind, mev)
        return timed

    # -- internals ----------------------------------------------------------------------------
    def _expiry(self, t: Ticket, now: float) -> float | None:
        if t.tif != "DAY":
            return None
        venue = self.market.venue(t.instrument)
        s = venue.last_opened(now)
        return s.close if now < s.close else venue.next_open(now).close

    def _settle_status(self, order: Order, now: float) -> None:
        if order.status not in ("PreSubmitted", "Submitted"):
            return
        t = order.ticket
        untriggered = t.order_type in ("STP", "STOP_LIMIT") and not order.triggered
        if not order.active or untriggered:
            order.status = "PreSubmitted"
        elif order.status == "PreSubmitted":
            venue = self.market.venue(t.instrument)
            if venue.in_rth(now) or t.outside_rth:
                order.status = "Submitted"
                order.last_change = now

    def _on_arrival(self, order: Order, now: float) -> None:
        """A newly working order meets the current quote (marketable orders trade at once)."""
        t = order.ticket
        venue = self.market.venue(t.instrument)
        if order.instrument.conid in self.market.halted:
            eligible = False
        else:
            eligible = venue.in_rth(now) or (t.outside_rth and t.order_type != "MKT")
        tick = self.market.tick(t.instrument.conid, now)
        if eligible:
            stop = t.order_type in ("STP", "STOP_LIMIT")
            if stop and not order.triggered and triggered(t, tick.last):
                order.triggered = True
                order.status = "Submitted"
            if t.order_type not in ("STP", "STOP_LIMIT") or order.triggered:
                price = fill_price(t, tick, as_market=False)
                if price is not None:
                    size = order.remaining
                    if t.tif == "IOC":
                        size = min(
                            size, Decimal(tick.ask_size if t.side == "BUY" else tick.bid_size)
                        )
                    self._fill(order, size, price, now)
        if t.tif == "IOC" and order.working:
            self._finish(order, "Cancelled", now)

    def _fill(self, order: Order, qty: Decimal, price: Decimal, when: float) -> None:
        from ibtui.sim.orders import Execution

        t = order.ticket
        inst = t.instrument
        fee = commission(inst.currency, qty, price)
        signed = qty if t.side == "BUY" else -qty
        apply_fill(self.accounts[order.account_id], inst.conid, inst.currency, signed, price, fee)
        seq = len(self.executions) + 1
        self.executions.append(
            Execution(
                execution_id=f"0000e0d5.{int(when):08x}.{seq:02x}.01",
                order_id=order.order_id,
                account_id=order.account_id,
                instrument=inst,
                side=t.side,
                quantity=qty,
                price=price,
                commission=fee,
                time=when,
                order_ref=t.coid,
            )
        )
        order.filled += qty
        order.fill_value += qty * price
        order.last_execution = when
        order.last_change = when
        self.version += 1
        if order.remaining == 0:
            self._finish(order, "Filled", when)

    def _finish(self, order: Order, status: str, when: float) -> None:
        order.status = status
        order.last_change = when
        order.cancel_at = None
        self.version += 1
        if status == "Filled":
            for child_id in order.children:
                child = self.orders[child_id]
                if child.working and not child.active:
                    child.active = True
                    child.checked_until = when
                    self._settle_status(child, when)
                    self._on_arrival(child, when)
            if order.oca_group is not None:
                for other in self.orders.values():
                    if other is not order and other.oca_group == order.oca_group and other.working:
                        self._finish(other, "Cancelled", when)
        else:
            for child_id in order.children:
                child = self.orders[child_id]
                if child.working and not child.active:
                    self._finish(child, "Cancelled", when)
