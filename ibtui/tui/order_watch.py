"""The one order watcher: an account's orders polled in a worker, posted as :class:`OrdersUpdated`.

The app runs :meth:`OrderWatch.run` in an exclusive worker for the account shown; every poll goes
to the app (which notifies fills, rejections and cancels, :func:`tell_order_news`) and to each
screen that follows the watch (the orders screen renders from it). Polls come every ``interval``
seconds, never faster than IBKR's live-orders pacing (one request per 5 s); a failed poll is
posted too (``orders`` None, with the error and the growing delay before the next try); the
poller's word that the brokerage session answers again ends that delay
(:meth:`OrderWatch.session_back`).

News: the first list is the baseline (nothing in it is news but the outcome of an order sent
from this console); after it, an order newly filled, rejected or cancelled is news once, and an
order first seen already finished only when it was updated since the watch began (less one
interval; IBKR lists old orders late) or was sent from this console (the demo replays a past
day, so its orders are stamped before the console started). A working order that IBKR stops
listing without a final state (a server restart drops them) is news too, once
(:class:`~ibtui.tui.trading.VanishedOrders`).

Fills: an order whose filled quantity grew since it was last seen (a part fill while it still
works, or the last part) is posted in ``fills``, once per growth (the highest filled quantity
seen is kept, so a poll that lags a push does not tell it again); the app reads the positions
afresh for it and notifies a part fill (``Partly filled: BUY 30 of 100 AAPL @ 215.02``). An
order's first sight counts as a fill only as an outcome counts as news (sent from here, or,
after the baseline, updated since the watch began).

Pushed orders: while a stream pushes the account's order changes (IBKR's ``sor``; see
:mod:`ibtui.tui.streaming`), each one is merged into the last list and posted at once, with its
news (:meth:`OrderWatch.pushed`), and the poll becomes a safety net every ``safety_interval``
seconds (every ``interval`` while a working order is missing from the last list, until the next
tells whether it vanished: nothing is pushed of an order a restart dropped); when the stream goes
down, a poll follows at once and polls come every ``interval`` again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.message import Message
from textual.message_pump import MessagePump
from textual.notifications import SeverityLevel

if TYPE_CHECKING:
    from ibtui.tui.trading import OrderView, Trader
    from ibtui.tui.widgets.blotter import Outcome

    News = tuple[tuple[OrderView, Outcome], ...]  # orders newly finished, and how

__all__ = [
    "MAX_BACKOFF",
    "MIN_POLL_INTERVAL",
    "SAFETY_INTERVAL",
    "OrderNews",
    "OrderWatch",
    "OrdersUpdated",
    "tell_order_news",
]

MIN_POLL_INTERVAL = 5.0  # IBKR: /iserver/account/orders, 1 request per 5 s
MAX_BACKOFF = 60.0
SAFETY_INTERVAL = 30.0  # the poll while a stream pushes the orders


@dataclass
class OrdersUpdated(Message, bubble=False):
    """One poll of an account's orders. ``orders`` is None when the poll failed: ``error`` says
    why and ``retry_in`` when the next try comes. ``news`` are the orders this poll shows newly
    finished, with how they finished."""

    account_id: str
    orders: Sequence[OrderView] | None
    at: float
    error: str | None = None
    retry_in: float | None = None
    news: News = field(default=())
    vanished: tuple[OrderView, ...] = ()  # working orders IBKR no longer lists
    fills: tuple[OrderView, ...] = ()  # orders whose filled quantity grew (positions moved)


class OrderNews:
    """Which orders a poll shows newly finished (see the module's docstring)."""

    def __init__(self, interval: float) -> None:
        from ibtui.tui.trading import VanishedOrders

        self.interval = interval
        self.known: dict[int, OrderView] | None = None  # the last list (None: no baseline yet)
        self.since: float | None = None
        self.vanished: tuple[OrderView, ...] = ()  # with the last update
        self.fills: tuple[OrderView, ...] = ()  # with the last update: filled quantity grew
        self._filled: dict[int, Decimal] = {}  # the highest filled quantity seen, per order
        self._vanishing = VanishedOrders()

    @property
    def unsure(self) -> bool:
        """A working order is missing from the last list, not yet told as vanished."""
        return self._vanishing.unsure

    def update(self, orders: Sequence[OrderView], now: float, *, complete: bool = True) -> News:
        """The news of ``orders``: a whole list (``complete``), or the last list with pushed
        changes merged in (no order can be seen to vanish from such a list)."""
        fresh = {order.order_id: order for order in orders}
        known, self.known = self.known, fresh
        self.vanished = tuple(self._vanishing.update(known, fresh)) if complete else ()
        if self.since is None:
            self.since = now - self.interval
        from ibtui.tui.widgets.blotter import order_outcome

        self.fills = self._grown(fresh.values(), self.since, baseline=known is None)
        news: list[tuple[OrderView, Outcome]] = []
        for order in fresh.values():
            outcome = order_outcome(order.status)
            if outcome is None or (known is None and not order.placed_here):
                continue  # the baseline: only an order sent from here is news in it
            before = None if known is None else known.get(order.order_id)
            if before is not None:
                if order_outcome(before.status) == outcome:
                    continue
            elif not order.placed_here and (
                order.updated_at is None or order.updated_at < self.since
            ):
                continue  # finished before the watch began (and not sent from here): not news
            news.append((order, outcome))
        return tuple(news)

    def _grown(
        self, orders: Iterable[OrderView], since: float, *, baseline: bool
    ) -> tuple[OrderView, ...]:
        """The orders whose filled quantity grew past the highest seen; an order first seen (as
        all are in the baseline) only when its fill would be news, as an outcome is."""
        grown: list[OrderView] = []
        for order in orders:
            filled = order.filled or Decimal(0)
            before = self._filled.get(order.order_id)
            self._filled[order.order_id] = filled if before is None else max(before, filled)
            if filled <= (before or Decimal(0)):
                continue
            old = baseline or order.updated_at is None or order.updated_at < since
            if before is None and not order.placed_here and old:
                continue  # filled before the watch began (and not sent from here)
            grown.append(order)
        return tuple(grown)


class OrderWatch:
    """Polls ``trader``'s orders of ``account_id`` (:meth:`run`, in a worker) and posts every
    poll to ``post`` and to the screens that :meth:`follow` it."""

    def __init__(
        self,
        trader: Trader,
        account_id: str,
        post: Callable[[OrdersUpdated], object],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        interval: float = MIN_POLL_INTERVAL,
        safety_interval: float = SAFETY_INTERVAL,
    ) -> None:
        self.trader = trader
        self.account_id = account_id
        self.post = post
        self.clock = clock
        self.sleep = sleep
        self.interval = interval
        self.safety_interval = max(interval, safety_interval)
        self.pushing = False  # a live stream pushes this account's orders
        self._wake = asyncio.Event()  # set when the stream stops pushing: poll at once
        self._failures = 0  # failed polls in a row
        self.last: OrdersUpdated | None = None  # the last poll's (a follower starts from it)
        self.orders: Sequence[OrderView] | None = None  # the last list a poll got
        self.news = OrderNews(self.interval)
        self._followers: list[MessagePump] = []

    @property
    def working(self) -> list[OrderView]:
        """The working orders of the last list (none before the first)."""
        return [order for order in self.orders or () if order.working]

    def follow(self, follower: MessagePump) -> None:
        """Post every poll to ``follower`` too, starting with the last one."""
        self._followers.append(follower)
        if self.last is not None:
            follower.post_message(_copy(self.last))

    def unfollow(self, follower: MessagePump) -> None:
        if follower in self._followers:
            self._followers.remove(follower)

    async def run(self) -> None:
        while True:
            self._wake.clear()  # a wake from now on cuts the next wait short
            try:
                fresh = list(await self.trader.orders(self.account_id))
            except Exception as exc:  # posted, retried later: never a crash
                self._failures += 1
                delay = min(self.interval * 2**self._failures, MAX_BACKOFF)
                update = OrdersUpdated(self.account_id, None, self.clock(), str(exc), delay)
            else:
                self._failures = 0
                delay = self.interval
                now = self.clock()
                news = self.news.update(fresh, now)
                self.orders = fresh
                update = OrdersUpdated(
                    self.account_id,
                    fresh,
                    now,
                    news=news,
                    vanished=self.news.vanished,
                    fills=self.news.fills,
                )
            self._publish(update)
            await self._wait(delay)

    async def _wait(self, delay: float) -> None:
        """``delay``; while the stream pushes, the safety net's, cut short when it stops (but
        IBKR's pace while a working order is missing from the last list: the next list tells
        whether it vanished, and a stream pushes nothing of an order a restart dropped); after
        a failed poll, the back-off, cut short when the brokerage session is back
        (:meth:`session_back`). (The client's pacer keeps a poll cut short to IBKR's pace.)"""
        if self.pushing and not self.news.unsure:
            delay = max(delay, self.safety_interval)
        elif not self._failures:
            await self.sleep(delay)
            return
        pause = asyncio.ensure_future(self.sleep(delay))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((pause, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pause, woken):
                task.cancel()
            await asyncio.gather(pause, woken, return_exceptions=True)

    def session_back(self) -> None:
        """The brokerage session answers again (the poller says so after it was gone): a watch
        backing off from failed polls polls at once. Working orders a server restart dropped
        are then told within two polls of its return, not after the back-off (which grows to
        a minute)."""
        if self._failures:
            self._wake.set()

    def set_pushing(self, pushing: bool) -> None:
        """Whether a live stream pushes the account's orders (see the module's docstring)."""
        if self.pushing and not pushing:
            self._wake.set()
        self.pushing = pushing

    def pushed(self, orders: Sequence[OrderView]) -> None:
        """Orders the stream pushed (whole views, changed since the last list), posted at once
        with their news. Before the first list (the baseline) they wait for it: it lists them."""
        known = self.news.known
        mine = [o for o in orders if o.account_id in ("", self.account_id)]
        if known is None or not mine:
            return
        merged = dict(known)
        for order in mine:
            merged[order.order_id] = order
        fresh = list(merged.values())
        now = self.clock()
        news = self.news.update(fresh, now, complete=False)
        self.orders = fresh
        self._publish(OrdersUpdated(self.account_id, fresh, now, news=news, fills=self.news.fills))

    def _publish(self, update: OrdersUpdated) -> None:
        self.last = update
        self.post(update)
        for follower in list(self._followers):
            follower.post_message(_copy(update))


def _copy(update: OrdersUpdated) -> OrdersUpdated:
    """A message of its own for each receiver (a message is handled once)."""
    return OrdersUpdated(
        update.account_id,
        update.orders,
        update.at,
        update.error,
        update.retry_in,
        update.news,
        update.vanished,
        update.fills,
    )


def tell_order_news(
    app: App[Any],
    news: News,
    *,
    bell: bool,
    vanished: Sequence[OrderView] = (),
    fills: Sequence[OrderView] = (),
) -> None:
    """Notify each newly finished order (``Filled: BUY 10 AAPL @ 215.02``), each part fill of an
    order still working (``Partly filled: BUY 30 of 100 AAPL @ 215.02``) and each working order
    IBKR stopped listing; ring the terminal bell once when ``bell`` is set."""
    from ibtui.tui.widgets.blotter import (
        describe_order,
        order_outcome,
        outcome_notice,
        part_fill_notice,
    )

    for order in vanished:
        app.notify(
            f"Order {order.order_id} ({describe_order(order)}) was working and IBKR no longer "
            "lists it: it may have been dropped. Check it before trading on.",
            title="Orders",
            severity="error",
            markup=False,
        )

    for order, outcome in news:
        severity: SeverityLevel = (
            "information"
            if outcome == "Filled"
            else "error"
            if outcome == "Rejected"
            else "warning"
        )
        app.notify(outcome_notice(order, outcome), title="Orders", severity=severity, markup=False)
    parts = [order for order in fills if order_outcome(order.status) is None]
    for order in parts:  # (a finished order's fill is told by its outcome above)
        app.notify(part_fill_notice(order), title="Orders", markup=False)
    if (news or vanished or parts) and bell:
        app.bell()
