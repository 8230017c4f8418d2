"""The console's ANSI-to-truecolor filter draws every line as Textual's does, and hands back a
line none of whose styles it would change as it is (no new segments)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import DEFAULT_TERMINAL_THEME
from textual.color import Color
from textual.filter import ANSIToTruecolor

from ibtui.tui import textual_compat
from ibtui.tui.app import IbtuiApp
from ibtui.tui.textual_compat.truecolor import Truecolor
from tests.tui.conftest import PAPER, Clock, ViewBroker

BACKGROUND = Color(12, 34, 56)
COLOURS = [None, "red", "bright_blue", "color(200)", "#102030", "rgb(200,10,10)", "default"]

styles = st.builds(
    lambda color, bgcolor, dim, bold: Style(color=color, bgcolor=bgcolor, dim=dim, bold=bold),
    st.sampled_from(COLOURS),
    st.sampled_from(COLOURS),
    st.sampled_from([None, True, False]),
    st.booleans(),
)
segments = st.builds(Segment, st.text(alphabet="ab │-", min_size=1, max_size=6), st.none() | styles)


@settings(max_examples=300, deadline=None)
@given(st.lists(segments, max_size=12))
def test_a_line_is_drawn_as_textual_draws_it(line: list[Segment]) -> None:
    ours = Truecolor(DEFAULT_TERMINAL_THEME).apply(line, BACKGROUND)
    textual = ANSIToTruecolor(DEFAULT_TERMINAL_THEME).apply(line, BACKGROUND)
    assert ours == textual


def test_a_line_in_true_colours_comes_back_as_it_is() -> None:
    line = [
        Segment(" AAPL ", Style(color="#e0e0e0", bgcolor="#1b1b1b", bold=True)),
        Segment("222.91", Style(color="#8ad4a1", bgcolor="#1b1b1b")),
        Segment(" ", None),
    ]
    assert Truecolor(DEFAULT_TERMINAL_THEME).apply(line, BACKGROUND) is line


def test_a_line_with_an_ansi_colour_or_dim_is_converted() -> None:
    truecolor = Truecolor(DEFAULT_TERMINAL_THEME)
    for style in (Style(color="red"), Style(color="#808080", dim=True)):
        line = [Segment("x", Style(color="#e0e0e0")), Segment("y", style)]
        converted = truecolor.apply(line, BACKGROUND)
        assert converted is not line
        assert converted[1].style != style and converted[1].style.color.triplet is not None  # type: ignore[union-attr]


async def test_the_console_filters_with_it_in_any_theme() -> None:
    clock = Clock()
    app = IbtuiApp(ViewBroker([], clock, accounts=[PAPER]), clock=clock)
    textual_compat.install(app)  # as run_app
    async with app.run_test(size=(80, 24)) as pilot:
        assert [type(f) for f in app._filters if isinstance(f, ANSIToTruecolor)] == [Truecolor]
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        filters = [f for f in app._filters if isinstance(f, ANSIToTruecolor)]
        assert [type(f) for f in filters] == [Truecolor]
        assert filters[0]._terminal_theme is app.ansi_theme
