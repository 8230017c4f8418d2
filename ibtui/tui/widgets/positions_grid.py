"""The positions grid: a table drawn line by line on Textual's Line API.

:class:`PositionsGrid` is a ``ScrollView`` that draws each line in ``render_line`` (as Textual's own
``Log`` does): a header, the fixed symbol column, zebra stripes, the cursor row, hover, and a
filler right of the table, with the look of Textual's ``DataTable`` (the same component classes,
under the grid's own names). A tick costs what changed: :meth:`PositionsGrid.update_cells` sets
the cells, bumps the changed rows' versions and refreshes only the changed cells' regions; a line
is cached on its row's version and what it is drawn in, and a row drawn again after a tick takes
its unchanged cells as it last drew them. A cell is built directly (:func:`cell_lines`), not
through Rich's renderers, unless its text needs Rich (an ellipsis, wide characters, spaces at its
ends).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain
from typing import ClassVar, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ibtui.tui import keymap as ids
from ibtui.tui.widgets.columns import COLUMNS, Cell, CellStyles

__all__ = ["GridColumn", "GridRow", "PositionsGrid", "SortKey", "cell_lines", "sort_key"]

SortKey = tuple[bool, Decimal | str, str]
CellLine = list[Segment]

_PADDING = 1  # blank cells each side of a cell's text
_FIXED_COLUMNS = 1  # the symbol stays while the others scroll sideways
_HEADER = -1  # the header's row index (in the segments' meta, as DataTable's)
_NO_ROW = -2
_LINES_CACHED = 1000
_ROWS_REMEMBERED = 1000  # rows whose cells as last drawn are kept (a screen holds a few dozen)


def sort_key(cell: Cell, symbol: str, reverse: bool) -> SortKey:
    """Rows without a value sort last in both directions; ties go by symbol."""
    return (cell.missing != reverse, cell.sort_key, symbol)


def cell_lines(
    cell: Cell, width: int, padding: int, pre: Style, post: Style
) -> list[CellLine] | None:
    """The one line of segments Rich renders for a grid cell, built directly.

    This is what Rich gives for ``Styled(Padding(cell, (0, padding)), pre, post)`` (``pre`` and
    ``post`` applied to every segment, the text justified in the padded width with the cell's
    own style), at a small fraction of the cost; it is what a tick repaints. None when the text
    would not fit, is not plain printable text or starts or ends with a space: Rich then renders
    the cell (ellipsis, wide characters cut at the edge, justified spaces).
    """
    inner = width - 2 * padding
    text = cell.text
    used = cell_len(text)
    if inner <= 0 or used > inner or not text.isprintable() or text != text.strip():
        return None
    fill = " " * (inner - used)
    body_style = pre + cell.style if cell.style else pre
    side_style = pre
    if post:
        body_style += post
        side_style += post
    body = Segment(fill + text if cell.numeric else text + fill, body_style)
    if not padding:
        return [[body]]
    side = Segment(" " * padding, side_style)
    return [[side, body, side]]


@dataclass
class GridColumn:
    key: str
    label: Text
    width: int  # of the text, without the padding

    @property
    def render_width(self) -> int:
        return self.width + 2 * _PADDING


@dataclass(eq=False)
class GridRow:
    """A row's cells by column key; ``version`` goes up with every change to them."""

    key: str
    cells: dict[str, Cell]
    version: int = 0


class _Look(NamedTuple):
    """The styles a frame is drawn with, and its width (a change empties the line caches)."""

    base: Style
    header: Style
    fixed: Style
    even: Style
    odd: Style
    hover: Style
    header_hover: Style
    cursor: Style
    header_cursor: Style
    fixed_cursor: Style
    width: int


# A cell as a row last drew it: the cell, its segments (one style's joined) and their width.
_Drawn = tuple[Cell, CellLine, int]


class _Pieces(NamedTuple):
    """A line in cells: the fixed columns', then the others' and the filler right of them."""

    fixed: list[CellLine]
    scrollable: list[CellLine]
    fixed_width: int
    lengths: list[int]  # of the scrollable pieces


def _cut(pieces: _Pieces, width: int) -> Strip | None:
    """A line when it is not scrolled sideways, cut at ``width`` as ``Strip.adjust_cell_length``
    cuts (the segment reaching the edge is sized to it, what follows is dropped), its segments
    already joined as ``Strip.simplify`` joins them. None when the cells do not reach the width."""
    segments = list(chain.from_iterable(pieces.fixed))
    position = pieces.fixed_width
    if position >= width:
        return None
    for cell, length in zip(pieces.scrollable, pieces.lengths, strict=True):
        if position + length < width:
            segments += cell
            position += length
            continue
        for segment in cell:
            size = segment.cell_length
            if position + size < width:
                segments.append(segment)
                position += size
            else:
                text = set_cell_size(segment.text, width - position)
                segments.append(Segment(text, segment.style))
                return Strip(segments, width)
    return None


class PositionsGrid(ScrollView, can_focus=True):
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
        self._look: _Look | None = None  # this frame's
        self._last_look: _Look | None = None  # the caches'
        self._styles: dict[tuple[bool, bool, bool, bool], tuple[Style, Style]] = {}
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(_LINES_CACHED)
        # each row's cells as last drawn, with what they were drawn in, the rows drawn last at
        # the end
        self._drawn: dict[str, tuple[tuple[object, ...], dict[int, _Drawn]]] = {}

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
            lefts[spec.key] = (x, spec.render_width, position < _FIXED_COLUMNS)
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
        self._refresh_rows(_HEADER)

    def cell_styles(self) -> CellStyles:
        style = self.get_component_rich_style
        return CellStyles(
            up=style("positions-grid--up", partial=True),
            down=style("positions-grid--down", partial=True),
            stale=style("positions-grid--stale", partial=True),
            flash_up=style("positions-grid--flash-up", partial=True),
            flash_down=style("positions-grid--flash-down", partial=True),
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
        left = sum(column.render_width for column in self._columns[:_FIXED_COLUMNS])
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
            if index == _HEADER:
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
        if row == _HEADER:
            if self.show_header and 0 <= column < len(self._columns):
                self.post_message(self.HeaderSelected(self, self._columns[column].key))
            return
        if row == self._cursor:
            self.action_select_cursor()
        self.move_cursor(row=row, animate=True)
        event.stop()

    # --- drawing ----------------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look = None
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._look = None  # looked up again for this frame (focus changes the cursor's colours)
        return super().render_lines(crop)

    def _frame_look(self) -> _Look:
        """The styles of this frame; the caches are emptied when they differ from the last."""
        look = self._look
        if look is None:
            component = self.get_component_styles
            rich = self.get_component_rich_style
            fixed = component("positions-grid--fixed").rich_style
            look = self._look = _Look(
                base=self.rich_style,
                header=component("positions-grid--header").rich_style,
                fixed=fixed + Style.from_meta({"fixed": True}),
                even=component("positions-grid--even-row").rich_style,
                odd=component("positions-grid--odd-row").rich_style,
                hover=rich("positions-grid--hover"),
                header_hover=rich("positions-grid--header-hover"),
                cursor=rich("positions-grid--cursor"),
                header_cursor=rich("positions-grid--header-cursor"),
                fixed_cursor=rich("positions-grid--fixed-cursor"),
                width=self.size.width,
            )
            if look != self._last_look:
                self._last_look = look
                self._lines.clear()
                self._drawn.clear()
                self._styles.clear()
        return look

    def _cell_style(
        self, header: bool, fixed: bool, hover: bool, cursor: bool
    ) -> tuple[Style, Style]:
        """The hover's and the cursor's style over a cell, and the style laid over its text (the
        cursor's colour wins over the cell's own), as DataTable layers them."""
        memo = self._styles.get((header, fixed, hover, cursor))
        if memo is not None:
            return memo
        look = self._frame_look()
        style = Style()
        if hover:
            style += look.hover
            if header:
                style += look.header_hover
        if cursor:
            style += look.cursor
            if header:
                style += look.header_cursor
            elif fixed:
                style += look.fixed_cursor
        memo = self._styles[(header, fixed, hover, cursor)] = (style, Style.from_color(style.color))
        return memo

    def render_line(self, y: int) -> Strip:
        look = self._frame_look()
        scroll_x, scroll_y = self.scroll_offset
        header = self.header_height if self.show_header else 0
        if y < header:
            hover = self._hovered(_HEADER)
            key: tuple[object, ...] = (_HEADER, self._header_version, hover, scroll_x)
            strip = self._lines.get(key)
            if strip is None:
                strip = self._lines[key] = self._line(self._header_pieces(), scroll_x, look)
            return strip
        index = y - header + scroll_y
        if not 0 <= index < len(self._order):
            return Strip.blank(look.width, look.base)
        row = self._rows[self._order[index]]
        cursor, hover = index == self._cursor, self._hovered(index)
        key = (row.key, row.version, index, cursor, hover, scroll_x)
        strip = self._lines.get(key)
        if strip is None:
            pieces = self._row_pieces(row, index, cursor, hover)
            strip = self._lines[key] = self._line(pieces, scroll_x, look)
        return strip

    def _hovered(self, index: int) -> bool:
        return self._show_hover and index == self._hover

    @staticmethod
    def _line(pieces: _Pieces, scroll_x: int, look: _Look) -> Strip:
        """The line on screen: the fixed cells, then the others from ``scroll_x`` on."""
        width = look.width
        strip = _cut(pieces, width) if not scroll_x else None
        if strip is None:
            scrollable = Strip(list(chain.from_iterable(pieces.scrollable)))
            shown = scrollable.crop(scroll_x, scroll_x + width - pieces.fixed_width)
            segments = [*chain.from_iterable(pieces.fixed), *shown]
            strip = Strip(segments).adjust_cell_length(width, look.base).simplify()
        return strip

    def _filler(
        self, index: int, row_style: Style, cursor: bool, hover: bool
    ) -> tuple[CellLine, int]:
        """The space right of the table, in the row's colours."""
        look = self._frame_look()
        table_width = sum(column.render_width for column in self._columns[_FIXED_COLUMNS:])
        space = max(0, look.width - table_width)
        style = row_style + self._cell_style(index == _HEADER, False, hover, cursor)[0]
        style += Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        return [Segment(" " * space, style)], space

    def _header_pieces(self) -> _Pieces:
        """The header's cells, drawn by Rich (the labels change only with the sort)."""
        look = self._frame_look()
        hover = self._hovered(_HEADER)
        component, post = self._cell_style(True, False, hover, False)
        console, options = self.app.console, self.app.console_options
        cells: list[CellLine] = []
        lengths: list[int] = []
        for index, column in enumerate(self._columns):
            width = column.render_width
            pre = look.header + Style.from_meta({"row": _HEADER, "column": index}) + component
            rendered = console.render_lines(
                Styled(Padding(column.label, (0, _PADDING)), pre_style=pre, post_style=post),
                options.update_dimensions(width, 1).update(no_wrap=True),
            )
            cells.append(list(Segment.simplify(rendered[0])))
            lengths.append(width)
        filler, space = self._filler(_HEADER, look.header, False, hover)
        return _Pieces(
            cells[:_FIXED_COLUMNS],
            [*cells[_FIXED_COLUMNS:], filler],
            sum(lengths[:_FIXED_COLUMNS]),
            [*lengths[_FIXED_COLUMNS:], space],
        )

    def _row_pieces(self, row: GridRow, index: int, cursor: bool, hover: bool) -> _Pieces:
        """A data row's cells, each with its segments of one style joined. A row drawn again in
        the same setting (its place, the cursor and hover on it) takes the cells it holds
        unchanged as it last drew them."""
        look = self._frame_look()
        setting = (index, cursor, hover)
        last = self._drawn.pop(row.key, None)
        before = last[1] if last is not None and last[0] == setting else {}
        drawn: dict[int, _Drawn] = {}
        self._drawn[row.key] = (setting, drawn)
        if len(self._drawn) > _ROWS_REMEMBERED:
            del self._drawn[next(iter(self._drawn))]  # the row drawn longest ago
        row_style = look.odd if index % 2 else look.even
        cells = row.cells
        fixed: list[CellLine] = []
        scrollable: list[CellLine] = []
        lengths: list[int] = []
        fixed_width = 0
        for position, column in enumerate(self._columns):
            cell = cells[column.key]
            is_fixed = position < _FIXED_COLUMNS
            entry = before.get(position)
            if entry is None or entry[0] is not cell:
                base = look.fixed if is_fixed else row_style
                width = column.render_width
                entry = self._draw_cell(cell, index, position, base, width, is_fixed, cursor, hover)
            drawn[position] = entry
            if is_fixed:
                fixed.append(entry[1])
                fixed_width += entry[2]
            else:
                scrollable.append(entry[1])
                lengths.append(entry[2])
        filler, space = self._filler(index, row_style, cursor, hover)
        scrollable.append(filler)
        lengths.append(space)
        return _Pieces(fixed, scrollable, fixed_width, lengths)

    def _draw_cell(
        self,
        cell: Cell,
        index: int,
        position: int,
        base: Style,
        width: int,
        fixed: bool,
        cursor: bool,
        hover: bool,
    ) -> _Drawn:
        """A cell's one line, built directly (:func:`cell_lines`) or, for text that needs it, by
        Rich; its segments of one style joined, and its width."""
        component, post = self._cell_style(False, fixed, hover, cursor)
        pre = base + Style.from_meta({"row": index, "column": position}) + component
        lines = cell_lines(cell, width, _PADDING, pre, post)
        if lines is not None:
            return cell, list(Segment.simplify(lines[0])), width
        options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
        rendered = self.app.console.render_lines(
            Styled(Padding(cell, (0, _PADDING)), pre_style=pre, post_style=post), options
        )
        segments = list(Segment.simplify(rendered[0]))
        return cell, segments, Segment.get_line_length(segments)
