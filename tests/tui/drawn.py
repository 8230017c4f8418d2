"""How a widget's text is drawn: the colour of a piece of a line, and how bright it is."""

from __future__ import annotations

from rich.color import Color as RichColor
from rich.style import Style
from textual.strip import Strip


def brightness(colour: RichColor | None) -> float:
    """The colour's luminance (0 to 255)."""
    assert colour is not None
    red, green, blue = colour.get_truecolor()
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def at(line: Strip, x: int) -> Style:
    """The style of the cell at ``x`` in a line."""
    position = 0
    for segment in line:
        position += segment.cell_length
        if position > x:
            return segment.style or Style.null()
    raise IndexError(x)


def style_of(line: Strip, text: str) -> Style:
    """The style of the first cell of ``text`` where the line shows it."""
    return at(line, line.text.index(text))
