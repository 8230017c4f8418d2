"""The positions grid as drawn: what each line says and how it is coloured, in the states a trader
sees (cursor, hover, zebra stripes, the fixed symbol column scrolled sideways, flashes, stale
prices, focus lost), and that a tick redraws only what changed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot
from textual.renderables.styled import Styled
from textual.strip import Strip

from ibtui.tui.viewmodels import QuoteView
from ibtui.tui.widgets import grid_lines
from ibtui.tui.widgets.columns import Cell
from ibtui.tui.widgets.positions_grid import PositionsGrid, cell_lines
from ibtui.tui.widgets.positions_table import PositionsTable
from tests.tui.conftest import Clock, Host, position, sample_positions
from tests.tui.drawn import at, brightness

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
    """What Rich renders for a one-line cell."""
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


# --- on screen ------------------------------------------------------------------------------------
def screen(grid: PositionsGrid) -> list[Strip]:
    """The grid's lines as the compositor asks for them."""
    return grid.render_lines(Region(0, 0, grid.size.width, grid.size.height))


def bg(line: Strip, x: int) -> RichColor | None:
    return at(line, x).bgcolor


def theme(pilot: Pilot[None], name: str) -> RichColor:
    return Color.parse(pilot.app.get_css_variables()[name]).rich_color


@asynccontextmanager
async def grid_of(
    clock: Clock, size: tuple[int, int], extra: bool = False
) -> AsyncIterator[tuple[Pilot[None], PositionsTable]]:
    """A focused positions table of the sample positions (and one with a long description)."""
    views = sample_positions()
    if extra:
        views.append(position(4, "LONG", "100", "1", "1", description="x" * 40))
    app = Host(lambda: PositionsTable(clock=clock, stale_after=6.0, cursor_blink=False))
    async with app.run_test(size=size) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(views)
        table.grid.focus()
        await pilot.pause()
        yield pilot, table


async def test_the_header_rows_and_cursor_as_drawn(clock: Clock) -> None:
    async with grid_of(clock, (80, 14), extra=True) as (pilot, table):
        grid = table.grid
        lines = screen(grid)
        assert lines[0].text.split()[:5] == ["Symbol", "▲", "Description", "Class", "Qty"]
        assert at(lines[0], 3).bold and at(lines[0], 40).bold  # the header, fixed part too
        symbols = [line.text.split()[0] for line in lines[1:8]]
        assert symbols == ["AAPL", "EUR.USD", "LONG", "MSFT", "SAP", "SPY", "SPY"]
        assert all(line.cell_length == 80 for line in lines)
        # the cursor row, the fixed symbol included, in the focused cursor's colour
        cursor = theme(pilot, "block-cursor-background")
        assert {bg(lines[1], x) for x in (0, 5, 30, 79)} == {cursor}
        assert bg(lines[2], 30) != cursor
        # zebra stripes behind the scrollable columns; the symbol column its own colour
        assert bg(lines[2], 30) == bg(lines[4], 30) != bg(lines[3], 30) == bg(lines[5], 30)
        assert bg(lines[2], 5) == bg(lines[3], 5) not in {bg(lines[2], 30), bg(lines[3], 30)}
        # a description too long for its column ends in an ellipsis
        assert "x" * 19 + "…" in lines[3].text
        # below the rows: the grid's background
        assert lines[-1].text.strip() == "" and bg(lines[-1], 0) not in {cursor, None}

        await pilot.press("j", "j")
        lines = screen(grid)
        assert grid.cursor_row == 2 and bg(lines[3], 30) == cursor != bg(lines[1], 30)

        pilot.app.set_focus(None)
        await pilot.pause()
        blurred = screen(grid)
        assert bg(blurred[3], 30) not in {cursor, bg(blurred[2], 30), bg(blurred[4], 30)}


async def test_the_symbol_stays_while_the_columns_scroll_sideways(clock: Clock) -> None:
    async with grid_of(clock, (80, 14)) as (pilot, table):
        grid = table.grid
        before = screen(grid)
        await pilot.press("right", "right", "right")
        assert grid.scroll_x == 3
        after = screen(grid)
        assert [line.text[:12] for line in after] == [line.text[:12] for line in before]
        assert after[1].text[12:] == before[1].text[15:] + after[1].text[-3:]
        await pilot.press("end")
        assert grid.scroll_x == grid.max_scroll_x > 0
        end = screen(grid)
        assert end[0].text.rstrip().endswith("% NLV") and end[1].text.startswith(" AAPL ")
        await pilot.press("home")
        assert screen(grid)[0].text == before[0].text


async def test_a_wide_screen_fills_each_row_in_its_colours(clock: Clock) -> None:
    async with grid_of(clock, (200, 12)) as (pilot, table):
        lines = screen(table.grid)
        cursor = theme(pilot, "block-cursor-background")
        assert lines[1].cell_length == 200 and bg(lines[1], 199) == cursor
        assert bg(lines[2], 199) == bg(lines[2], 30) and bg(lines[3], 199) == bg(lines[3], 30)
        assert bg(lines[0], 199) == bg(lines[0], 30)  # the header's colour


async def test_flashes_and_stale_prices_as_drawn(clock: Clock) -> None:
    async with grid_of(clock, (100, 12)) as (pilot, table):
        grid = table.grid
        await pilot.press("j")  # the cursor off AAPL
        plain = screen(grid)[1]
        last = plain.text.index("222.91")
        clock.advance(2)
        table.apply_quotes({265598: QuoteView(265598, Decimal("223.91"), updated_at=clock())})
        await pilot.pause()
        flashed = screen(grid)[1]
        assert "223.91" in flashed.text and at(flashed, last).bold
        assert bg(flashed, last) not in {bg(plain, last), bg(flashed, 22)}
        # a tint, as the CSS asks ($success 40% over the row): not the full colour (a partial
        # style drops the 40%, and white text on bright green was hard to read)
        under, tint = Color.from_rich_color(bg(plain, last)), theme(pilot, "success")
        expected = under.blend(Color.from_rich_color(tint), 0.4).rich_color.get_truecolor()
        drawn = bg(flashed, last)
        assert drawn is not None
        assert all(abs(a - b) <= 2 for a, b in zip(drawn.get_truecolor(), expected, strict=True))
        clock.advance(2)
        table.refresh_marks()  # the flash ends
        await pilot.pause()
        ended = screen(grid)[1]
        assert not at(ended, last).bold and bg(ended, last) == bg(plain, last)
        fresh_colour = at(ended, last).color
        clock.advance(30)
        table.refresh_marks()  # the price is stale
        await pilot.pause()
        stale = screen(grid)[1]
        # the theme's disabled text: its colour at 38% over the background, greyed, not white
        stale_colour = at(stale, last).color
        assert brightness(stale_colour) < 0.75 * brightness(fresh_colour)
        assert at(stale, 3).color != stale_colour  # the symbol is not greyed


async def test_the_mouse_hovers_selects_and_sorts(clock: Clock) -> None:
    async with grid_of(clock, (100, 12)) as (pilot, table):
        grid = table.grid
        rest = screen(grid)
        await pilot.hover(grid, offset=(30, 3))
        await pilot.pause()
        hovered = screen(grid)
        assert bg(hovered[3], 30) not in {bg(rest[3], 30), bg(rest[2], 30), bg(rest[1], 30)}
        assert bg(hovered[3], 3) != bg(rest[3], 3)  # the symbol too
        assert bg(hovered[4], 30) == bg(rest[4], 30) and bg(hovered[2], 30) == bg(rest[2], 30)
        await pilot.click(grid, offset=(30, 4))
        assert grid.cursor_row == 3
        await pilot.click(grid, offset=(25, 0))  # the Description header
        await pilot.pause()
        assert (table.sort_column, table.sort_reverse) == ("description", False)
        assert screen(grid)[0].text.split()[:3] == ["Symbol", "Description", "▲"]
        await pilot.click(grid, offset=(25, 0))
        await pilot.pause()
        assert table.sort_reverse and "Description ▼" in screen(grid)[0].text


async def test_a_repainted_row_is_drawn_as_if_afresh(clock: Clock) -> None:
    """A row repainted because some of its cells changed takes the others as it last drew them:
    after quotes, flashes ending, a cursor move and stale marks, every line drawn through the
    grid's caches is the line drawn anew (after a change of width empties them)."""
    async with grid_of(clock, (100, 12)) as (pilot, table):
        grid = table.grid
        screen(grid)  # the rows' cells as last drawn
        price = Decimal("223.91")
        for step in ("quote", "quote again", "flash ends", "cursor", "quote", "stale"):
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
            elif step == "stale":
                clock.advance(30)
                table.refresh_marks()
            await pilot.pause()
            through_caches = screen(grid)
            await pilot.resize_terminal(101, 12)
            screen(grid)
            await pilot.resize_terminal(100, 12)
            afresh = screen(grid)
            assert [list(line) for line in through_caches] == [list(line) for line in afresh], step


async def test_a_repainted_row_draws_only_the_cells_that_changed(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick repaints a row from its cells: only the ones the quote changed are built again."""
    async with grid_of(clock, (100, 12)) as (_pilot, table):
        grid = table.grid
        built: list[str] = []

        draw = grid_lines._cell_line

        def spy(cell: Cell, *args: object) -> object:
            built.append(cell.text)
            return draw(cell, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(grid_lines, "_cell_line", spy)
        screen(grid)
        for step in range(3):
            clock.advance(1)
            last = Decimal("224.50") + step
            table.apply_quotes({265598: QuoteView(265598, last, updated_at=clock())})
            built.clear()
            lines = screen(grid)
            assert str(last) in lines[1].text
            # the row's last price, market value and P&L cells changed: the other ten are taken
            # as the row last drew them
            assert str(last) in built and 0 < len(built) <= 5, (step, built)


async def test_a_change_of_focus_or_theme_redraws_every_line_in_its_new_colours(
    clock: Clock,
) -> None:
    """The grid keeps the styles it draws in from frame to frame: a blur, a focus and a new
    theme each draw every line in the new colours, as a grid drawn afresh (every cache emptied
    by a change of width) draws them."""
    async with grid_of(clock, (100, 12)) as (pilot, table):
        grid = table.grid
        app = pilot.app

        def theme_named(name: str) -> Callable[[], object]:
            return lambda: setattr(app, "theme", name)

        steps: list[tuple[str, Callable[[], object]]] = [
            ("blur", lambda: app.set_focus(None)),
            ("focus", grid.focus),
            ("light theme", theme_named("textual-light")),
            ("blur in the light theme", lambda: app.set_focus(None)),
            ("dark theme", theme_named("textual-dark")),
            ("focus in the dark theme", grid.focus),
        ]
        for name, step in steps:
            before = [list(line) for line in screen(grid)]
            step()
            await pilot.pause()
            drawn = [list(line) for line in screen(grid)]
            assert drawn != before, name
            await pilot.resize_terminal(101, 12)
            screen(grid)
            await pilot.resize_terminal(100, 12)
            assert drawn == [list(line) for line in screen(grid)], name


async def test_a_stale_price_is_drawn_dimmer_than_a_live_one(clock: Clock) -> None:
    """Greyed, as the theme's disabled text: not brighter than a live price (a partial style of
    $text-disabled, "auto 38%", drew it pure white)."""
    views = [
        position(1, "LIVE", "10", "100", "90", price_at=clock()),
        position(2, "OLD", "10", "100", "90", price_at=clock() - 60),
        position(3, "NEW", "10", "100", "90", price_at=clock()),
    ]
    app = Host(lambda: PositionsTable(clock=clock, stale_after=6.0, cursor_blink=False))
    async with app.run_test(size=(120, 8)) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(views)
        await pilot.pause()
        assert {table.views[key].conid for key in table.stale_keys} == {2}
        lines = screen(table.grid)
        x = lines[0].text.index("Last") + 6
        old, new = (next(line for line in lines if f" {s} " in line.text) for s in ("OLD", "NEW"))
        assert grid_cursor_not_on(table, (old, new))
        assert old.text[x] == new.text[x] == "0"  # both rows' last price, "100.00"
        live, stale = at(new, x), at(old, x)
        assert brightness(stale.color) < 0.75 * brightness(live.color), (stale, live)


def grid_cursor_not_on(table: PositionsTable, lines: tuple[Strip, ...]) -> bool:
    cursor = table.grid.cursor_row
    return cursor == 0 and all(" LIVE " not in line.text for line in lines)
