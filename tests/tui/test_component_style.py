"""component_style: a component class's own style with its colour as Textual draws it, and the
one way the console's widgets take a style they lay over their own background."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.style import Style
from textual.color import Color
from textual.widget import Widget

import ibtui.tui
from ibtui.tui.component_style import component_style
from tests.tui.conftest import Host


class Painted(Widget):
    DEFAULT_CSS = """
    Painted {
        background: #203040;
        & > .painted--muted { color: $text-muted; text-style: italic; }
        & > .painted--half { color: #ff0000 50%; }
        & > .painted--plain { color: #00ff00; text-style: bold; }
        & > .painted--badge { background: #ffffff; color: $text; }
        & > .painted--bold { text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "painted--muted",
        "painted--half",
        "painted--plain",
        "painted--badge",
        "painted--bold",
    }


def rgb(style: Style) -> tuple[int, int, int]:
    assert style.color is not None
    return style.color.get_truecolor()


async def test_auto_and_translucent_colours_are_blended_over_what_is_beneath() -> None:
    app = Host(Painted)
    async with app.run_test(size=(20, 4)):
        widget = app.query_one(Painted)
        background = Color.parse("#203040")
        muted = component_style(widget, "painted--muted")
        # "auto 60%": the background's contrasting text at 60%, over the background
        assert rgb(muted) == (background + background.get_contrast_text(0.6)).rgb != (255,) * 3
        assert muted.italic and muted.bgcolor is None  # the rest is the class's own
        half = component_style(widget, "painted--half")
        assert rgb(half) == (background + Color(255, 0, 0, 0.5)).rgb
        # over the class's own background: $text ("auto 87%") is dark text on white
        badge = component_style(widget, "painted--badge")
        white = Color(255, 255, 255)
        assert rgb(badge) == (white + white.get_contrast_text(0.87)).rgb
        assert badge.bgcolor is not None and badge.bgcolor.get_truecolor() == (255, 255, 255)


async def test_an_opaque_colour_or_none_is_the_partial_style_as_it_is() -> None:
    app = Host(Painted)
    async with app.run_test(size=(20, 4)):
        widget = app.query_one(Painted)
        for name in ("painted--plain", "painted--bold"):
            partial = widget.get_component_rich_style(name, partial=True)
            assert component_style(widget, name) == partial
        assert component_style(widget, "painted--bold").color is None  # the widget's own


def test_no_widget_takes_a_partial_style_but_through_component_style() -> None:
    """A partial style drops an auto or translucent colour's alpha (pure white for the theme's
    muted text): the console's code takes one only through component_style."""
    root = Path(ibtui.tui.__file__).parent
    helper = root / "component_style.py"
    found = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        if path != helper
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "partial=True" in line or "partial_rich_style" in line
    ]
    assert found == []
