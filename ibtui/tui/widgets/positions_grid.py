"""The ``DataTable`` under the positions table: fixed columns, vim keys, batched cell updates."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from ibtui.tui import keymap as ids
from ibtui.tui.widgets.columns import COLUMNS, Cell, CellStyles

__all__ = ["PositionsGrid", "SortKey", "sort_key"]

SortKey = tuple[bool, Decimal | str, str]


def sort_key(cell: Cell, symbol: str, reverse: bool) -> SortKey:
    """Rows without a value sort last in both directions; ties go by symbol."""
    return (cell.missing != reverse, cell.sort_key, symbol)


class PositionsGrid(DataTable[Cell]):
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
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
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

    def update_cells(self, updates: Iterable[tuple[str, str, Cell]]) -> int:
        """Set many cells and repaint just those on screen; returns how many were set.

        ``update_cell`` bumps the table's update counter, which is part of every render-cache
        key: each following frame renders every visible cell again and sends every visible line
        to the terminal. Here only the changed cells' cache entries are dropped and only their
        regions on screen are refreshed, so a tick costs (and sends) what changed.
        """
        data = self._data
        changed: dict[RowKey, set[ColumnKey]] = {}
        count = 0
        for row_key, column_key, value in updates:
            key = RowKey(row_key)
            row = data.get(key)
            if row is None:
                raise CellDoesNotExist(f"No row {row_key!r}")
            column = ColumnKey(column_key)
            row[column] = value
            changed.setdefault(key, set()).add(column)
            count += 1
        if changed:
            self._forget_rendered(changed)
            self._refresh_changed(changed)
        return count

    def _forget_rendered(self, changed: dict[RowKey, set[ColumnKey]]) -> None:
        """Drop the cached renderings of the changed cells, the rows and the lines they are in."""
        cells = {(row, column) for row, columns in changed.items() for column in columns}
        cell_cache = self._cell_render_cache
        for cell_key in [k for k in list(cell_cache.keys()) if (k[0], k[1]) in cells]:
            cell_cache.discard(cell_key)
        row_cache = self._row_render_cache
        for row_key in [k for k in list(row_cache.keys()) if k[0] in changed]:
            row_cache.discard(row_key)
        locations = self._row_locations
        indexes = {locations.get(row) for row in changed}
        renderables = self._row_renderable_cache
        for index_key in [k for k in list(renderables.keys()) if k[1] in indexes]:
            renderables.discard(index_key)
        lines = self._line_cache
        for line_key in list(lines.keys()):
            try:
                line_row, _ = self._get_offsets(line_key[0])
            except LookupError:
                continue
            if line_row in changed:
                lines.discard(line_key)

    def _refresh_changed(self, changed: dict[RowKey, set[ColumnKey]]) -> None:
        """Refresh the screen regions of the changed cells that are in view (rows are one line
        high; the fixed columns do not scroll sideways)."""
        scroll_x, scroll_y = self.scroll_offset
        header = self.header_height if self.show_header else 0
        top, bottom = scroll_y, scroll_y + max(0, self.size.height - header)
        lefts: dict[ColumnKey, tuple[int, int, bool]] = {}
        x = self._row_label_column_width
        for position, spec in enumerate(self.ordered_columns):
            width = spec.get_render_width(self)
            lefts[spec.key] = (x, width, position < self.fixed_columns)
            x += width
        locations = self._row_locations
        regions: list[Region] = []
        for row_key, columns in changed.items():
            index = locations.get(row_key)
            if index is None or not top <= index < bottom:
                continue
            y = header + index - scroll_y
            for column in columns:
                left, width, fixed = lefts[column]
                regions.append(Region(left if fixed else left - scroll_x, y, width, 1))
        if regions:
            self.refresh(*regions)

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
        self._update_count += 1
        self.refresh()
