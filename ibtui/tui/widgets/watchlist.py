"""The watchlist table: one row per watched instrument, keyed by conid, repriced cell by cell.

Rows follow the :class:`~ibtui.tui.market.Watchlist`'s order; :meth:`WatchlistTable.apply_quote`
writes only the cells whose text changed. :func:`persist_watchlist` saves the list off the event
loop (an app-level thread worker, so it survives the screen that asked for it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from rich.text import Text
from textual.dom import DOMNode
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from ibtui.tui.format import MISSING, fmt_pct, fmt_price
from ibtui.tui.market import WatchItem, Watchlist
from ibtui.tui.viewmodels import QuoteView

__all__ = ["WATCH_COLUMNS", "WatchlistTable", "fmt_volume", "persist_watchlist", "quote_cells"]

# (key, label, right-aligned)
WATCH_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("symbol", "Symbol", False),
    ("last", "Last", True),
    ("change", "Change", True),
    ("change_pct", "Change %", True),
    ("bid", "Bid", True),
    ("ask", "Ask", True),
    ("volume", "Volume", True),
)


def fmt_volume(value: Decimal | None) -> str:
    """``850``, ``12.5K``, ``41.8M``, ``1.2B``."""
    if value is None:
        return MISSING
    for size, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**3), "K")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:,.0f}"


def _signed(value: Decimal | None, text: str) -> Text:
    style = "" if value is None or value.is_zero() else "green" if value > 0 else "red"
    return Text(text, style=style, justify="right")


def quote_cells(quote: QuoteView | None) -> dict[str, Text]:
    """The price columns' cells for ``quote`` (dashes when there is none yet)."""
    if quote is None:
        return {key: Text(MISSING, justify="right") for key, _, right in WATCH_COLUMNS if right}
    change = quote.change
    last = fmt_price(quote.last)
    if quote.last is not None and quote.is_close:
        last = f"C {last}"  # IBKR's prior close: no trade yet today
    if quote.halted:
        last = f"H {last}"
    return {
        "last": Text(last, style="bold", justify="right"),
        "change": _signed(
            change,
            MISSING
            if change is None
            else ("+" if change > 0 else "-" if change < 0 else "") + fmt_price(abs(change)),
        ),
        "change_pct": _signed(quote.change_pct, fmt_pct(quote.change_pct, signed=True)),
        "bid": Text(fmt_price(quote.bid), justify="right"),
        "ask": Text(fmt_price(quote.ask), justify="right"),
        "volume": Text(fmt_volume(quote.volume), justify="right"),
    }


class WatchlistTable(DataTable[Text]):
    """Rows keyed by ``str(conid)``; columns :data:`WATCH_COLUMNS`."""

    DEFAULT_CSS = """
    WatchlistTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None, cursor_blink: bool = True) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.cursor_blink = cursor_blink
        self.quotes: dict[int, QuoteView] = {}
        self._items: list[WatchItem] = []

    def on_mount(self) -> None:
        for key, label, right in WATCH_COLUMNS:
            self.add_column(Text(label, justify="right" if right else "left"), key=key)

    # --- data in ---------------------------------------------------------------------------------
    def set_items(self, items: Sequence[WatchItem], *, select: int | None = None) -> None:
        """Show ``items`` in order; the cursor stays on its conid (or moves to ``select``)."""
        keep = select if select is not None else self.selected_conid()
        self._items = list(items)
        self.clear()
        for item in self._items:
            cells = quote_cells(self.quotes.get(item.conid))
            row = [Text(item.symbol, style="bold")]
            row.extend(cells[key] for key, _, right in WATCH_COLUMNS if right)
            self.add_row(*row, key=str(item.conid))
        if keep is not None:
            self.select_conid(keep)

    def apply_quote(self, quote: QuoteView) -> bool:
        """Reprice ``quote.conid``'s row (only the cells whose text changed); False when it is
        not on the list."""
        if quote.last is None and quote.bid is None and quote.ask is None:
            return False
        self.quotes[quote.conid] = quote
        key = str(quote.conid)
        if key not in self.rows:
            return False
        for column, cell in quote_cells(quote).items():
            try:
                current = self.get_cell(key, column)
            except (CellDoesNotExist, RowDoesNotExist):
                return False
            if current.plain != cell.plain or current.style != cell.style:
                self.update_cell(key, column, cell, update_width=True)
        return True

    def apply_quotes(self, quotes: Mapping[int, QuoteView]) -> None:
        for quote in quotes.values():
            self.apply_quote(quote)

    # --- reading ---------------------------------------------------------------------------------
    def selected_conid(self) -> int | None:
        if not self._items or self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return int(key.value) if key.value is not None else None

    def selected_item(self) -> WatchItem | None:
        conid = self.selected_conid()
        return next((item for item in self._items if item.conid == conid), None)

    def select_conid(self, conid: int) -> None:
        key = str(conid)
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key))

    def cell_text(self, conid: int, column: str) -> str:
        return self.get_cell(str(conid), column).plain

    @property
    def symbols(self) -> list[str]:
        """The symbols in the order shown."""
        return [item.symbol for item in self._items]


def persist_watchlist(node: DOMNode, watchlist: Watchlist) -> None:
    """Save ``watchlist`` in a thread (file I/O stays off the event loop); a failure is shown."""
    app = node.app

    def save() -> None:
        try:
            watchlist.save()
        except OSError as exc:
            app.call_from_thread(
                app.notify, f"Could not save the watchlist: {exc}", severity="warning"
            )

    app.run_worker(save, thread=True, group="watchlist-save", name="save watchlist")
