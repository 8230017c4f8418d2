"""The orders screen: working and recent orders, the executions, cancel, modify, the kill switch.

The orders list comes from the account's :class:`~ibtui.tui.order_watch.OrderWatch` (the app's
one order watcher, polling in a worker at IBKR's live-orders pacing): the screen follows it while
mounted and renders each :class:`~ibtui.tui.order_watch.OrdersUpdated`, the last one at once. A
failed poll is shown on the error line with the delay before the next try. Rows are keyed by
order id and only changed cells are written; working orders come first (newest first), then the
finished ones (most recently updated first). ``t`` shows the executions (:meth:`Trader.trades`,
fetched when shown and after each poll while shown, at most every 5 s).

Every order action asks first (:class:`~ibtui.tui.screens.question.QuestionScreen`):

* ``c`` cancels the working order under the cursor; the row says the cancel is pending until a poll
  shows the order finished.
* ``m`` opens :class:`~ibtui.tui.screens.modify.ModifyScreen` (quantity and price prefilled,
  checked), then a confirmation, then :meth:`Trader.modify`; IBKR's questions on the way are
  shown one by one.
* ``ctrl+k`` then ``K`` within 2 s (the kill switch) asks to cancel every working order on the
  account, then calls :meth:`Trader.cancel_all`.

Newly finished orders are notified by the app, from the same watch, wherever the trader is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar, Literal

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static

from ibtui.tui import keymap as ids
from ibtui.tui.format import (
    fmt_duration,
)
from ibtui.tui.order_watch import OrdersUpdated, OrderWatch
from ibtui.tui.screens.modify import ModifyScreen, modify_outcome_text
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.trading import OrderView, QuestionView, Trader, TradeView
from ibtui.tui.viewmodels import AccountView
from ibtui.tui.widgets.blotter import (
    ORDER_COLUMNS,
    TRADE_COLUMNS,
    BlotterTable,
    RowStyles,
    clock_time,
    describe_order,
    order_cells,
    trade_cells,
)
from ibtui.tui.widgets.footer import Footer

__all__ = ["OrdersScreen"]

Clock = Callable[[], float]

TRADES_MIN_INTERVAL = 5.0  # IBKR: /iserver/account/trades, 1 request per 5 s
CHORD_SECONDS = 2.0  # the kill switch's second key must follow the first within this


class OrdersScreen(Screen[None]):
    CSS_PATH = "orders.tcss"
    AUTO_FOCUS = "#orders-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_order", "Cancel order", id=ids.ORDERS_CANCEL),
        Binding("m", "modify_order", "Modify", id=ids.ORDERS_MODIFY),
        Binding("t", "toggle_trades", "Trades", id=ids.ORDERS_TRADES),
        Binding("ctrl+k", "kill_switch", "Kill all", id=ids.ORDERS_KILL),
        Binding(
            "K",
            "kill_switch_confirm",
            "Kill all (2nd key)",
            show=False,
            id=ids.ORDERS_KILL_CONFIRM,
        ),
        Binding("escape", "close", "Back", id=ids.ORDERS_CLOSE),
    ]

    def __init__(
        self,
        trader: Trader,
        account: AccountView,
        order_watch: OrderWatch,
        *,
        clock: Clock = time.time,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.trader = trader
        self.account = account
        self.order_watch = order_watch
        self.clock = clock
        self.cursor_blink = cursor_blink
        self.orders: dict[int, OrderView] = {}  # the last poll's, by order id
        self.trades: dict[str, TradeView] = {}
        self.showing_trades = False
        self.loaded = False  # a poll has succeeded
        self.polls = 0  # polls shown (successful or not)
        self.updated_at: float | None = None
        self.message = ""
        self.error: str | None = None
        self.pending_cancel: set[int] = set()
        self._styles: RowStyles | None = None
        self._busy: set[int] = set()
        self._kill_armed_at: float | None = None
        self._trades_at: float | None = None
        self._orders_error: str | None = None
        self._trades_error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="orders-head")
        with ContentSwitcher(initial="orders-table", id="orders-switch"):
            yield BlotterTable(ORDER_COLUMNS, id="orders-table")
            yield BlotterTable(TRADE_COLUMNS, id="trades-table")
        yield Static(id="orders-message", markup=False)
        yield Static(id="orders-error", markup=False)
        yield Static(id="orders-help", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._styles = self.table.styles_for_rows()
        self._show_head()
        self._show_error()
        self._show_help()
        self.order_watch.follow(self)

    def on_unmount(self) -> None:
        self.order_watch.unfollow(self)

    @property
    def table(self) -> BlotterTable:
        return self.query_one("#orders-table", BlotterTable)

    @property
    def trades_table(self) -> BlotterTable:
        return self.query_one("#trades-table", BlotterTable)

    def selected_order(self) -> OrderView | None:
        key = self.table.cursor_key()
        return None if key is None else self.orders.get(int(key))

    @property
    def working_orders(self) -> list[OrderView]:
        return [order for order in self.orders.values() if order.working]

    # --- the order watch's polls ------------------------------------------------------------------
    def on_orders_updated(self, message: OrdersUpdated) -> None:
        if message.orders is None:
            retry = message.retry_in
            again = "" if retry is None else f" (retrying in {fmt_duration(retry)})"
            self._orders_error = f"Could not load the orders: {message.error}{again}"
        else:
            self._orders_error = None
            try:
                self.apply_orders(message.orders)
            except Exception as exc:  # a bad answer must not stop the screen
                self._orders_error = f"Could not show the orders: {exc}"
        self.polls += 1
        self._show_error()
        if self.showing_trades and self._trades_due():
            self._load_trades()

    def apply_orders(self, orders: Iterable[OrderView]) -> None:
        """One poll's answer: rows added, changed cells rewritten, gone rows removed."""
        now = self.clock()
        fresh = {order.order_id: order for order in orders}
        self.orders = fresh
        self.loaded = True
        self.updated_at = now
        for order_id in list(self.pending_cancel):
            order = fresh.get(order_id)
            if order is None or not order.working:
                self.pending_cancel.discard(order_id)
        table = self.table
        keep = table.cursor_key() if table.row_count else None  # a first list starts at the top
        table.keep_only({str(order_id) for order_id in fresh})
        for order in fresh.values():
            self._draw(order, now)
        self._sort(keep)
        self._show_head()

    def _draw(self, order: OrderView, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        pending = order.order_id in self.pending_cancel
        self.table.put_row(str(order.order_id), order_cells(order, pending, self._styles, now))

    def _redraw(self, order_id: int) -> None:
        order = self.orders.get(order_id)
        if order is not None:
            self._draw(order)

    def _sort(self, keep: str | None) -> None:
        """Working orders first, newest first; then the rest, latest update first. The cursor
        stays on the order ``keep`` (or the top)."""

        def rank(order: OrderView) -> tuple[bool, float, int]:
            if order.working:
                return (False, -float(order.order_id), 0)
            return (True, -(order.updated_at or 0.0), -order.order_id)

        wanted = [str(o.order_id) for o in sorted(self.orders.values(), key=rank)]
        table = self.table
        table.order_rows(wanted, "order", keep)
        if keep is None and table.row_count:
            table.move_cursor(row=0, animate=False)

    # --- trades ---------------------------------------------------------------------------------
    def _trades_due(self) -> bool:
        return self._trades_at is None or self.clock() - self._trades_at >= TRADES_MIN_INTERVAL

    @work(exclusive=True, group="orders-trades", exit_on_error=False)
    async def _load_trades(self) -> None:
        if not self._trades_due():
            return
        self._trades_at = self.clock()  # the pacing counts from the request
        try:
            trades = await self.trader.trades(self.account.account_id)
        except Exception as exc:
            self._trades_error = f"Could not load the trades: {exc}"
        else:
            self._trades_error = None
            self.apply_trades(trades)
        self._show_error()

    def apply_trades(self, trades: Iterable[TradeView]) -> None:
        """The executions, newest first; rows keyed by execution id."""
        now = self.clock()
        fresh = {trade.execution_id: trade for trade in trades}
        self.trades = fresh
        table = self.trades_table
        table.keep_only(fresh)
        for key, trade in fresh.items():
            table.put_row(key, trade_cells(trade, self._styles, now))
        ordered = sorted(fresh.values(), key=lambda t: (-(t.time or 0.0), t.execution_id))
        table.order_rows([t.execution_id for t in ordered], "execution", table.cursor_key())
        self._show_head()

    # --- lines ----------------------------------------------------------------------------------
    def say(self, text: str, *, level: Literal["info", "warning", "error"] = "info") -> None:
        """The result line above the help line."""
        self.message = text
        line = self.query_one("#orders-message", Static)
        line.set_class(level == "error", "-error")
        line.set_class(level == "warning", "-warning")
        line.update(text)

    def _show_error(self) -> None:
        errors = [e for e in (self._orders_error, self._trades_error) if e]
        self.error = " · ".join(errors) or None
        line = self.query_one("#orders-error", Static)
        line.update(self.error or "")
        line.display = self.error is not None

    def _show_head(self) -> None:
        working = len(self.working_orders)
        head = Text()
        tabs = (
            (f" Orders ({working} working) ", not self.showing_trades),
            (f" Trades ({len(self.trades)}) ", self.showing_trades),
        )
        for label, active in tabs:
            head.append(label, style="bold reverse" if active else "dim")
            head.append(" ")
        head.append(f" {self.account.account_id} ", style="bold")
        head.append(self.account.mode, style="bold red" if not self.account.paper else "bold")
        if not self.loaded:
            head.append("  loading…", style="dim")
        elif self.updated_at is not None:
            when = clock_time(self.updated_at, self.clock())
            head.append(f"  as of {when} local", style="dim")  # the zone of the Time column
        self.query_one("#orders-head", Static).update(head)

    def _key(self, binding_id: str, fallback: str) -> str:
        for key, active in self.active_bindings.items():
            if active.binding.id == binding_id:
                return self.app.get_key_display(active.binding.with_key(key))
        return fallback

    def _show_help(self) -> None:
        if self.showing_trades:
            parts = [f"{self._key(ids.ORDERS_TRADES, 't')} orders"]
        else:
            parts = [
                f"{self._key(ids.ORDERS_CANCEL, 'c')} cancel",
                f"{self._key(ids.ORDERS_MODIFY, 'm')} modify",
                f"{self._key(ids.ORDERS_TRADES, 't')} trades",
            ]
        parts.append(f"{self._key(ids.ORDERS_KILL, '^k')} then {self._kill_key()} kill all")
        parts.append("j/k move")
        self.query_one("#orders-help", Static).update("  ·  ".join(parts))

    def _kill_key(self) -> str:
        return self._key(ids.ORDERS_KILL_CONFIRM, "K")

    # --- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cancel_order", "modify_order") and self.showing_trades:
            return None  # shown dimmed: the orders tab has them
        return True

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)

    def action_toggle_trades(self) -> None:
        self.showing_trades = not self.showing_trades
        switcher = self.query_one(ContentSwitcher)
        switcher.current = "trades-table" if self.showing_trades else "orders-table"
        (self.trades_table if self.showing_trades else self.table).focus()
        self._show_head()
        self._show_help()
        self.refresh_bindings()
        if self.showing_trades and self._trades_due():
            self._load_trades()

    def _selected_working(self, verb: str) -> OrderView | None:
        order = self.selected_order()
        if order is None:
            self.say(f"No order to {verb}.", level="warning")
            return None
        if not order.working:
            self.say(
                f"Order {order.order_id} is {order.status}: nothing to {verb}.", level="warning"
            )
            return None
        if order.order_id in self.pending_cancel or order.status.casefold() == "pendingcancel":
            self.say(f"Order {order.order_id} is being cancelled.", level="warning")
            return None
        if order.order_id in self._busy:
            return None
        return order

    def action_cancel_order(self) -> None:
        if self.showing_trades:
            return
        order = self._selected_working("cancel")
        if order is not None:
            self._busy.add(order.order_id)
            self._cancel_flow(order)

    def action_modify_order(self) -> None:
        if self.showing_trades:
            return
        order = self._selected_working("modify")
        if order is not None:
            self._busy.add(order.order_id)
            self._modify_flow(order)

    def action_kill_switch(self) -> None:
        if self._nothing_to_kill():
            return
        self._kill_armed_at = self.clock()
        armed = self._kill_armed_at
        self.say(
            f"Kill switch: press {self._kill_key()} within {CHORD_SECONDS:g} s to cancel every "
            f"working order on {self.account.account_id}.",
            level="warning",
        )
        self.set_timer(CHORD_SECONDS, lambda: self._disarm(armed))

    def _disarm(self, armed: float) -> None:
        if self._kill_armed_at == armed:
            self._kill_armed_at = None
            self.say("Kill switch disarmed.")

    def action_kill_switch_confirm(self) -> None:
        armed, self._kill_armed_at = self._kill_armed_at, None
        if armed is None:
            return
        if self.clock() - armed > CHORD_SECONDS:
            self.say("Kill switch: too slow, disarmed.")
            return
        self._kill_flow()

    # --- flows (workers: they wait for modals) ---------------------------------------------------
    async def _confirm(self, text: str, title: str, confirm: str, *, danger: bool = False) -> bool:
        screen = QuestionScreen(
            QuestionView(text),
            title=title,
            confirm_label=confirm,
            reject_label="Keep",
            danger=danger,
        )
        answer: bool = await self.app.push_screen_wait(screen)
        return answer

    async def ask(self, question: QuestionView) -> bool:
        """IBKR's question during a modify, verbatim, answered by the trader."""
        answer: bool = await self.app.push_screen_wait(QuestionScreen(question))
        return answer

    def _finished(self, order_id: int, verb: str) -> bool:
        """True (and said) when a poll since the question shows the order no longer working."""
        current = self.orders.get(order_id)
        if current is not None and current.working and order_id not in self.pending_cancel:
            return False
        status = "gone from the list" if current is None else current.status
        if order_id in self.pending_cancel:
            status = "being cancelled"
        self.say(f"Order {order_id} is {status} now: not {verb}.", level="warning")
        return True

    @work(group="orders-actions", exit_on_error=False)
    async def _cancel_flow(self, order: OrderView) -> None:
        order_id = order.order_id
        try:
            text = f"Cancel {describe_order(order)} (order {order_id})?"
            if not await self._confirm(text, "Cancel order", "Cancel order"):
                self.say(f"Order {order_id} kept.")
                return
            if self._finished(order_id, "cancelled"):
                return
            self.pending_cancel.add(order_id)
            self._redraw(order_id)
            self.say(f"Cancelling order {order_id}…")
            try:
                answer = await self.trader.cancel(self.account.account_id, order_id)
            except Exception as exc:
                self.pending_cancel.discard(order_id)
                self._redraw(order_id)
                self.say(f"Could not cancel order {order_id}: {exc}", level="error")
                return
            self.say(f"Cancel order {order_id}: {answer}")
        finally:
            self._busy.discard(order_id)

    @work(group="orders-actions", exit_on_error=False)
    async def _modify_flow(self, order: OrderView) -> None:
        order_id = order.order_id
        try:
            values = await self.app.push_screen_wait(
                ModifyScreen(order, cursor_blink=self.cursor_blink)
            )
            if values is None:
                self.say(f"Order {order_id} not modified.")
                return
            new = describe_order(
                order,
                quantity=values.quantity,
                limit_price=values.limit_price,
                stop_price=values.stop_price,
            )
            text = f"Modify {describe_order(order)} (order {order_id}) to {new}?"
            if not await self._confirm(text, "Modify order", "Modify"):
                self.say(f"Order {order_id} not modified.")
                return
            if self._finished(order_id, "modified"):
                return
            self.say(f"Modifying order {order_id}…")
            try:
                result = await self.trader.modify(
                    self.orders.get(order_id, order),  # the newest view of it
                    quantity=values.quantity,
                    limit_price=values.limit_price,
                    stop_price=values.stop_price,
                    ask=self.ask,
                )
            except Exception as exc:
                self.say(
                    f"Modify of order {order_id} failed: {exc}. Check the order before trying "
                    "again.",
                    level="error",
                )
                return
            text, level = modify_outcome_text(order_id, result)
            self.say(text, level=level)
        finally:
            self._busy.discard(order_id)

    def _nothing_to_kill(self) -> bool:
        """No working order as of the last update: said, and nothing offered. (Before the
        orders have loaded, or while they cannot be, the kill switch is always offered.)"""
        if not self.loaded or self.working_orders:
            return False
        self._kill_armed_at = None
        self.say(f"Kill switch: no working orders on {self.account.account_id}; nothing to cancel.")
        return True

    @work(exclusive=True, group="orders-kill", exit_on_error=False)
    async def _kill_flow(self) -> None:
        if self._nothing_to_kill():  # the last one finished while the chord was typed
            return
        account = self.account
        count = len(self.working_orders)
        noun = "order" if count == 1 else "orders"
        text = (
            f"Cancel {count} working {noun} on {account.mode} account {account.label}?"
            " Orders placed since the last update are cancelled too."
            if self.loaded
            else f"Cancel every working order on {account.mode} account {account.label}?"
            " The orders have not loaded yet."
        )
        if not await self._confirm(text, "KILL SWITCH", "Cancel all", danger=True):
            self.say("Kill switch: nothing cancelled.")
            return
        self.say(f"Kill switch: cancelling every working order on {account.account_id}…")
        try:
            result = await self.trader.cancel_all(account.account_id)
        except Exception as exc:
            self.say(f"Kill switch failed: {exc}. Check the orders!", level="error")
            self.app.notify(f"Kill switch failed: {exc}", severity="error", markup=False)
            return
        self.pending_cancel.update(result.requested)
        for order_id in result.requested:
            self._redraw(order_id)
        done = len(result.requested)
        text = f"Kill switch: cancel requested for {done} order{'' if done == 1 else 's'}"
        if result.failed:
            text += f"; {len(result.failed)} failed: " + "; ".join(result.failed)
        self.say(text, level="error" if result.failed else "warning")
        self.app.notify(text, title="Kill switch", severity="warning", markup=False)
