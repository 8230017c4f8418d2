"""The positions grid: fixed columns, vim keys, batched cell updates.

Its drawing (fast one-line rows, only the changed cells repainted) is DataTable's made fast with
DataTable's private render caches, fenced in :mod:`ibtui.tui.textual_compat.datatable`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from ibtui.tui import keymap as ids
from ibtui.tui.textual_compat.datatable import FastDataTable, cell_lines
from ibtui.tui.widgets.columns import COLUMNS, Cell, CellStyles

__all__ = ["PositionsGrid", "SortKey", "cell_lines", "sort_key"]

SortKey = tuple[bool, Decimal | str, str]


def sort_key(cell: Cell, symbol: str, reverse: bool) -> SortKey:
    """Rows without a value sort last in both directions; ties go by symbol."""
    return (cell.missing != reverse, cell.sort_key, symbol)


class PositionsGrid(FastDataTable):
    """Rows keyed ``account:conid``; the columns of :data:`~ibtui.tui.widgets.columns.COLUMNS`."""

    DEFAULT_CSS = """
    PositionsGrid {
        height: 1fr;
        & > .positions-grid--up { color: $text-success; }
        & > .positions-grid--down { color: $text-error; }
        & > .positions-grid--stale { color: $text-disabled; }
        & > .positions-grid--flash-up { background: $success 40%; text-style: bold; }
        & > .positions-grid--flash-down { background: $error 40%; text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "positions-grid--up",
        "positions-grid--down",
        "positions-grid--stale",
        "positions-grid--flash-up",
        "positions-grid--flash-down",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id=ids.POSITIONS_DOWN),
        Binding("k", "cursor_up", "Up", show=False, id=ids.POSITIONS_UP),
        Binding("g", "scroll_top", "First row", show=False, id=ids.POSITIONS_TOP),
        Binding("G", "scroll_bottom", "Last row", show=False, id=ids.POSITIONS_BOTTOM),
        Binding("ctrl+d", "page_down", "Page down", show=False, id=ids.POSITIONS_PAGE_DOWN),
        Binding("ctrl+u", "page_up", "Page up", show=False, id=ids.POSITIONS_PAGE_UP),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fixed_columns = 1
        for column in COLUMNS:
            self.add_column(column.label, width=column.width, key=column.key)

    def cell_styles(self) -> CellStyles:
        style = self.get_component_rich_style
        return CellStyles(
            up=style("positions-grid--up", partial=True),
            down=style("positions-grid--down", partial=True),
            stale=style("positions-grid--stale", partial=True),
            flash_up=style("positions-grid--flash-up", partial=True),
            flash_down=style("positions-grid--flash-down", partial=True),
        )

    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self.row_count or not self.is_valid_row_index(self.cursor_row):
            return None
        return str(self.ordered_rows[self.cursor_row].key.value)

    def move_to(self, key: str | None) -> None:
        """Put the cursor on the row with this key, if shown."""
        if key is not None and RowKey(key) in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def sort_rows(self, column: str, reverse: bool) -> None:
        """Re-order the rows by a column, keeping the cursor on the same position."""
        if not self.row_count:
            return
        keep = self.cursor_key()

        def order(cells: tuple[Cell, Cell]) -> SortKey:
            cell, symbol = cells
            return sort_key(cell, str(symbol.sort_key), reverse)

        self.sort(ColumnKey(column), ColumnKey("symbol"), key=order, reverse=reverse)
        self.move_to(keep)

    def show_sort(self, column: str, reverse: bool) -> None:
        """Mark the sort column's header with ▲ (ascending) or ▼ (descending)."""
        arrow = " ▼" if reverse else " ▲"
        for spec in COLUMNS:
            label = spec.label + arrow if spec.key == column else spec.label
            self.columns[ColumnKey(spec.key)].label = Text(label)
        self.refresh_header()
