"""The account's orders as IBKR lists them, and what ibtui remembers of them: each order's cOID,
its last status and fill, the cancels asked for, and the orders IBKR's list has dropped (so the
blotter and the journal end with their final state). Every status change is journaled."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.models import LiveOrder, OrderState, Trade
from ibtui.ibkr.models.order_views import OrderStatus
from ibtui.trading.record import Recorder

if TYPE_CHECKING:
    from ibtui.trading.reconcile import Reconciler

__all__ = ["Blotter"]


class Blotter:
    """One account's order list and executions, and the order ids' cOIDs and last states."""

    def __init__(self, client: IbkrClient, account_id: str, recorder: Recorder) -> None:
        self.client = client
        self.account_id = account_id
        self.recorder = recorder
        self.reconciler: Reconciler | None = None  # told when an unknown order shows up
        self.refs: dict[int, str] = {}  # order id -> cOID, from placements and order lists
        self.seen: dict[int, tuple[OrderState, Decimal | None]] = {}
        self.cancel_requested: set[int] = set()
        self._off_list: dict[int, LiveOrder] = {}  # seen before, no longer in IBKR's list
        self._last_rows: dict[int, LiveOrder] = {}  # order id -> its row at the last look
        self._complete_list = True  # the last list was IBKR's real one, not its pre-flight

    async def orders(self, *, refresh: bool = False) -> tuple[LiveOrder, ...]:
        """The account's working and recent orders (IBKR paces this list at 1 per 5 s).

        ``refresh`` clears IBKR's cache first (two requests). Status changes since the last
        look are journaled, and an order whose send was unknown is reconciled when it shows up.
        """
        rows = await self.fresh_orders() if refresh else await self.orders_once()
        rows += await self._dropped_out(rows)
        await self.observe(rows)
        return rows

    async def _dropped_out(self, rows: Sequence[LiveOrder]) -> tuple[LiveOrder, ...]:
        """Orders seen before that IBKR's list leaves out.

        The list holds only the current brokerage session's finished orders (API.md §8.1): after
        a competing login or the nightly reset, the orders that finished before it drop out. One
        last seen finished stays as it was last seen; one last seen working (it filled or was
        cancelled just before, unseen) is asked for by its status. Either stays in the answer
        from then on, so the blotter and the journal end with its final state."""
        listed = {row.order_id for row in rows}
        if self._complete_list:
            for oid, (state, _) in list(self.seen.items()):
                if oid in listed:
                    continue
                if not state.is_working:
                    last = self._last_rows.get(oid)
                    if last is not None:
                        self._off_list.setdefault(oid, last)
                    continue
                try:
                    status = await self.client.order_status(oid)
                except IbkrError:
                    continue  # asked again at the next look
                if status.account in (None, self.account_id):
                    self._off_list[oid] = _row_from_status(status, self.refs.get(oid))
        return tuple(row for oid, row in self._off_list.items() if oid not in listed)

    async def trades(self) -> tuple[Trade, ...]:
        """The account's executions (IBKR: today's; paced at 1 per 5 s)."""
        return tuple(t for t in await self.client.trades() if t.account in (None, self.account_id))

    async def orders_once(self) -> tuple[LiveOrder, ...]:
        live = await self.client.live_orders()
        if live.snapshot is False and not live.orders:  # IBKR's pre-flight answer: ask again
            live = await self.client.live_orders()
        self._complete_list = not (live.snapshot is False and not live.orders)
        return self._mine(live.orders)

    async def fresh_orders(self) -> tuple[LiveOrder, ...]:
        await self.client.live_orders(force=True)
        return await self.orders_once()

    def _mine(self, orders: Sequence[LiveOrder]) -> tuple[LiveOrder, ...]:
        return tuple(o for o in orders if o.account in (None, self.account_id))

    async def observe(self, rows: Sequence[LiveOrder]) -> None:
        waiting = self.reconciler.waiting() if self.reconciler is not None else set()
        for row in rows:
            self._last_rows[row.order_id] = row
            if row.order_ref:
                self.refs.setdefault(row.order_id, row.order_ref)
            if row.order_ref in waiting and self.reconciler is not None:
                assert row.order_ref is not None
                await self.reconciler.found(row.order_ref, row, (), "seen in the orders list")
            state = (row.status, row.filled)
            if self.seen.get(row.order_id) != state:
                self.seen[row.order_id] = state
                await self.recorder.note(
                    "status",
                    row.order_ref,
                    order_id=row.order_id,
                    symbol=row.symbol,
                    side=row.side,
                    status=row.status,
                    filled=row.filled,
                    remaining=row.remaining,
                    avg_price=row.avg_price,
                )


def _row_from_status(status: OrderStatus, coid: str | None) -> LiveOrder:
    """An order-list row built from an order's status (for an order the list no longer has)."""
    return LiveOrder(
        order_id=status.order_id,
        account=status.account,
        conid=status.conid,
        symbol=status.symbol,
        description=status.description,
        sec_type=None,
        exchange=status.exchange,
        currency=status.currency,
        side=status.side,
        order_type=status.order_type,
        order_type_text=status.order_type_text,
        price=status.limit_price,
        aux_price=status.stop_price,
        avg_price=status.avg_price,
        total_size=status.total_size,
        filled=status.filled,
        remaining=status.remaining,
        status=status.status,
        status_text=status.status_text,
        tif=status.tif,
        outside_rth=status.outside_rth,
        order_ref=coid,
        parent_id=None,
        order_desc=status.description,
        updated=status.order_time,
    )
