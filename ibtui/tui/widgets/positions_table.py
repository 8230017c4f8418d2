"""One account's positions: the grid, a filter box (``/``) and a totals line.

A tick (:meth:`PositionsTable.apply_quotes`) reprices the rows it names and writes only the cells
whose text or colour changed, in one batch; rows are never cleared or rebuilt on a tick, and the
rows are re-sorted only when a tick changed the sort column. A changed number flashes green or red
for ``flash_seconds``: the flash ends with the first batch of quotes after that (in the same repaint
as the batch's new prices, so a cell changing every tick is sent once a tick, not twice), or
``FLASH_LINGER`` seconds later when no quotes come. The totals line is kept up to date by each
repriced row's difference and drawn once a frame. A price is greyed when it is older than the
pace stated for its row (:meth:`PositionsTable.set_pace`): ``stale_after`` for the rows in view,
``rest_stale_after`` for the others; never while a live stream covers its instrument (a quiet
stream pushes nothing: the price is current); always when not from a live quote.
A new filter or a new account refills the grid: the first rows at once, the rest in a worker,
chunk by chunk, so thousands of positions never freeze the screen. The grid draws one page of
rows; when they do not all fit, ``rows x–y of N`` above the totals says which page is shown
(page keys: ``ctrl+d``/``ctrl+u``, ``pgdn``/``pgup``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection, Container, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import cached_property
from typing import ClassVar

from rich.style import Style
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from ibtui.tui import keymap as ids
from ibtui.tui.viewmodels import (
    PositionView,
    QuoteView,
    Tally,
    Totals,
    merge_position,
    with_net_liquidation,
)
from ibtui.tui.widgets.columns import (
    COLUMN_KEYS,
    COLUMNS,
    PRICE_COLUMNS,
    Cell,
    CellStyles,
    Column,
    render_row,
)
from ibtui.tui.widgets.positions_grid import PositionsGrid, SortKey
from ibtui.tui.widgets.totals_line import TotalsLine, totals_parts

__all__ = ["PositionsTable", "TotalsLine"]

Clock = Callable[[], float]
_BY_KEY = {column.key: column for column in COLUMNS}
CHUNK = 250  # rows added per step when filling the grid
_REBUILD_THRESHOLD = 50  # more removals than this: refill instead of removing row by row
Update = tuple[str, str, Cell]
FLASH_LINGER = 0.5  # how long a finished flash waits for the next quotes to end with it
# A stream's burst (every streamed instrument that moved, at once) ends the flashes due by then
# or within this many seconds: a row that did not move with it would otherwise end its flash
# on a frame of its own a moment later (a burst a second, flashes of a second).
BURST_FLASH_EARLY = 0.1


def _matches(view: PositionView, words: Sequence[str]) -> bool:
    haystack = f"{view.symbol} {view.description} {view.asset_class} {view.currency}".casefold()
    return all(word in haystack for word in words)


class PositionsTable(Vertical):
    """Grid + filter + totals for one account."""

    DEFAULT_CSS = """
    PositionsTable {
        height: 1fr;
        #filter { display: none; height: 3; }
        #filter.-shown { display: block; }
        #pager { height: 1; padding: 0 1; display: none; text-align: right; color: $text-muted; }
        #pager.-shown { display: block; }
        #totals { height: 1; padding: 0 1; background: $boost; }
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id=ids.POSITIONS_FILTER),
        Binding(
            "escape", "clear_filter", "Clear filter", show=False, id=ids.POSITIONS_CLEAR_FILTER
        ),
        Binding("greater_than_sign", "sort_next", "Sort", id=ids.POSITIONS_SORT_NEXT),
        Binding(
            "less_than_sign",
            "sort_previous",
            "Sort back",
            show=False,
            id=ids.POSITIONS_SORT_PREVIOUS,
        ),
        Binding("r", "sort_reverse", "Reverse", id=ids.POSITIONS_SORT_REVERSE),
    ]

    class Loaded(Message):
        """Every row matching the filter is in the grid."""

    def __init__(
        self,
        *,
        base_currency: str = "USD",
        clock: Clock = time.time,
        stale_after: float = 6.0,
        rest_stale_after: float | None = None,
        flash_seconds: float = 1.0,
        cursor_blink: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.cursor_blink = cursor_blink
        self.base_currency = base_currency
        self.clock = clock
        self.stale_after = stale_after  # rows in view
        self.rest_stale_after = stale_after if rest_stale_after is None else rest_stale_after
        self.streamed: frozenset[int] = frozenset()  # conids a live stream covers: never stale
        self.flash_seconds = flash_seconds
        self.sort_column = "symbol"
        self.sort_reverse = False
        self.filter_text = ""
        self._views: dict[str, PositionView] = {}
        self._by_conid: dict[int, list[str]] = {}
        self._matching: set[str] = set()  # keys passing the filter (in the grid or pending)
        self._pending: list[str] = []  # matching keys not yet added to the grid
        self._cells: dict[str, dict[str, Cell]] = {}  # rows in the grid, as drawn (no flash)
        # Rows in the grid but out of view whose cells lag their position: formatted when they
        # come into view (a tick formats only what the trader can see).
        self._behind: set[str] = set()
        self._stale: set[str] = set()
        self._flashes: dict[tuple[str, str], float] = {}
        self._next_stale_check = math.inf
        self._resort_after_load = False
        self._styles: CellStyles | None = None
        self._tally: Tally | None = None  # the matching rows' totals; None: count afresh
        self._pager_text = ""
        self.net_liquidation: Decimal | None = None  # the rows' "% NLV" is of it

    def compose(self) -> ComposeResult:
        yield PositionsGrid(id="grid")
        yield Static(id="pager")
        yield TotalsLine(self._totals_parts, id="totals")

    # Looked up once composed (a query walks the children, and a tick asks a few times a batch).
    @cached_property
    def grid(self) -> PositionsGrid:
        return self.query_one(PositionsGrid)

    @cached_property
    def _totals_line(self) -> TotalsLine:
        return self.query_one("#totals", TotalsLine)

    def on_resize(self) -> None:
        self._update_totals()
        self._catch_up_in_view()
        self.call_after_refresh(self._catch_up_in_view)  # the grid's new height, once laid out

    def on_mount(self) -> None:
        self._styles = self.grid.cell_styles()
        self.grid.show_sort(self.sort_column, self.sort_reverse)
        self._update_totals()
        self.watch(self.grid, "scroll_y", self._update_pager, init=False)
        self.watch(self.grid, "scroll_x", self._update_totals, init=False)
        self.watch(self.grid, "scroll_y", self._catch_up_in_view, init=False)
        self.watch(self.grid, "scroll_y", self._recheck_stale, init=False)  # in view: stricter
        self.set_interval(0.25, self.refresh_marks)

    # --- read access --------------------------------------------------------------------------
    @property
    def views(self) -> Mapping[str, PositionView]:
        return self._views

    @property
    def visible_keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self.grid.row_keys)

    @property
    def filling(self) -> bool:
        """True while rows are still being added to the grid."""
        return bool(self._pending)

    @property
    def shown_rows(self) -> tuple[int, int, int]:
        """``(first, last, total)``: the rows on screen (1-based, inclusive) and how many rows
        match the filter (including those still being added)."""
        grid = self.grid
        total = len(self._matching)
        height = grid.scrollable_content_region.height - (
            grid.header_height if grid.show_header else 0
        )
        first = min(int(grid.scroll_y), grid.row_count)
        last = min(first + max(height, 0), grid.row_count)
        return (first + 1 if last > first else first, last, total)

    @property
    def stale_keys(self) -> frozenset[str]:
        return frozenset(self._stale)

    @property
    def flashing(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._flashes)

    def cell(self, key: str, column: str) -> Cell:
        if key in self._behind:
            self._catch_up([key])
        return self.grid.get_cell(key, column)

    def selected_view(self) -> PositionView | None:
        """The position under the cursor."""
        key = self.grid.cursor_key()
        return None if key is None else self._views.get(key)

    # --- data in --------------------------------------------------------------------------------
    def set_positions(self, positions: Iterable[PositionView]) -> None:
        """The account's complete position list (newer live prices already shown are kept).

        A row whose position is as it was (the list is fetched again every few seconds) keeps
        its view: nothing is drawn or counted again for it."""
        before = self._views
        fresh: dict[str, PositionView] = {}
        net = self.net_liquidation
        for view in positions:
            key = view.key
            if net is not None:
                view = with_net_liquidation(view, net)
            old = before.get(key)
            merged = merge_position(old, view)
            fresh[key] = old if old is not None and merged == old else merged
        gone = [key for key in before if key not in fresh]
        tally = self._tally
        self._views = fresh
        self._tally = None
        self._by_conid = {}
        for key, view in fresh.items():
            self._by_conid.setdefault(view.conid, []).append(key)
        shown_gone = [key for key in gone if key in self._cells]
        if len(shown_gone) > _REBUILD_THRESHOLD or not (self._cells or self._pending):
            self._rebuild()
            return
        grid = self.grid
        for key in shown_gone:
            grid.remove_row(key)
            self._forget(key)
        self._matching.difference_update(gone)
        words = self.filter_text.casefold().split()
        updates: list[Update] = []
        added = resort = False
        in_view = self._keys_in_view()
        sort_only = (_BY_KEY[self.sort_column],)
        for key, view in fresh.items():
            if key in in_view:
                self._behind.discard(key)
                resort = self._redraw(key, view, COLUMNS, updates, in_view=True) or resort
            elif key in self._cells:  # drawn when it scrolls into view; sorted now
                if view is not before.get(key):
                    self._behind.add(key)
                    resort = (
                        self._redraw(key, view, sort_only, updates, flash=False, in_view=False)
                        or resort
                    )
            elif key not in self._matching and _matches(view, words):
                self._matching.add(key)
                if self._pending:
                    self._pending.append(key)
                else:
                    self._add_row(key, view)
                    added = True
        grid.update_cells(updates)
        if tally is not None:  # counted by differences: the rows gone, added or changed
            for key in gone:
                tally.discard(key)
            for key in self._matching:
                view = fresh[key]
                if view is not before.get(key):
                    tally.put(key, view)
            self._tally = tally
        if added or resort:
            self._sort()
        self._update_totals()

    def set_net_liquidation(self, net: Decimal | None) -> None:
        """The account's net liquidation (base currency): each row's "% NLV" is of it."""
        if net == self.net_liquidation:
            return
        self.net_liquidation = net
        share = (_BY_KEY["nlv_pct"],)
        in_view = self._keys_in_view()
        updates: list[Update] = []
        resort = False
        for key, view in self._views.items():
            view = self._views[key] = with_net_liquidation(view, net)
            if key not in self._cells:
                continue
            if key in in_view or self.sort_column == "nlv_pct":
                shown = key in in_view
                resort = (
                    self._redraw(key, view, share, updates, flash=False, in_view=shown) or resort
                )
            else:
                self._behind.add(key)
        self.grid.update_cells(updates)
        if resort:
            self._sort()

    def set_pace(self, in_view: float, rest: float) -> None:
        """Grey a price in view once older than ``in_view`` seconds, another once older than
        ``rest`` (the paces the poller states, with their margins): the rows are looked at again
        at the next mark."""
        if (in_view, rest) != (self.stale_after, self.rest_stale_after):
            self.stale_after, self.rest_stale_after = in_view, rest
            self._recheck_stale()

    def set_streamed(self, conids: Collection[int]) -> None:
        """The conids a live stream covers now: their prices are current, however old."""
        streamed = frozenset(conids)
        if streamed != self.streamed:
            self.streamed = streamed
            self._recheck_stale()

    def _recheck_stale(self) -> None:
        """Every row's grey looked at again at the next mark (its limit changed)."""
        self._next_stale_check = -math.inf

    def apply_quotes(self, quotes: Mapping[int, QuoteView], *, burst: bool = False) -> None:
        """Reprice the rows holding these conids; only cells that change are written.

        Rows out of view get only their sort column's cell (when it is a price column) and are
        formatted when they scroll into view. The flashes of these rows that are over end in the
        same repaint (other rows' flashes end with their own quotes: a round comes in batches).
        A stream's ``burst`` (all its moves at once) ends every flash that is over, or nearly
        (``BURST_FLASH_EARLY``), in its repaint."""
        updates: list[Update] = []
        by_conid = self._by_conid
        if self._flashes:
            if burst:
                self._end_flashes(self.clock() + BURST_FLASH_EARLY, updates)
            else:
                rows = {key for conid in quotes for key in by_conid.get(conid, ())}
                self._end_flashes(self.clock(), updates, rows)
        resort = False
        in_view = self._keys_in_view()
        sort_only = tuple(c for c in PRICE_COLUMNS if c.key == self.sort_column)
        tally = self._tally
        reprice = tally.reprice if tally is not None else None
        views, cells, behind = self._views, self._cells, self._behind
        moved = False  # a quote that moves nothing keeps the view's values, the same objects
        for conid, quote in quotes.items():
            for key in by_conid.get(conid, ()):
                old = views[key]
                view = views[key] = old.with_quote(quote)
                if (
                    view.market_value is not old.market_value
                    or view.daily_pnl is not old.daily_pnl  # a closed row's day, from IBKR
                ):
                    moved = True
                    if reprice is not None:
                        reprice(key, view)
                if key not in cells:
                    continue
                if key in in_view:
                    behind.discard(key)
                    resort = self._redraw(key, view, PRICE_COLUMNS, updates, in_view=True) or resort
                else:
                    behind.add(key)
                    if sort_only:
                        resort = (
                            self._redraw(key, view, sort_only, updates, flash=False, in_view=False)
                            or resort
                        )
        self.grid.update_cells(updates)
        if resort:
            self._sort()
        if moved and self.is_mounted:  # quotes move no row: the pager stays as it is
            self._totals_line.refresh()  # summed when drawn, with the prices

    def set_filter(self, text: str) -> None:
        """Show only rows whose symbol, description, class or currency contain every word."""
        changed = text.split() != self.filter_text.split()
        self.filter_text = text
        if changed:
            self._rebuild()

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        if column not in _BY_KEY:
            raise ValueError(f"no such column: {column}")
        if column != self.sort_column:
            self._catch_up(list(self._behind))  # the new sort column's cells must all be current
        self.sort_column = column
        if reverse is not None:
            self.sort_reverse = reverse
        self.grid.show_sort(column, self.sort_reverse)
        self._sort()
        self._update_totals()  # the sort named there when its column is off screen

    # --- actions --------------------------------------------------------------------------------
    async def action_filter(self) -> None:
        box = self._filter_box()
        if box is None:  # made on first use: the first positions are shown without it
            box = Input(placeholder="filter: symbol, name, class, currency", id="filter")
            box.cursor_blink = self.cursor_blink
            await self.mount(box, before=self.grid)
        box.disabled = False
        box.add_class("-shown")
        box.focus()
        self.call_after_refresh(self._update_pager)  # the grid lost three lines

    def action_clear_filter(self) -> None:
        box = self._filter_box()
        if box is not None:
            box.value = ""
            self._hide_filter(box)
        self.set_filter("")

    def _filter_box(self) -> Input | None:
        return self.query_one_optional("#filter", Input)

    def action_sort_next(self) -> None:
        index = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(index + 1) % len(COLUMN_KEYS)])

    def action_sort_previous(self) -> None:
        index = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(index - 1) % len(COLUMN_KEYS)])

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        if not self.filter_text.strip():
            self._hide_filter(self.query_one("#filter", Input))
        else:
            self.grid.focus()

    def _hide_filter(self, box: Input) -> None:
        self.grid.focus()
        box.remove_class("-shown")
        box.disabled = True
        self.call_after_refresh(self._update_pager)

    @on(PositionsGrid.HeaderSelected)
    def _header_clicked(self, event: PositionsGrid.HeaderSelected) -> None:
        column = event.column_key
        self.sort_by(column, not self.sort_reverse if column == self.sort_column else False)

    # --- rows -----------------------------------------------------------------------------------
    def _stale_after(self, view: PositionView, in_view: bool) -> float:
        """How old the row's price may be before it is greyed: the pace stated for it."""
        if view.conid in self.streamed:
            return math.inf
        return self.stale_after if in_view else max(self.rest_stale_after, self.stale_after)

    def _is_stale(self, view: PositionView, now: float, in_view: bool) -> bool:
        return view.price_at is None or now - view.price_at > self._stale_after(view, in_view)

    def _mark_stale(self, key: str, view: PositionView, now: float, in_view: bool) -> bool:
        stale = self._is_stale(view, now, in_view)
        if stale:
            self._stale.add(key)
        else:
            self._stale.discard(key)
            self._due(view, in_view)
        return stale

    def _due(self, view: PositionView, in_view: bool) -> None:
        """Look again when a fresh price may have gone stale."""
        assert view.price_at is not None
        due = view.price_at + self._stale_after(view, in_view)
        if due < self._next_stale_check:
            self._next_stale_check = due

    def _add_row(self, key: str, view: PositionView) -> None:
        # as out of view: the next mark greys it by the stricter pace if it is in view
        stale = self._mark_stale(key, view, self.clock(), False)
        cells = render_row(view, stale, self._styles)
        self._behind.discard(key)
        self._cells[key] = cells
        self.grid.add_row(*(cells[column] for column in COLUMN_KEYS), key=key)

    def _forget(self, key: str) -> None:
        self._behind.discard(key)
        self._cells.pop(key, None)
        self._stale.discard(key)
        self._matching.discard(key)
        self._tally = None
        for column in COLUMN_KEYS:
            self._flashes.pop((key, column), None)

    def _redraw(
        self,
        key: str,
        view: PositionView,
        columns: Sequence[Column],
        out: list[Update],
        *,
        flash: bool = True,
        in_view: bool,
    ) -> bool:
        """Queue the changed cells of a row in the grid; True if the sort column's value moved.
        ``in_view``: the row is on screen (its price greys by the pace for rows in view)."""
        now = self.clock()
        stale = self._mark_stale(key, view, now, in_view)
        shown = self._cells[key]
        styles = self._styles
        sort_changed = False
        for column in columns:
            name = column.key
            before, after = shown[name], column.cell(view, stale, styles)
            if before == after:
                continue
            shown[name] = after
            old, new = before.sort_key, after.sort_key
            if old != new or before.missing != after.missing:
                sort_changed = sort_changed or name == self.sort_column
                if flash and styles and after.numeric and not after.missing:
                    up = before.missing or (
                        isinstance(old, Decimal) and isinstance(new, Decimal) and new > old
                    )
                    after = after.restyled(styles.flash_up if up else styles.flash_down)
                    self._flashes[(key, name)] = now + self.flash_seconds
            out.append((key, name, after))
        return sort_changed

    def _ordered(self, keys: Iterable[str]) -> list[str]:
        column, reverse = _BY_KEY[self.sort_column], self.sort_reverse

        def order(key: str) -> SortKey:
            view = self._views[key]
            raw = column.value(view)
            value: Decimal | str = (
                raw.casefold() if isinstance(raw, str) else Decimal(0) if raw is None else raw
            )
            return ((raw is None) != reverse, value, view.symbol.casefold())

        return sorted(keys, key=order, reverse=reverse)

    def _rebuild(self) -> None:
        """Refill the grid (new filter, new account, large removals; never on a tick)."""
        grid = self.grid
        keep = grid.cursor_key()
        grid.clear()
        self._cells.clear()
        self._behind.clear()
        self._stale.clear()
        self._flashes.clear()
        self._next_stale_check = -math.inf  # the rows in view: by their own pace
        self._resort_after_load = False
        words = self.filter_text.casefold().split()
        self._matching = {key for key, view in self._views.items() if _matches(view, words)}
        self._tally = None
        ordered = self._ordered(self._matching)
        for key in ordered[:CHUNK]:
            self._add_row(key, self._views[key])
        self._pending = ordered[CHUNK:]
        if self._pending:
            self._fill(keep)
        else:
            grid.move_to(keep)
            self.post_message(self.Loaded())
        self._update_totals()

    @work(exclusive=True, group="positions-fill")
    async def _fill(self, keep: str | None) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let keys and ticks through between chunks
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            for key in chunk:
                view = self._views.get(key)
                if view is not None and key in self._matching and key not in self._cells:
                    self._add_row(key, view)
            self._update_pager()
        if self._resort_after_load:
            self._resort_after_load = False
            self.grid.sort_rows(self.sort_column, self.sort_reverse)
        self.grid.move_to(keep)
        self._update_totals()
        self._recheck_stale()
        self.post_message(self.Loaded())

    def _sort(self) -> None:
        if self._pending:
            self._resort_after_load = True
        else:
            self.grid.sort_rows(self.sort_column, self.sort_reverse)
            self._catch_up_in_view()  # other rows may have moved into view

    def conids_in_view(self) -> list[int]:
        """The conids of the rows on screen."""
        views = self._views
        return [views[key].conid for key in self._keys_in_view() if key in views]

    def _keys_in_view(self) -> set[str]:
        """The keys of the rows on screen (rows are one line high)."""
        grid = self.grid
        header = grid.header_height if grid.show_header else 0
        top = int(grid.scroll_y)
        return set(grid.row_keys[top : top + max(0, grid.size.height - header)])

    def _catch_up_in_view(self) -> None:
        """Format the rows that came into view since their prices last changed."""
        if self._behind and self.is_mounted:
            self._catch_up([key for key in self._keys_in_view() if key in self._behind])

    def _catch_up(self, keys: Iterable[str]) -> None:
        updates: list[Update] = []
        in_view = self._keys_in_view() if self.is_mounted else set()
        for key in keys:
            self._behind.discard(key)
            view = self._views.get(key)
            if view is not None and key in self._cells:
                self._redraw(key, view, COLUMNS, updates, flash=False, in_view=key in in_view)
        self.grid.update_cells(updates)

    def _end_flashes(
        self, due: float, out: list[Update], rows: Container[str] | None = None
    ) -> None:
        """Queue the end of every flash (of ``rows``, if given) that was due to end by ``due``."""
        if not self._flashes:
            return
        cells = self._cells
        for (key, column), until in list(self._flashes.items()):
            if until <= due and (rows is None or key in rows):
                del self._flashes[(key, column)]
                if key in cells:
                    out.append((key, column, cells[key][column]))

    def refresh_marks(self) -> None:
        """End flashes that no round of quotes ended, grey prices that went stale, and draw
        again those whose limit changed (scrolled into or out of view, a new pace, the stream
        covering them or no longer) (runs on a timer)."""
        now = self.clock()
        updates: list[Update] = []
        self._end_flashes(now - FLASH_LINGER, updates)
        if now >= self._next_stale_check:
            self._next_stale_check = math.inf
            in_view = self._keys_in_view()
            stale_now = self._stale
            for key in self._cells:
                view = self._views[key]
                shown = key in in_view
                stale = self._is_stale(view, now, shown)
                if stale == (key in stale_now):
                    if not stale:
                        self._due(view, shown)
                elif shown:
                    self._behind.discard(key)
                    self._redraw(key, view, PRICE_COLUMNS, updates, flash=False, in_view=True)
                else:
                    self._mark_stale(key, view, now, False)  # drawn when it scrolls into view
                    self._behind.add(key)
        self.grid.update_cells(updates)

    def _update_pager(self) -> None:
        """``rows x–y of N`` above the totals, while not every row fits on the screen."""
        if not self.is_mounted:
            return
        first, last, total = self.shown_rows
        pager = self.query_one("#pager", Static)
        paged = total > last - first + 1 if last else False
        text = f"rows {first:,}–{last:,} of {total:,}"
        if paged and text != self._pager_text:  # an update repaints the line, same text or not
            self._pager_text = text
            pager.update(text, layout=False)  # one line
        if paged != pager.has_class("-shown"):
            pager.set_class(paged, "-shown")
            self.call_after_refresh(self._update_pager)  # the grid's height changed

    def _update_totals(self) -> None:
        """The pager, and the totals line drawn anew with the next frame."""
        if not self.is_mounted:
            return
        self._update_pager()
        self._totals_line.refresh()

    def totals(self) -> Totals:
        """The totals of the rows matching the filter: counted afresh after the rows or the
        filter changed, and kept up to date by each repriced row's difference on a tick."""
        tally = self._tally
        if tally is None:
            views = self._views
            matching = {key: views[key] for key in self._matching}
            tally = self._tally = Tally(self.base_currency, matching)
        return tally.totals()

    def _totals_parts(self) -> list[tuple[str, Style | None]]:
        """The totals line's pieces of text, each with its style."""
        filtered = bool(self.filter_text.strip())
        sort = None
        if not self.grid.column_in_view(self.sort_column):  # its header's ▲/▼ is off screen
            sort = f"{_BY_KEY[self.sort_column].label} {'▼' if self.sort_reverse else '▲'}"
        return totals_parts(
            self.totals(), filtered=filtered, width=self.size.width, styles=self._styles, sort=sort
        )
