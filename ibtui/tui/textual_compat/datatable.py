"""DataTable's drawing, made fast for the positions grid: Textual's private render caches.

``DataTable`` keys every render cache on a table-wide update counter, which ``update_cell``
bumps: after any change, each frame renders every visible cell again and the terminal is sent
every visible line. :class:`FastDataTable` keeps its own caches for one-line data rows instead,
keyed on what a line is drawn from, repaints only the changed cells' regions
(:meth:`FastDataTable.update_cells`), and builds plain cells without Rich's renderers
(:func:`cell_lines`); a tick of 1,000 prices costs what changed (benchmark 3).

It reads DataTable's private state (``_data``, ``_row_locations``, ``_column_locations``,
``_line_cache``, ``_row_render_cache``, ``_cell_render_cache``, ``_row_renderable_cache``,
``_update_count``, ``_pseudo_class_state``, ``_show_hover_cursor``, ``_labelled_row_exists``,
``_row_label_column_width``, ``_header_row_key``, ``_get_offsets``,
``_get_styles_to_render_cell``) and overrides its ``_render_line``, ``_render_cell`` and
``_clear_caches``. Upstream: ``textual/widgets/_data_table.py`` (Textual 8.2); no public Line API
grid exists in Textual (a rebuild on ``ScrollView`` + ``render_line`` would end this module).

Guard: Textual 8.2.x with the DataTable attributes above; otherwise the table draws as
DataTable draws and :meth:`FastDataTable.update_cells` sets cells with ``update_cell``, and the
log says so. ``tests/tui/test_positions_grid_cells.py`` holds the result to DataTable's drawing.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from textual._segment_tools import line_crop
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.renderables.styled import Styled
from textual.strip import Strip
from textual.widget import PseudoClasses
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from ibtui.tui.textual_compat._guard import skipped, version_tested
from ibtui.tui.widgets.columns import Cell

__all__ = ["FastDataTable", "cell_lines"]

_METHODS = (
    "_render_line",
    "_render_cell",
    "_clear_caches",
    "_get_offsets",
    "_get_styles_to_render_cell",
    "_row_label_column_width",
)
_ATTRIBUTES = (
    "_data",
    "_row_locations",
    "_column_locations",
    "_line_cache",
    "_row_render_cache",
    "_cell_render_cache",
    "_row_renderable_cache",
    "_update_count",
    "_show_hover_cursor",
    "_labelled_row_exists",
    "_header_row_key",
)
_SHAPE_OK = version_tested() and all(hasattr(DataTable, name) for name in _METHODS)
if not _SHAPE_OK:
    skipped("fast grid drawing", "DataTable is not Textual 8.2's")


def cell_lines(
    cell: Cell, width: int, padding: int, pre: Style, post: Style
) -> SegmentLines | None:
    """The one line of segments Rich renders for a grid cell, built directly.

    This is what ``DataTable`` gets from ``Styled(Padding(cell, (0, padding)), pre, post)``
    (``pre`` and ``post`` applied to every segment, the text justified in the padded width with
    the cell's own style), at a small fraction of the cost; it is what a tick repaints. None
    when the text would not fit, is not plain printable text or starts or ends with a space:
    Rich then renders the cell (ellipsis, wide characters cut at the edge, justified spaces).
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


class _Frame(NamedTuple):
    """The grid's settings as one frame draws them (see ``FastDataTable._frame_constants``)."""

    own: bool  # the grid draws its data rows itself
    fixed_columns: int
    show_cursor: bool
    show_hover: bool
    pseudo: PseudoClasses
    padding: int
    css_foreground: bool
    css_background: bool
    zebra: bool
    columns: tuple[tuple[ColumnKey, int], ...]  # in order, with their widths
    fixed_width: int
    table_width: int  # of the scrolling columns and the row labels
    width: int  # of the widget
    styles: dict[str, Style]  # looked up by ``_frame_style``


# A cell as a row last drew it: the cell, its segments (one style's joined) and their width.
_Drawn = tuple[Cell, list[Segment], int]
_ROWS_REMEMBERED = 1000  # rows whose cells as last drawn are kept (a screen holds a few dozen)


class _Pieces(NamedTuple):
    """A data row's line in cells (see ``FastDataTable._row_pieces``)."""

    fixed: list[list[Segment]]  # the fixed columns
    scrollable: list[list[Segment]]  # every column, then the space right of the table
    fixed_lengths: list[int]
    lengths: list[int]


def _cut_to_width(pieces: _Pieces, fixed_columns: int, width: int) -> Strip | None:
    """A row's line when it is not scrolled sideways: the fixed columns and the others, cut at
    ``width`` as ``Strip.adjust_cell_length`` cuts (the segment reaching the edge is sized to
    it, what follows is dropped), its segments already joined as ``Strip.simplify`` joins
    them. Only whole cells are measured; None when the cells do not reach the width (DataTable
    pads the line then)."""
    segments = list(chain.from_iterable(pieces.fixed))
    position = sum(pieces.fixed_lengths)
    if position >= width:
        return None
    cells = zip(pieces.scrollable[fixed_columns:], pieces.lengths[fixed_columns:], strict=True)
    for cell, length in cells:
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
                segments.append(
                    Segment(set_cell_size(segment.text, width - position), segment.style)
                )
                return Strip(segments, width)
    return None


class FastDataTable(DataTable[Cell]):
    """A ``DataTable`` of :class:`~ibtui.tui.widgets.columns.Cell` that draws its one-line data
    rows itself and repaints only the cells :meth:`update_cells` changes."""

    def __init__(self, *, id: str | None = None) -> None:
        self._row_versions: dict[RowKey, int] = {}
        self._lines: LRUCache[tuple[object, ...], Strip] = LRUCache(1000)
        self._row_lines: LRUCache[tuple[object, ...], _Pieces] = LRUCache(1000)
        self._cell_lines: LRUCache[tuple[object, ...], tuple[SegmentLines, list[Segment], int]] = (
            LRUCache(10000)
        )
        # each row's cells as last drawn, with what they were drawn in (see _row_pieces), the
        # rows drawn last at the end
        self._row_cells: dict[RowKey, tuple[tuple[object, ...], dict[int, _Drawn]]] = {}
        self._frame: _Frame | None = None
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)  # clears the caches above
        self._fast = _SHAPE_OK and all(hasattr(self, name) for name in _ATTRIBUTES)

    def refresh_header(self) -> None:
        """Draw the header again (after a column's label changed)."""
        if self._fast:
            self._update_count += 1
        self.refresh()

    # --- drawing -------------------------------------------------------------------------------
    # DataTable keys every render cache on a table-wide update counter, which ``update_cell``
    # bumps: after any change, each frame renders every visible cell again. The grid keeps its
    # own caches for data rows instead, keyed on what a line is drawn from (the row's version,
    # bumped when one of its cells changes; a cell's own value), and looks the theme's styles up
    # once a frame rather than once a line (each lookup walks the widget's ancestors). The header
    # and anything unusual (row labels, a cell cursor, multi-line rows) are left to DataTable.
    # ``tests/tui/test_positions_grid_cells.py`` holds the result to DataTable's own drawing.

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._clear_own_caches()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._clear_own_caches()

    def _clear_own_caches(self) -> None:
        self._lines.clear()
        self._row_lines.clear()
        self._cell_lines.clear()
        self._row_cells.clear()
        self._frame = None

    def _frame_style(self, name: str) -> Style:
        """A component's (or, for ``""``, the widget's) style, looked up once a frame."""
        memo = self._frame_constants().styles
        style = memo.get(name)
        if style is None:
            style = self.rich_style if not name else self.get_component_styles(name).rich_style
            if name == "datatable--fixed":
                style += Style.from_meta({"fixed": True})
            memo[name] = style
        return style

    def _frame_constants(self) -> _Frame:
        """What every line of a frame is drawn with, read once a frame (each of these is a
        reactive or computed attribute, a few microseconds a read, and a frame reads them for
        every cell)."""
        frame = self._frame
        if frame is None:
            columns = self.ordered_columns
            widths = tuple((column.key, column.get_render_width(self)) for column in columns)
            fixed_columns = self.fixed_columns
            frame = self._frame = _Frame(
                own=self._own_drawing(),
                fixed_columns=fixed_columns,
                show_cursor=self.show_cursor,
                show_hover=self._show_hover_cursor,
                pseudo=self._pseudo_class_state,
                padding=self.cell_padding,
                css_foreground=self.cursor_foreground_priority == "css",
                css_background=self.cursor_background_priority == "css",
                zebra=self.zebra_stripes,
                columns=widths,
                fixed_width=sum(width for _, width in widths[:fixed_columns]),
                table_width=sum(width for _, width in widths[fixed_columns:])
                + self._row_label_column_width,
                width=self.size.width,
                styles={},
            )
        return frame

    def _own_drawing(self) -> bool:
        """Whether the grid draws its data rows itself: one-line rows with a row cursor, no
        fixed rows and no row labels (anything else is DataTable's)."""
        return (
            self._fast
            and self.cursor_type == "row"
            and not self.fixed_rows
            and not (self._labelled_row_exists and self.show_row_labels)
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame = None  # read again for this frame (DataTable sets the pseudo-classes first)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if not self._own_drawing():
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        if not self.show_header or y >= self.header_height:
            y += scroll_y
        return self._render_line(y, scroll_x, scroll_x + self.size.width, self._frame_style(""))

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        frame = self._frame_constants()
        width = frame.width
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        row = self.rows.get(row_key)
        if row_key is self._header_row_key or not frame.own or row is None or row.height != 1:
            return super()._render_line(y, x1, x2, base_style)
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        cache_key = (
            row_key,
            self._row_versions.get(row_key, 0),
            y,
            x1,
            x2,
            width,
            cursor,
            hover,
            base_style,
            frame.show_hover,
            self._update_count,
            frame.pseudo,
        )
        strip = self._lines.get(cache_key)
        if strip is None:
            pieces = self._row_pieces(row_key, line_no, base_style, cursor, hover)
            strip = None
            if x1 == 0:  # not scrolled sideways: the line is cut from the cells directly
                strip = _cut_to_width(pieces, frame.fixed_columns, width)
            if strip is None:  # DataTable's way
                segments = list(chain.from_iterable(pieces.fixed))
                segments += line_crop(
                    list(chain.from_iterable(pieces.scrollable)), x1 + frame.fixed_width, x2, width
                )
                strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
            self._lines[cache_key] = strip
        return strip

    def _row_pieces(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> _Pieces:
        """A one-line data row's cells (each with its segments of one style joined), the fixed
        columns' and all columns' followed by the space right of the table, with their widths."""
        frame = self._frame_constants()
        cache_key = (
            row_key,
            self._row_versions.get(row_key, 0),
            line_no,
            base_style,
            cursor_location,
            hover_location,
            frame.show_cursor,
            frame.show_hover,
            self._update_count,
            frame.pseudo,
        )
        cached = self._row_lines.get(cache_key)
        if cached is not None:
            return cached
        row_index = self._row_locations.get(row_key)
        if row_index is None:
            row_index = -1
        cursor_row, hover_row = cursor_location.row, hover_location.row
        cursor, hover = cursor_row == row_index, hover_row == row_index
        data = self._data.get(row_key, {})
        render_cell = self._render_cell
        data_cell = self._data_cell
        # A row repainted because some of its cells changed (a tick's prices) takes the others
        # as they were drawn last time, when it is drawn in the same setting (everything the
        # line's cache key holds but the row's version, its place and the frame's constants).
        setting = (cache_key[2:], row_index, frame[:-1])
        remembered = self._row_cells
        last = remembered.pop(row_key, None)
        before = last[1] if last is not None and last[0] == setting else {}
        drawn: dict[int, _Drawn] = {}
        remembered[row_key] = (setting, drawn)
        if len(remembered) > _ROWS_REMEMBERED:
            del remembered[next(iter(remembered))]  # the row drawn longest ago

        def draw(
            column_index: int,
            key: ColumnKey,
            width: int,
            style: Style,
            lengths: list[int],
            slot: int,
        ) -> list[Segment]:
            # a cell's segments with those of one style joined: cells never join each other
            # (each segment carries its cell's row and column in its style's meta)
            cell = data.get(key)
            if isinstance(cell, Cell):
                entry = before.get(slot)
                if entry is None or entry[0] is not cell:
                    _, segments, length = data_cell(
                        frame, row_index, column_index, cell, style, width, cursor, hover
                    )
                    entry = (cell, segments, length)
                drawn[slot] = entry
                lengths.append(entry[2])
                return entry[1]
            lines = render_cell(row_index, column_index, style, width, cursor, hover)
            segments = list(Segment.simplify(lines[line_no]))
            lengths.append(Segment.get_line_length(segments))
            return segments

        columns = frame.columns
        fixed_row: list[list[Segment]] = []
        fixed_lengths: list[int] = []
        if frame.fixed_columns:
            fixed_style = self._frame_style("datatable--fixed")
            for index, (key, width) in enumerate(columns[: frame.fixed_columns]):
                fixed_row.append(draw(index, key, width, fixed_style, fixed_lengths, -1 - index))
        if frame.zebra:
            row_style = self._frame_style(
                "datatable--odd-row" if row_index % 2 else "datatable--even-row"
            )
        else:
            row_style = base_style
        lengths: list[int] = []
        scrollable_row = [
            draw(index, key, width, row_style, lengths, index)
            for index, (key, width) in enumerate(columns)
        ]
        extend_style, _ = self._get_styles_to_render_cell(
            row_index == -1,
            False,
            False,
            hover_row == (row_index or 0),
            cursor,
            frame.show_cursor,
            frame.show_hover,
            False,
            False,
        )
        extend_style = row_style + extend_style
        extend_style += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        remaining_space = max(0, frame.width - frame.table_width)
        scrollable_row.append([Segment(" " * remaining_space, extend_style)])
        lengths.append(remaining_space)
        pieces = _Pieces(fixed_row, scrollable_row, fixed_lengths, lengths)
        self._row_lines[cache_key] = pieces
        return pieces

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        frame = self._frame_constants()
        if row_index >= 0 and column_index >= 0 and frame.own:
            row_key = self._row_locations.get_key(row_index)
            column_key = self._column_locations.get_key(column_index)
            row = self.rows.get(row_key) if row_key is not None else None
            if row is not None and row.height == 1 and row_key is not None and column_key:
                cell = self._data[row_key].get(column_key)
                if isinstance(cell, Cell):
                    return self._data_cell(
                        frame, row_index, column_index, cell, base_style, width, cursor, hover
                    )[0]
        return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)

    def _data_cell(
        self,
        frame: _Frame,
        row_index: int,
        column_index: int,
        cell: Cell,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> tuple[SegmentLines, list[Segment], int]:
        """A one-line data cell, cached on its value; built directly (:func:`cell_lines`)
        instead of through Rich's renderers: its lines, its one line with neighbouring
        segments of the same style joined (as ``Strip.simplify`` would join them in the line),
        and that line's width."""
        fixed = column_index < frame.fixed_columns
        cache_key = (
            row_index,
            column_index,
            cell,
            base_style,
            width,
            fixed,
            cursor,
            hover,
            frame.show_cursor,
            frame.show_hover,
            frame.pseudo,
            frame.padding,
        )
        cached = self._cell_lines.get(cache_key)
        if cached is not None:
            return cached
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            fixed,
            hover,
            cursor,
            frame.show_cursor,
            frame.show_hover,
            frame.css_foreground,
            frame.css_background,
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index})
        pre += component_style
        lines = cell_lines(cell, width, frame.padding, pre, post_style)
        built = lines is not None  # exactly ``width`` cells
        if lines is None:  # as DataTable renders it
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            lines = self.app.console.render_lines(
                Styled(Padding(cell, (0, frame.padding)), pre_style=pre, post_style=post_style),
                options,
            )
        joined = list(Segment.simplify(lines[0]))
        entry = (lines, joined, width if built else Segment.get_line_length(joined))
        self._cell_lines[cache_key] = entry
        return entry

    def update_cells(self, updates: Iterable[tuple[str, str, Cell]]) -> int:
        """Set many cells and repaint just those on screen; returns how many were set.

        ``update_cell`` bumps the table's update counter, which is part of every render-cache
        key: each following frame renders every visible cell again and sends every visible line
        to the terminal. Here only the changed cells' cache entries are dropped and only their
        regions on screen are refreshed, so a tick costs (and sends) what changed.
        """
        if not self._fast:
            count = 0
            for row_key, column_key, value in updates:
                self.update_cell(row_key, column_key, value)
                count += 1
            return count
        by_row: dict[str, dict[str, Cell]] = {}  # grouped first: DataTable's keys hash in Python
        count = 0
        for row_key, column_key, value in updates:
            cells = by_row.get(row_key)
            if cells is None:
                cells = by_row[row_key] = {}
            cells[column_key] = value
            count += 1
        data = self._data
        column_keys = {str(key.value): key for key in self.columns}  # DataTable's own objects
        changed: dict[RowKey, set[ColumnKey]] = {}
        for row_key, cells in by_row.items():
            key = RowKey(row_key)
            row = data.get(key)
            if row is None:
                raise CellDoesNotExist(f"No row {row_key!r}")
            columns = [column_keys.get(name) or ColumnKey(name) for name in cells]
            row.update(zip(columns, cells.values(), strict=True))
            changed[key] = set(columns)
        if changed:
            self._forget_rendered(changed)
            self._refresh_changed(changed)
        return count

    def _forget_rendered(self, changed: dict[RowKey, set[ColumnKey]]) -> None:
        """Drop the cached renderings of the changed cells, the rows and the lines they are in:
        the grid's own caches by a new version of each changed row (and a cell's by its value);
        DataTable's row renderables all at once; its other caches, when it draws, entry by
        entry."""
        versions = self._row_versions
        for row in changed:
            versions[row] = versions.get(row, 0) + 1
        # DataTable's row renderables, keyed on row indexes: it measures rows added with them
        # and draws its own rows from them, and makes them again when asked. Dropped at once
        # (searching a thousand entries for the changed rows' indexes cost more, at each
        # batch of quotes).
        self._row_renderable_cache.clear()
        if self._own_drawing():
            return
        cells = {(row, column) for row, columns in changed.items() for column in columns}
        cell_cache = self._cell_render_cache
        for cell_key in [k for k in list(cell_cache.keys()) if (k[0], k[1]) in cells]:
            cell_cache.discard(cell_key)
        row_cache = self._row_render_cache
        for row_key in [k for k in list(row_cache.keys()) if k[0] in changed]:
            row_cache.discard(row_key)
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
        high; the fixed columns do not scroll sideways): a row's scrollable cells as one region
        from the first changed to the last (a tick changes most of a row's prices, and the
        terminal writer sends only the cells that differ), its fixed cells one a cell."""
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
