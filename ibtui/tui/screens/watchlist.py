"""The watchlist: instruments the user follows, with live last/change/bid/ask/volume.

The rows are the :class:`~ibtui.tui.market.Watchlist`'s, in its order; the poller quotes their
conids in the same batched snapshots as the positions, and the quotes reach this screen either
forwarded by the positions screen (:meth:`WatchlistScreen.set_quote`) or as
:class:`~ibtui.tui.messages.QuotesUpdated` posted to it. ``J``/``K`` (or shift+down/up) move the
selected row, ``d`` deletes it, ``f`` finds an instrument to add; every change is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ibtui.tui import keymap as ids
from ibtui.tui.market import MarketData, TicketRequested, WatchItem, Watchlist
from ibtui.tui.messages import QuotesUpdated
from ibtui.tui.screens.chart import open_chart
from ibtui.tui.screens.search import SearchScreen
from ibtui.tui.viewmodels import QuoteView
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.watchlist import WatchlistTable, persist_watchlist

__all__ = ["WatchlistScreen"]

EMPTY_TEXT = "Nothing on the watchlist yet: press f to find an instrument, then + to add it."


class WatchlistScreen(Screen[None]):
    CSS_PATH = "watchlist.tcss"
    AUTO_FOCUS = "#watchlist-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id=ids.WATCHLIST_CLOSE),
        Binding("c", "chart", "Chart", id=ids.WATCHLIST_CHART),
        Binding("f", "search", "Find", id=ids.WATCHLIST_SEARCH),
        Binding("K,shift+up", "move(-1)", "Move up", id=ids.WATCHLIST_MOVE_UP),
        Binding("J,shift+down", "move(1)", "Move down", id=ids.WATCHLIST_MOVE_DOWN),
        Binding("d,delete", "delete", "Delete", id=ids.WATCHLIST_DELETE),
        Binding("b", "ticket('BUY')", "Buy", id=ids.WATCHLIST_BUY),
        Binding("s", "ticket('SELL')", "Sell", id=ids.WATCHLIST_SELL),
        Binding("j", "cursor(1)", "Down", show=False, id=ids.WATCHLIST_DOWN),
        Binding("k", "cursor(-1)", "Up", show=False, id=ids.WATCHLIST_UP),
    ]

    def __init__(
        self,
        watchlist: Watchlist,
        market: MarketData | None = None,
        *,
        quotes: Mapping[int, QuoteView] | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.watchlist = watchlist
        self.market = market
        self.cursor_blink = cursor_blink
        self._initial_quotes = dict(quotes or {})
        self._unsubscribe: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="watchlist-title", markup=False)
        yield WatchlistTable(id="watchlist-table", cursor_blink=self.cursor_blink)
        yield Static(EMPTY_TEXT, id="watchlist-empty", markup=False)
        yield Footer()

    @property
    def table(self) -> WatchlistTable:
        return self.query_one(WatchlistTable)

    @property
    def quotes(self) -> dict[int, QuoteView]:
        """The newest quote of each watched conid (what a chart or ticket opened here starts
        from)."""
        if not self.is_mounted:  # not composed yet: what it was opened with, and since
            return self._initial_quotes
        return self.table.quotes

    def on_mount(self) -> None:
        self.table.quotes.update(self._initial_quotes)
        self._refresh_rows()
        self._unsubscribe = self.watchlist.subscribe(self._changed)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _changed(self) -> None:
        """The list changed (here, or from a search or chart opened on top): redraw it."""
        if self.is_mounted:
            self._refresh_rows()

    def _refresh_rows(self, select: int | None = None) -> None:
        table = self.table
        table.set_items(self.watchlist.items, select=select)
        count = len(self.watchlist)
        noun = "instrument" if count == 1 else "instruments"
        self.query_one("#watchlist-title", Static).update(f"Watchlist · {count} {noun}")
        self.query_one("#watchlist-empty").display = count == 0
        table.display = count > 0

    # --- quotes -----------------------------------------------------------------------------------
    def apply_quote(self, quote: QuoteView) -> None:
        if not self.is_mounted:  # quotes can arrive between push_screen and compose
            self._initial_quotes[quote.conid] = quote
            return
        self.table.apply_quote(quote)

    set_quote = apply_quote  # the positions screen forwards quotes to the top screen by this name

    def on_quotes_updated(self, message: QuotesUpdated) -> None:
        if not self.is_mounted:
            self._initial_quotes.update(message.quotes)
            return
        self.table.apply_quotes(message.quotes)

    # --- actions ----------------------------------------------------------------------------------
    def _selected(self) -> WatchItem | None:
        item = self.table.selected_item()
        if item is None:
            self.notify("The watchlist is empty.", severity="warning", timeout=3, markup=False)
        return item

    def _save(self) -> None:
        persist_watchlist(self, self.watchlist)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_cursor(self, step: int) -> None:
        if step > 0:
            self.table.action_cursor_down()
        else:
            self.table.action_cursor_up()

    def action_move(self, step: int) -> None:
        item = self._selected()
        if item is None:
            return
        before = self.watchlist.conids()
        self.watchlist.move(item.conid, step)  # the rows follow through _changed
        if self.watchlist.conids() != before:
            self._save()

    def action_delete(self) -> None:
        item = self._selected()
        if item is None:
            return
        index = self.table.cursor_row
        self.watchlist.remove(item.conid)
        self._save()
        conids = self.watchlist.conids()
        if conids:
            self.table.select_conid(conids[min(index, len(conids) - 1)])
        self.notify(f"{item.symbol} removed from the watchlist.", timeout=3, markup=False)

    @on(DataTable.RowSelected, "#watchlist-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_chart()

    def action_chart(self) -> None:
        item = self._selected()
        if item is None:
            return
        if self.market is None:
            self.notify(
                "Charts are not available in this session.", severity="warning", markup=False
            )
            return
        open_chart(self.app, self.market, item.conid, item.symbol, watchlist=self.watchlist)

    def action_search(self) -> None:
        if self.market is None:
            self.notify(
                "Search is not available in this session.", severity="warning", markup=False
            )
            return
        self.app.push_screen(SearchScreen(self.market, watchlist=self.watchlist))

    def action_ticket(self, side: str) -> None:
        item = self._selected()
        if item is not None:
            quote = self.table.quotes.get(item.conid)
            self.post_message(TicketRequested(item.conid, item.symbol, "", side, quote))
