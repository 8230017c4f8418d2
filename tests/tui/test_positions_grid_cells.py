"""The grid draws its cells without Rich's renderers; what reaches the screen must not change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.pilot import Pilot
from textual.renderables.styled import Styled
from textual.strip import Strip

from ibtui.tui.textual_compat import datatable
from ibtui.tui.viewmodels import QuoteView
from ibtui.tui.widgets.columns import Cell
from ibtui.tui.widgets.positions_grid import PositionsGrid, cell_lines
from ibtui.tui.widgets.positions_table import PositionsTable
from tests.tui.conftest import Clock, Host, position, sample_positions

CONSOLE = Console(width=200, color_system="truecolor", force_terminal=True)

colors = st.sampled_from([None, "red", "#30a050", "rgb(10,20,30)", "default"])
styles = st.builds(
    Style,
    color=colors,
    bgcolor=colors,
    bold=st.sampled_from([None, True, False]),
    italic=st.sampled_from([None, True]),
    reverse=st.sampled_from([None, True]),
)
metas = st.fixed_dictionaries({"row": st.integers(0, 999), "column": st.integers(0, 12)})
texts = st.one_of(
    st.text(alphabet="0123456789.,+-%CH ", max_size=16),
    st.text(max_size=14),  # any characters: wide, combining, control
    st.sampled_from(["", "AAPL", "+4,241.00", "C 222.91", "日本電信電話", "Société Générale"]),
)


def rich_lines(
    cell: Cell, width: int, padding: int, pre: Style, post: Style
) -> list[list[Segment]]:
    """What ``DataTable._render_cell`` gets from Rich for a one-line cell."""
    options = CONSOLE.options.update_dimensions(width, 1).update(no_wrap=True)
    return CONSOLE.render_lines(
        Styled(Padding(cell, (0, padding)), pre_style=pre, post_style=post), options
    )


@settings(max_examples=400, deadline=None)
@given(
    text=texts,
    numeric=st.booleans(),
    style=st.one_of(st.none(), styles),
    width=st.integers(1, 24),
    padding=st.integers(0, 2),
    base=styles,
    meta=metas,
    post=st.one_of(st.just(Style.null()), styles),
)
def test_a_cell_built_directly_is_what_rich_renders(
    text: str,
    numeric: bool,
    style: Style | None,
    width: int,
    padding: int,
    base: Style,
    meta: dict[str, int],
    post: Style,
) -> None:
    cell = Cell(text, text, numeric=numeric, style=style)
    pre = base + Style.from_meta(meta)
    built = cell_lines(cell, width, padding, pre, post)
    if built is None:  # left to Rich: only text that does not fit or is not plain
        inner = width - 2 * padding
        assert (
            not text.isprintable() or text != text.strip() or inner <= 0 or cell_len(text) > inner
        )
        return
    assert built == rich_lines(cell, width, padding, pre, post)
    # the same styles, meta included (Style equality ignores nothing the terminal sees)
    assert [s.style.meta if s.style else None for s in built[0]] == [
        s.style.meta if s.style else None for s in rich_lines(cell, width, padding, pre, post)[0]
    ]


def test_plain_prices_always_take_the_direct_path() -> None:
    cell = Cell("1,234.56", Decimal("1234.56"), numeric=True, style=Style(color="green"))
    assert cell_lines(cell, 12, 1, Style(bgcolor="black"), Style.null()) is not None


def drawn(grid: PositionsGrid, own: bool, monkeypatch: pytest.MonkeyPatch) -> list[Strip]:
    """Every line of the grid as the compositor asks for it, drawn from empty caches, by the
    grid's own drawing or (``own=False``) by DataTable's."""
    with monkeypatch.context() as patch:
        if not own:
            patch.setattr(grid, "_own_drawing", lambda: False)
        grid._clear_caches()
        return grid.render_lines(Region(0, 0, grid.size.width, grid.size.height))


async def test_the_grid_on_screen_is_what_datatable_draws(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cursor row, hover, zebra stripes, the fixed symbol column, scrolled sideways, focus lost,
    flashes, greyed and coloured numbers, a description cut with an ellipsis, the screen's edge
    inside a cell or right of the table: every line the grid draws itself is the line DataTable
    would draw."""
    views = [*sample_positions(), position(4, "LONG", "100", "1", "1", description="x" * 40)]
    app = Host(lambda: PositionsTable(clock=clock, stale_after=6.0, cursor_blink=False))
    async with app.run_test(size=(80, 14)) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(views)
        await pilot.pause()
        grid = table.grid
        grid.focus()
        clock.advance(2)
        table.apply_quotes({265598: QuoteView(265598, Decimal("223.91"), updated_at=clock())})
        assert table.flashing
        states: list[tuple[tuple[Segment, ...], ...]] = []
        for step in (
            "start",
            "cursor",
            "hover",
            "sideways",
            "blur",
            "stale",
            "cut",
            "edge",
            "wide",
        ):
            if step == "cursor":
                await pilot.press("j", "j")
            elif step == "hover":
                grid._show_hover_cursor = True
                grid.hover_coordinate = Coordinate(3, 2)
            elif step == "sideways":
                grid.scroll_to(x=30, animate=False)
            elif step == "blur":
                app.set_focus(None)
            elif step == "stale":
                clock.advance(30)
                table.refresh_marks()
            elif step == "cut":  # the screen's edge inside the market values' digits
                grid.scroll_to(x=0, animate=False)
                await pilot.resize_terminal(89, 14)
            elif step == "edge":  # the screen's edge right after the market values
                await pilot.resize_terminal(91, 14)
            elif step == "wide":  # the table narrower than the screen: a filled right edge
                await pilot.resize_terminal(200, 14)
            await pilot.pause()
            own, theirs = drawn(grid, True, monkeypatch), drawn(grid, False, monkeypatch)
            assert [list(line) for line in own] == [list(line) for line in theirs], step
            states.append(tuple(tuple(line) for line in own))
        assert len(set(states)) == len(states)  # each step changed what is drawn
        first = "\n".join("".join(segment.text for segment in line) for line in states[0])
        assert "223.91" in first and "…" in first


@asynccontextmanager
async def sample_grid(clock: Clock) -> AsyncIterator[tuple[Pilot[None], PositionsTable]]:
    """A positions table of the sample positions, drawn once, in a 100x12 terminal."""
    app = Host(lambda: PositionsTable(clock=clock, stale_after=6.0, cursor_blink=False))
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(sample_positions())
        await pilot.pause()
        yield pilot, table


async def test_a_repainted_row_is_drawn_as_if_afresh(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row repainted because some of its cells changed takes the others as it last drew them:
    after quotes, flashes ending, a cursor move, hover and stale marks, every line drawn through
    the grid's caches is the line drawn from empty caches."""
    async with sample_grid(clock) as (pilot, table):
        grid = table.grid
        grid.focus()
        region = Region(0, 0, grid.size.width, grid.size.height)
        drawn(grid, True, monkeypatch)  # the rows' cells as last drawn
        price = Decimal("223.91")
        for step in ("quote", "quote again", "flash ends", "cursor", "hover", "quote", "stale"):
            if step.startswith("quote"):
                clock.advance(1)
                price += Decimal("0.37")
                quote = QuoteView(265598, price, Decimal("0.5"), updated_at=clock())
                table.apply_quotes({265598: quote, 272093: QuoteView(272093, price / 2)})
            elif step == "flash ends":
                clock.advance(2)
                table.refresh_marks()
            elif step == "cursor":
                await pilot.press("j")
            elif step == "hover":
                grid._show_hover_cursor = True
                grid.hover_coordinate = Coordinate(0, 3)
            elif step == "stale":
                clock.advance(30)
                table.refresh_marks()
            await pilot.pause()
            through_caches = grid.render_lines(region)
            afresh = drawn(grid, True, monkeypatch)
            assert [list(line) for line in through_caches] == [list(line) for line in afresh], step


async def test_a_repainted_row_draws_only_the_cells_that_changed(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick repaints a row from its cells: only the ones the quote changed are built again."""
    async with sample_grid(clock) as (_pilot, table):
        grid = table.grid
        region = Region(0, 0, grid.size.width, grid.size.height)
        built: list[int] = []
        data_cell = grid._data_cell

        def spy(*args: object) -> object:
            built.append(1)
            return data_cell(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(grid, "_data_cell", spy)
        for step in range(3):
            clock.advance(1)
            last = Decimal("224.50") + step
            table.apply_quotes({265598: QuoteView(265598, last, updated_at=clock())})
            built.clear()
            grid.render_lines(region)
            # the row's last price, market value and P&L cells changed: the other ten are taken
            # as the row last drew them
            assert 0 < len(built) <= 5, step


async def test_on_another_textual_the_grid_draws_and_updates_as_datatable(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When DataTable is not what the fast drawing was written for (the guard says so), the grid
    is DataTable's own: the same lines, and a tick's prices still reach the screen."""
    async with sample_grid(clock) as (pilot, table):
        fast = drawn(table.grid, True, monkeypatch)
    monkeypatch.setattr(datatable, "_SHAPE_OK", False)
    async with sample_grid(clock) as (pilot, table):
        grid = table.grid
        assert not grid._own_drawing()
        assert [list(line) for line in drawn(grid, True, monkeypatch)] == [
            list(line) for line in fast
        ]
        clock.advance(1)
        table.apply_quotes({265598: QuoteView(265598, Decimal("231.17"), updated_at=clock())})
        await pilot.pause()
        lines = grid.render_lines(Region(0, 0, grid.size.width, grid.size.height))
        assert "231.17" in "".join(line.text for line in lines)
