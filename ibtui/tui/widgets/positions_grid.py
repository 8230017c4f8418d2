"""The positions grid: a table drawn line by line on Textual's Line API.

:class:`PositionsGrid` is a ``ScrollView`` that draws each line in ``render_line`` (as Textual's own
``Log`` does), with the look of Textual's ``DataTable`` (the same component classes, under the
grid's own names). This module holds the rows, the sort, the cursor, the keys and the mouse; the
drawing (lines, cells, their caches) is :class:`~ibtui.tui.widgets.grid_lines.GridLines`, its base.
A tick costs what changed: :meth:`PositionsGrid.update_cells` sets the cells, bumps the changed
rows' versions and refreshes only the changed cells' regions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message

from ibtui.tui import keymap as ids
from ibtui.tui.component_style import component_style
from ibtui.tui.widgets.columns import COLUMNS, Cell, CellStyles
from ibtui.tui.widgets.grid_lines import (
    FIXED_COLUMNS,
    HEADER,
    GridColumn,
    GridLines,
    GridRow,
    cell_lines,
)

__all__ = ["GridColumn", "GridRow", "PositionsGrid", "SortKey", "cell_lines", "sort_key"]

SortKey = tuple[bool, Decimal | str, str]

_NO_ROW = -2


def sort_key(cell: Cell, symbol: str, reverse: bool) -> SortKey:
    """Rows without a value sort last in both directions; ties go by symbol."""
    return (cell.missing != reverse, cell.sort_key, symbol)


class PositionsGrid(GridLines, can_focus=True):
    """Rows keyed ``account:conid``; the columns of :data:`~ibtui.tui.widgets.columns.COLUMNS`."""

    ALLOW_SELECT = False
    DEFAULT_CSS = """
    PositionsGrid {
        background: $surface;
        color: $foreground;
        height: 1fr;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .positions-grid--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .positions-grid--header { background-tint: $foreground 5%; }
            & > .positions-grid--fixed-cursor {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
            }
        }
        &:dark > .positions-grid--even-row { background: $surface-darken-1 40%; }
        & > .positions-grid--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .positions-grid--header { background: ansi_bright_blue; color: ansi_default; }
        & > .positions-grid--fixed { background: $secondary-muted; color: $foreground; }
        & > .positions-grid--even-row { background: $surface-lighten-1 50%; }
        & > .positions-grid--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .positions-grid--fixed-cursor {
            background: $block-cursor-blurred-background;
            color: $foreground;
        }
        & > .positions-grid--header-cursor { background: $accent-darken-1; color: $foreground; }
        & > .positions-grid--header-hover { background: $accent 30%; }
        & > .positions-grid--hover { background: $block-hover-background; }
        & > .positions-grid--up { color: $text-success; }
        & > .positions-grid--down { color: $text-error; }
        & > .positions-grid--stale { color: $text-disabled; }
        & > .positions-grid--flash-up { background: $success 40%; text-style: bold; }
        & > .positions-grid--flash-down { background: $error 40%; text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "positions-grid--header",
        "positions-grid--fixed",
        "positions-grid--even-row",
        "positions-grid--odd-row",
        "positions-grid--cursor",
        "positions-grid--fixed-cursor",
        "positions-grid--header-cursor",
        "positions-grid--header-hover",
        "positions-grid--hover",
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
        # a table's usual keys (as Textual's DataTable binds them)
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "scroll_right", "Cursor right", show=False),
        Binding("left", "scroll_left", "Cursor left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    @dataclass
    class HeaderSelected(Message):
        """A column's header was clicked."""

        grid: PositionsGrid
        column_key: str

        @property
        def control(self) -> PositionsGrid:
            return self.grid

    @dataclass
    class RowSelected(Message):
        """Enter (or a second click) on a row."""

        grid: PositionsGrid
        row_key: str

        @property
        def control(self) -> PositionsGrid:
            return self.grid

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_header = True
        self.header_height = 1
        self.columns: dict[str, GridColumn] = {
            spec.key: GridColumn(spec.key, Text(spec.label), spec.width) for spec in COLUMNS
        }
        self._columns = list(self.columns.values())
        self._rows: dict[str, GridRow] = {}
        self._order: list[str] = []
        self._index: dict[str, int] = {}
        self._cursor = 0
        self._hover = _NO_ROW
        self._show_hover = False
        self._header_version = 0

    # --- rows -------------------------------------------------------------------------------------
    @property
    def rows(self) -> Mapping[str, GridRow]:
        return self._rows

    @property
    def row_keys(self) -> Sequence[str]:
        """The row keys in display order."""
        return self._order

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def get_cell(self, row_key: str, column_key: str) -> Cell:
        return self._rows[row_key].cells[column_key]

    def add_row(self, *cells: Cell, key: str) -> None:
        """A row at the bottom, its cells in column order."""
        self._rows[key] = GridRow(key, dict(zip(self.columns, cells, strict=True)))
        self._index[key] = len(self._order)
        self._order.append(key)
        self._update_size()
        self._refresh_rows(len(self._order) - 1)

    def remove_row(self, key: str) -> None:
        index = self._index.pop(key)
        del self._rows[key]
        del self._order[index]
        self._drawn.pop(key, None)
        for position in range(index, len(self._order)):
            self._index[self._order[position]] = position
        self._cursor = max(0, min(self._cursor, len(self._order) - 1))
        self._update_size()
        self.refresh()

    def clear(self) -> None:
        """No rows; the cursor on the first, scrolled to the top left."""
        self._rows.clear()
        self._order.clear()
        self._index.clear()
        self._drawn.clear()
        self._lines.clear()
        self._cursor = 0
        self._update_size()
        self.refresh()
        self.scroll_to(0, 0, animate=False, force=True)

    def _update_size(self) -> None:
        width = sum(column.render_width for column in self._columns)
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, len(self._order) + header)

    def update_cells(self, updates: Iterable[tuple[str, str, Cell]]) -> int:
        """Set many cells and repaint just those on screen; returns how many were set."""
        changed: dict[str, set[str]] = {}
        count = 0
        rows = self._rows
        for row_key, column_key, value in updates:
            rows[row_key].cells[column_key] = value
            columns = changed.get(row_key)
            if columns is None:
                columns = changed[row_key] = set()
            columns.add(column_key)
            count += 1
        for row_key in changed:
            rows[row_key].version += 1
        if changed:
            self._refresh_changed(changed)
        return count

    def _refresh_changed(self, changed: dict[str, set[str]]) -> None:
        """Refresh the screen regions of the changed cells that are in view: a row's scrollable
        cells as one region from the first changed to the last (a tick changes most of a row's
        prices, and the terminal writer sends only the cells that differ), its fixed cells one
        a cell."""
        scroll_x, scroll_y = self.scroll_offset
        header = self.header_height if self.show_header else 0
        top, bottom = scroll_y, scroll_y + max(0, self.size.height - header)
        lefts: dict[str, tuple[int, int, bool]] = {}
        x = 0
        for position, spec in enumerate(self._columns):
            lefts[spec.key] = (x, spec.render_width, position < FIXED_COLUMNS)
            x += spec.render_width
        regions: list[Region] = []
        for row_key, columns in changed.items():
            index = self._index.get(row_key)
            if index is None or not top <= index < bottom:
                continue
            y = header + index - scroll_y
            start = end = -1  # the changed scrollable cells' span
            for column in columns:
                left, width, fixed = lefts[column]
                if fixed:
                    regions.append(Region(left, y, width, 1))
                elif start < 0:
                    start, end = left, left + width
                else:
                    start, end = min(start, left), max(end, left + width)
            if start >= 0:
                regions.append(Region(start - scroll_x, y, end - start, 1))
        if regions:
            self.refresh(*regions)

    def sort_rows(self, column: str, reverse: bool) -> None:
        """Re-order the rows by a column, keeping the cursor on the same position."""
        if not self._order:
            return
        keep = self.cursor_key()
        rows = self._rows

        def order(key: str) -> SortKey:
            cells = rows[key].cells
            return sort_key(cells[column], str(cells["symbol"].sort_key), reverse)

        self._order.sort(key=order, reverse=reverse)
        self._index = {key: index for index, key in enumerate(self._order)}
        self.refresh()
        self.move_to(keep)

    # --- the header -------------------------------------------------------------------------------
    def show_sort(self, column: str, reverse: bool) -> None:
        """Mark the sort column's header with ▲ (ascending) or ▼ (descending)."""
        arrow = " ▼" if reverse else " ▲"
        for spec in COLUMNS:
            label = spec.label + arrow if spec.key == column else spec.label
            self.columns[spec.key].label = Text(label)
        self._header_version += 1
        self._refresh_rows(HEADER)

    def cell_styles(self) -> CellStyles:
        # The stale colour ($text-disabled, "auto 38%") as drawn over the grid's background:
        # grey, where the partial style's is pure white, brighter than a live price.
        return CellStyles(
            up=component_style(self, "positions-grid--up"),
            down=component_style(self, "positions-grid--down"),
            stale=component_style(self, "positions-grid--stale"),
            flash_up=component_style(self, "positions-grid--flash-up"),
            flash_down=component_style(self, "positions-grid--flash-down"),
        )

    # --- the cursor -------------------------------------------------------------------------------
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        order = self._order
        return order[self._cursor] if 0 <= self._cursor < len(order) else None

    def move_to(self, key: str | None) -> None:
        """Put the cursor on the row with this key, if shown."""
        index = self._index.get(key) if key is not None else None
        if index is not None:
            self.move_cursor(row=index)

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on a row (the nearest, past either end) and scroll it into view."""
        old = self._cursor
        self._cursor = max(0, min(row, len(self._order) - 1))
        if self._cursor != old:
            self._refresh_rows(old, self._cursor)
        if scroll:
            self._scroll_cursor_into_view(animate)

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        """As DataTable scrolls its row cursor into view: clear of the header and the fixed
        column."""
        if not self._order:
            return
        header = self.header_height if self.show_header else 0
        left = sum(column.render_width for column in self._columns[:FIXED_COLUMNS])
        width = max(self.size.width, self.virtual_size.width)
        region = Region(int(self.scroll_x) + left, header + self._cursor, width - left, 1)
        spacing = Spacing(header, 0, 0, left)
        self.scroll_to_region(region, animate=animate, spacing=spacing, force=True)

    def _refresh_rows(self, *indexes: int) -> None:
        """Repaint these rows (or the header), those in view."""
        header = self.header_height if self.show_header else 0
        width, height = self.size
        scroll_y = int(self.scroll_y)
        for index in indexes:
            if index == HEADER:
                self.refresh(Region(0, 0, width, header))
            elif index >= 0 and 0 <= index - scroll_y < height - header:
                self.refresh(Region(0, header + index - scroll_y, width, 1))

    def _set_hover(self, show: bool, row: int | None = None) -> None:
        old = self._hover if self._show_hover else _NO_ROW
        self._show_hover = show
        if row is not None:
            self._hover = row
        new = self._hover if show else _NO_ROW
        if new != old:
            self._refresh_rows(old, new)

    def action_cursor_down(self) -> None:
        self._set_hover(False)
        self.move_cursor(row=self._cursor + 1)

    def action_cursor_up(self) -> None:
        self._set_hover(False)
        self.move_cursor(row=self._cursor - 1)

    def action_scroll_top(self) -> None:
        self._set_hover(False)
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self._set_hover(False)
        self.move_cursor(row=len(self._order) - 1)

    def action_scroll_home(self) -> None:
        self._set_hover(False)
        self.scroll_x = 0

    def action_scroll_end(self) -> None:
        self._set_hover(False)
        self.scroll_x = self.max_scroll_x

    def action_page_down(self) -> None:
        """The cursor and the rows a page down."""
        self._set_hover(False)
        height = self._page_height()
        self.scroll_relative(y=height, animate=False, force=True)
        self.move_cursor(row=self._cursor + height, scroll=False)

    def action_page_up(self) -> None:
        """The cursor and the rows a page up."""
        self._set_hover(False)
        height = self._page_height()
        self.scroll_relative(y=-height, animate=False)
        self.move_cursor(row=self._cursor - height, scroll=False)

    def _page_height(self) -> int:
        header = self.header_height if self.show_header else 0
        return max(0, self.scrollable_content_region.height - header)

    def action_select_cursor(self) -> None:
        self._set_hover(False)
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    # --- the mouse --------------------------------------------------------------------------------
    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = event.style.meta.get("row")
        if isinstance(row, int):
            self._set_hover(True, row)
        else:
            self._set_hover(False)

    def on_leave(self, _: events.Leave) -> None:
        self._set_hover(False)

    def on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        row, column = meta.get("row"), meta.get("column")
        if not isinstance(row, int) or not isinstance(column, int):
            return
        self._set_hover(True, row)
        if row == HEADER:
            if self.show_header and 0 <= column < len(self._columns):
                self.post_message(self.HeaderSelected(self, self._columns[column].key))
            return
        if row == self._cursor:
            self.action_select_cursor()
        self.move_cursor(row=row, animate=True)
        event.stop()
