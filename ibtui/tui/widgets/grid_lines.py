"""The positions grid's lines: each drawn from the grid's rows, cached, cell by cell.

:class:`GridLines` is the drawing half of :class:`~ibtui.tui.widgets.positions_grid.PositionsGrid`
(which holds the rows, the cursor and the keys and mouse): ``render_line`` draws a header, the
fixed symbol column, zebra stripes, the cursor row, hover, and a filler right of the table, with
the look of Textual's ``DataTable``. A line is cached on its row's version and what it is drawn
in, and a row drawn again after a tick takes its unchanged cells as it last drew them. A cell is
built directly (:func:`cell_lines`), not through Rich's renderers, unless its text needs Rich (an
ellipsis, wide characters, spaces at its ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ibtui.tui.widgets.columns import Cell

__all__ = [
    "FIXED_COLUMNS",
    "HEADER",
    "CellLine",
    "GridColumn",
    "GridLines",
    "GridRow",
    "cell_lines",
]

CellLine = list[Segment]

_PADDING = 1  # blank cells each side of a cell's text
FIXED_COLUMNS = 1  # the symbol stays while the others scroll sideways
HEADER = -1  # the header's row index (in the segments' meta, as DataTable's)
_LINES_CACHED = 1000
_ROWS_REMEMBERED = 1000  # rows whose cells as last drawn are kept (a screen holds a few dozen)
_PENS_REMEMBERED = 20_000  # cells' styles kept (a screen of 100 rows shows about 1,500 cells)


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
    body, side = _cell_pens(pre, cell.style, post)
    line = _cell_line(cell, width, padding, body, side, joined=False)
    return None if line is None else [line]


def _cell_pens(pre: Style, own: Style | None, post: Style) -> tuple[Style, Style]:
    """The styles of a cell's text (``pre``, its own, ``post``) and of its padding."""
    body_style = pre + own if own else pre
    side_style = pre
    if post:
        body_style += post
        side_style += post
    return body_style, side_style


def _cell_line(
    cell: Cell, width: int, padding: int, body: Style, side: Style, joined: bool
) -> CellLine | None:
    """:func:`cell_lines`'s line in these styles of the text and the padding (``joined``: the
    two are one style, drawn as one segment, as ``Segment.simplify`` joins them)."""
    inner = width - 2 * padding
    text = cell.text
    used = cell_len(text)
    if inner <= 0 or used > inner or not text.isprintable() or text != text.strip():
        return None
    fill = " " * (inner - used)
    shown = fill + text if cell.numeric else text + fill
    if not padding:
        return [Segment(shown, body)]
    pad = " " * padding
    if joined:
        return [Segment(pad + shown + pad, side)]
    return [Segment(pad, side), Segment(shown, body), Segment(pad, side)]


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
    table_width: int  # of the columns right of the fixed ones


class _Pens(NamedTuple):
    """A cell's styles: laid under it (``pre``), of its text, of its padding, and whether the
    last two are the same (the cell is then one segment)."""

    pre: Style
    body: Style
    side: Style
    joined: bool


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


class GridLines(ScrollView):
    """Draws the grid's lines from the state :class:`PositionsGrid` keeps (declared here)."""

    show_header: bool
    header_height: int
    _columns: list[GridColumn]
    _rows: dict[str, GridRow]
    _order: list[str]
    _cursor: int
    _hover: int
    _show_hover: bool
    _header_version: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._look: _Look | None = None  # the styles lines are drawn in, until they change
        self._last_look: _Look | None = None  # the caches'
        self._base: Style | None = None  # the grid's own style when the look was taken
        self._styles: dict[tuple[bool, bool, bool, bool], tuple[Style, Style]] = {}
        # a cell's text and padding styles by its place, the cursor and hover on it, and its
        # own style (the meta of its place makes each cell's styles its own: built once)
        self._pens: dict[tuple[int, int, bool, bool, Style | None], _Pens] = {}
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(_LINES_CACHED)
        # each row's cells as last drawn, with what they were drawn in, the rows drawn last at
        # the end
        self._drawn: dict[str, tuple[tuple[object, ...], dict[int, _Drawn]]] = {}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._look = None
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The look is kept from frame to frame and looked up again after a change of styles
        # (notify_style_update: focus, theme, CSS), of width, or of the grid's own style, which
        # its ancestors' colours make (one walk up the tree a frame, not ten component styles).
        look = self._look
        if look is not None and (look.width != self.size.width or self.rich_style != self._base):
            self._look = None
        return super().render_lines(crop)

    def _frame_look(self) -> _Look:
        """The styles lines are drawn in; the caches are emptied when they differ from the
        last."""
        look = self._look
        if look is None:
            component = self.get_component_styles
            rich = self.get_component_rich_style
            fixed = component("positions-grid--fixed").rich_style
            base = self._base = self.rich_style
            look = self._look = _Look(
                base=base,
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
                table_width=sum(column.render_width for column in self._columns[FIXED_COLUMNS:]),
            )
            if look != self._last_look:
                self._last_look = look
                self._lines.clear()
                self._drawn.clear()
                self._styles.clear()
                self._pens.clear()
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
            hover = self._hovered(HEADER)
            key: tuple[object, ...] = (HEADER, self._header_version, hover, scroll_x)
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

    def column_in_view(self, key: str) -> bool:
        """Whether column ``key`` is wholly on screen (a fixed column always is)."""
        start = 0
        fixed = sum(column.render_width for column in self._columns[:FIXED_COLUMNS])
        width = self.scrollable_content_region.width - fixed
        for position, column in enumerate(self._columns):
            if column.key == key:
                if position < FIXED_COLUMNS:
                    return True
                left = start - int(self.scroll_x)
                return left >= 0 and left + column.render_width <= width
            if position >= FIXED_COLUMNS:
                start += column.render_width
        return False

    def _filler(
        self, index: int, row_style: Style, cursor: bool, hover: bool
    ) -> tuple[CellLine, int]:
        """The space right of the table, in the row's colours."""
        look = self._frame_look()
        space = max(0, look.width - look.table_width)
        key = (index, -1, cursor, hover, row_style)
        pens = self._pens.get(key)
        if pens is None:
            style = row_style + self._cell_style(index == HEADER, False, hover, cursor)[0]
            style += Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
            pens = self._remember(key, _Pens(style, style, style, True))
        return [Segment(" " * space, pens.body)], space

    def _header_pieces(self) -> _Pieces:
        """The header's cells, drawn by Rich (the labels change only with the sort)."""
        look = self._frame_look()
        hover = self._hovered(HEADER)
        component, post = self._cell_style(True, False, hover, False)
        console, options = self.app.console, self.app.console_options
        cells: list[CellLine] = []
        lengths: list[int] = []
        for index, column in enumerate(self._columns):
            width = column.render_width
            pre = look.header + Style.from_meta({"row": HEADER, "column": index}) + component
            rendered = console.render_lines(
                Styled(Padding(column.label, (0, _PADDING)), pre_style=pre, post_style=post),
                options.update_dimensions(width, 1).update(no_wrap=True),
            )
            cells.append(list(Segment.simplify(rendered[0])))
            lengths.append(width)
        filler, space = self._filler(HEADER, look.header, False, hover)
        return _Pieces(
            cells[:FIXED_COLUMNS],
            [*cells[FIXED_COLUMNS:], filler],
            sum(lengths[:FIXED_COLUMNS]),
            [*lengths[FIXED_COLUMNS:], space],
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
            is_fixed = position < FIXED_COLUMNS
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
        pens = self._pens.get((index, position, cursor, hover, cell.style))
        if pens is None:
            pens = self._cell_pens(cell, index, position, base, fixed, cursor, hover)
        line = _cell_line(cell, width, _PADDING, pens.body, pens.side, pens.joined)
        if line is not None:
            return cell, line, width
        pre, post = pens.pre, self._cell_style(False, fixed, hover, cursor)[1]
        options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
        rendered = self.app.console.render_lines(
            Styled(Padding(cell, (0, _PADDING)), pre_style=pre, post_style=post), options
        )
        segments = list(Segment.simplify(rendered[0]))
        return cell, segments, Segment.get_line_length(segments)

    def _cell_pens(
        self,
        cell: Cell,
        index: int,
        position: int,
        base: Style,
        fixed: bool,
        cursor: bool,
        hover: bool,
    ) -> _Pens:
        """A cell's styles at its place (its row, its column, the cursor and hover on it)."""
        component, post = self._cell_style(False, fixed, hover, cursor)
        pre = base + Style.from_meta({"row": index, "column": position}) + component
        body, side = _cell_pens(pre, cell.style, post)
        pens = _Pens(pre, body, side, body == side)
        return self._remember((index, position, cursor, hover, cell.style), pens)

    def _remember(self, key: tuple[int, int, bool, bool, Style | None], pens: _Pens) -> _Pens:
        if len(self._pens) >= _PENS_REMEMBERED:
            self._pens.clear()
        self._pens[key] = pens
        return pens
