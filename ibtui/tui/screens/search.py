"""Find an instrument by symbol or name (IBKR's ``secdef/search``) and act on it.

Typing searches after a short pause (each keystroke cancels the search before it); ``enter``
searches at once and moves to the results. On a result: ``enter``/``c`` opens its chart, ``+``
adds it to the watchlist, ``b``/``s`` ask the app for an order ticket
(:class:`~ibtui.tui.market.TicketRequested`). ``/`` goes back to the search box, ``escape``
closes the screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import CellDoesNotExist

from ibtui.tui import keymap as ids
from ibtui.tui.market import (
    MarketData,
    MarketDataError,
    RateLimited,
    SearchResultView,
    TicketRequested,
    WatchItem,
    Watchlist,
)
from ibtui.tui.screens.chart import latest_quote, open_chart
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.watchlist import persist_watchlist

__all__ = ["DEBOUNCE_SECONDS", "SearchScreen"]

DEBOUNCE_SECONDS = 0.35
SEARCH_GROUP = "symbol-search"


class SearchScreen(Screen[None]):
    CSS_PATH = "search.tcss"
    AUTO_FOCUS = "#search-input"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id=ids.SEARCH_CLOSE),
        Binding("slash", "focus_input", "Search box", id=ids.SEARCH_FOCUS),
        Binding("down", "focus_results", "Results", show=False, id=ids.SEARCH_RESULTS),
        Binding("c", "chart", "Chart", id=ids.SEARCH_CHART),
        Binding("plus", "watch", "Watch", id=ids.SEARCH_WATCH),
        Binding("b", "ticket('BUY')", "Buy", id=ids.SEARCH_BUY),
        Binding("s", "ticket('SELL')", "Sell", id=ids.SEARCH_SELL),
        Binding("j", "cursor(1)", "Down", show=False, id=ids.SEARCH_DOWN),
        Binding("k", "cursor(-1)", "Up", show=False, id=ids.SEARCH_UP),
    ]

    def __init__(
        self,
        market: MarketData,
        *,
        watchlist: Watchlist | None = None,
        text: str = "",
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        super().__init__()
        self.market = market
        self.watchlist = watchlist
        self.initial_text = text
        self.debounce = debounce
        self.results: list[SearchResultView] = []
        self.searched: str | None = None  # the text the shown results are for

    def compose(self) -> ComposeResult:
        yield Static("Find an instrument", id="search-title")
        yield Input(
            value=self.initial_text,
            placeholder="Symbol or company name, then enter",
            id="search-input",
        )
        yield Static("Type a symbol (AAPL) or part of a name.", id="search-status", markup=False)
        yield DataTable[Text](id="search-results", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Symbol", key="symbol")
        table.add_column("Description", key="description")
        table.add_column("Kinds", key="kinds")
        table.add_column("Exchange", key="exchange")
        table.add_column(Text("Conid", justify="right"), key="conid")
        if self.initial_text.strip():
            self.search(self.initial_text, delay=0.0)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#search-results", DataTable)

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#search-status", Static)
        status.update(text)
        status.set_class(error, "error")

    # --- searching --------------------------------------------------------------------------------
    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        if event.value.strip() == self.searched:  # back to what is shown: drop a pending search
            self.workers.cancel_group(self, SEARCH_GROUP)
        else:
            self.search(event.value, delay=self.debounce)

    @on(Input.Submitted, "#search-input")
    async def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if text != self.searched:
            worker = self.search(text, delay=0.0)
            await worker.wait()
        if self.results:
            self.table.focus()

    @work(exclusive=True, group=SEARCH_GROUP, exit_on_error=False)
    async def search(self, text: str, *, delay: float = 0.0) -> None:
        """Search for ``text`` after ``delay`` seconds (a newer search cancels this one)."""
        text = text.strip()
        if not text:
            self.searched = None
            self._show([])
            self._status("Type a symbol (AAPL) or part of a name.")
            return
        if delay > 0:
            await asyncio.sleep(delay)
        self._status(f"Searching for {text}…")
        try:
            results = await self.market.search(text)
        except RateLimited:
            self._status("IBKR asks us to slow down; press enter to search again.", error=True)
            return
        except MarketDataError as exc:
            self._status(f"Search failed: {exc}", error=True)
            return
        self.searched = text
        self._show(results)
        if results:
            count = len(self.results)
            noun = "result" if count == 1 else "results"
            self._status(
                f"{count} {noun} for {text}: enter or ↓ to choose, then enter opens the chart."
            )
        else:
            self._status(f"Nothing found for {text}.")

    def _show(self, results: Sequence[SearchResultView]) -> None:
        unique = {r.conid: r for r in reversed(results)}  # first listing of a conid wins
        self.results = [r for r in results if unique.get(r.conid) is r]
        table = self.table
        table.clear()
        for result in self.results:
            table.add_row(
                Text(result.symbol, style="bold"),
                Text(result.description),
                Text(result.kinds_text, style="cyan"),
                Text(result.exchange or "—"),
                Text(str(result.conid), style="dim", justify="right"),
                key=str(result.conid),
            )

    # --- the selected result ----------------------------------------------------------------------
    def selected(self) -> SearchResultView | None:
        table = self.table
        if not self.results or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return next((r for r in self.results if str(r.conid) == key), None)

    def _require(self) -> SearchResultView | None:
        result = self.selected()
        if result is None:
            self.notify(
                "Search, then pick a result first.", severity="warning", timeout=3, markup=False
            )
        return result

    @on(DataTable.RowSelected, "#search-results")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_chart()

    # --- actions ----------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_focus_input(self) -> None:
        self.input.focus()

    def action_focus_results(self) -> None:
        if self.results:
            self.table.focus()

    def action_cursor(self, step: int) -> None:
        table = self.table
        if step > 0:
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    def action_chart(self) -> None:
        result = self._require()
        if result is not None:
            open_chart(
                self.app,
                self.market,
                result.conid,
                result.symbol,
                description=result.description,
                watchlist=self.watchlist,
            )

    def action_watch(self) -> None:
        result = self._require()
        if result is None:
            return
        if self.watchlist is None:
            self.notify("No watchlist in this session.", severity="warning", markup=False)
            return
        if self.watchlist.add(WatchItem(result.conid, result.symbol)):
            persist_watchlist(self, self.watchlist)
            where = f" ({result.exchange})" if result.exchange else ""
            self.notify(f"{result.symbol}{where} added to the watchlist.", timeout=3, markup=False)
        else:
            self.notify(f"{result.symbol} is already on the watchlist.", timeout=3, markup=False)

    def action_ticket(self, side: str) -> None:
        result = self._require()
        if result is not None:
            quote = latest_quote(self.app, result.conid)
            self.post_message(
                TicketRequested(result.conid, result.symbol, result.description, side, quote)
            )
