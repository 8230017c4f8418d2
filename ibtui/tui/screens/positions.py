"""One account's positions under a status bar; the screen the poller's messages land on.

Only this screen changes its widgets: quotes and positions go to the table, session state, token
life and errors to the status bar (errors also pop up as a notification).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen

from ibtui.tui import keymap as ids
from ibtui.tui.balances import MIN_GAP, BalancesFailed, BalancesUpdated
from ibtui.tui.commands import Command
from ibtui.tui.format import fmt_duration
from ibtui.tui.messages import (
    ErrorRaised,
    PositionsUpdated,
    QuotePlanChanged,
    QuotesUpdated,
    SessionStateChanged,
    TokenLifetime,
)
from ibtui.tui.streaming import StreamChanged
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, StatusView, stale_ages
from ibtui.tui.widgets.columns import COLUMNS
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.positions_table import PositionsTable
from ibtui.tui.widgets.status_bar import StatusBar
from ibtui.tui.widgets.summary_strip import SummaryStrip

__all__ = ["PositionsScreen"]


class PositionsScreen(Screen[None]):
    CSS_PATH = "positions.tcss"
    AUTO_FOCUS = "PositionsGrid"
    # Order tickets are the app's (it holds the trader); these keys open one for the row.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "app.ticket('BUY')", "Buy", id=ids.POSITIONS_BUY),
        Binding("s", "app.ticket('SELL')", "Sell", id=ids.POSITIONS_SELL),
        Binding("x", "app.ticket('CLOSE')", "Close pos.", id=ids.POSITIONS_CLOSE),
    ]

    def __init__(
        self,
        account: AccountView,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 2.0,
        flash_seconds: float = 1.0,
        status: StatusView | None = None,
        cursor_blink: bool = True,
        margin_warning: float = 0.10,
        balances_interval: float = 20.0,
    ) -> None:
        super().__init__()
        self.margin_warning = margin_warning
        self.balances_interval = balances_interval
        self.cursor_blink = cursor_blink
        self.account = account
        self.clock = clock
        self.poll_interval = poll_interval
        self.flash_seconds = flash_seconds
        base = status or StatusView()
        self._initial_status = replace(base, account=account, poll_interval=poll_interval)
        self.quotes: dict[int, QuoteView] = {}  # the newest snapshot of each conid
        self.priced = asyncio.Event()  # set once the first prices (or an error) are shown

    def compose(self) -> ComposeResult:
        yield StatusBar(self._initial_status, clock=self.clock, id="status")
        yield SummaryStrip(
            threshold=self.margin_warning,
            clock=self.clock,
            stale_after=2 * max(self.balances_interval, MIN_GAP),
            id="summary",
        )
        yield PositionsTable(
            base_currency=self.account.base_currency or "USD",
            clock=self.clock,
            stale_after=stale_ages(None, self.poll_interval)[0],
            flash_seconds=self.flash_seconds,
            cursor_blink=self.cursor_blink,
            id="positions",
        )
        yield Footer()

    @property
    def table(self) -> PositionsTable:
        return self.query_one(PositionsTable)

    def selected_position(self) -> PositionView | None:
        """The position under the cursor."""
        return self.table.selected_view()

    def conids_in_view(self) -> list[int]:
        """The conids of the position rows on screen (none before the screen is mounted)."""
        if not self.is_mounted:
            return []
        return self.table.conids_in_view()

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def _set_status(self, **changes: object) -> None:
        bar = self.status_bar
        bar.status = replace(bar.status, **changes)  # type: ignore[arg-type]

    # --- messages from the poller -------------------------------------------------------------
    def on_quotes_updated(self, message: QuotesUpdated) -> None:
        self.table.apply_quotes(message.quotes, burst=message.burst)
        self.quotes.update(message.quotes)
        if message.quotes:
            self.priced.set()
        ticket = self.app.screen
        set_quote = getattr(ticket, "set_quote", None)  # an open order ticket shows them live
        if ticket is not self and callable(set_quote):
            for quote in message.quotes.values():
                set_quote(quote)
        stamps = [q.updated_at for q in message.quotes.values() if q.updated_at is not None]
        newest = max(stamps, default=message.received_at)
        status = self.status_bar.status
        changes: dict[str, object] = {}
        current = status.newest_quote_at
        if newest is not None and (current is None or newest > current):
            changes.update(newest_quote_at=newest, error=None, retry_at=None)
        if changes:
            self._set_status(**changes)

    def on_stream_changed(self, message: StreamChanged) -> None:
        self._set_status(stream=message.state.status, streaming=bool(message.streamed))
        self.table.set_streamed(message.streamed)  # current however quiet: never greyed

    def on_quote_plan_changed(self, message: QuotePlanChanged) -> None:
        """The freshness the poller states: the status bar says it, and each row's price greys
        by the pace stated for it (:func:`~ibtui.tui.viewmodels.stale_ages`, the status bar's
        rule too)."""
        plan = message.plan
        self._set_status(quote_plan=plan)
        self.table.set_pace(*stale_ages(plan, self.poll_interval))

    def on_positions_updated(self, message: PositionsUpdated) -> None:
        if message.account_id == self.account.account_id:
            self.table.set_positions(message.positions)

    def on_balances_updated(self, message: BalancesUpdated) -> None:
        view = message.balances
        if view.account_id == self.account.account_id:
            self.query_one(SummaryStrip).show(view, message.changed, pushed=message.pushed)
            if not message.pushed:  # each row's share: at the refreshes, not every second
                self.table.set_net_liquidation(view.net_liquidation)

    def on_balances_failed(self, message: BalancesFailed) -> None:
        if message.account_id == self.account.account_id:
            self.query_one(SummaryStrip).failed(message.error)

    def on_session_state_changed(self, message: SessionStateChanged) -> None:
        self._set_status(session=message.state)
        if message.state.healthy:
            self._set_status(error=None, retry_at=None)
        elif message.detail:
            self._set_status(error=message.detail)

    def on_token_lifetime(self, message: TokenLifetime) -> None:
        self._set_status(lst_expires_at=message.expires_at)

    def on_error_raised(self, message: ErrorRaised) -> None:
        self.priced.set()
        text = message.message
        retry_at = None if message.retry_in is None else self.clock() + message.retry_in
        self._set_status(error=text, retry_at=retry_at)
        if message.retry_in is not None:
            text = f"{text} (retrying in {fmt_duration(message.retry_in)})"
        self.notify(text, title="IBKR", severity="error", timeout=8, markup=False)

    # --- command palette ----------------------------------------------------------------------
    def palette_commands(self) -> list[Command]:
        table = self.table
        commands: list[Command] = []
        for column in COLUMNS:
            for reverse, word in ((False, "ascending"), (True, "descending")):
                name = f"Sort positions by {column.label} ({word})"

                def sort(key: str = column.key, rev: bool = reverse) -> None:
                    table.sort_by(key, rev)

                commands.append((name, sort, "sort the positions grid"))
        return commands
