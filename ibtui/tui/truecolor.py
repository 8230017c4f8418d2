"""Textual's ANSI-to-truecolor line filter, handing back a line that it would not change.

Every line Textual draws goes through ``ANSIToTruecolor`` (unless the terminal's own ANSI colours
are used), which makes a new segment for every segment of the line even when no style in it has
an ANSI colour or is dim. The console's styles are theme colours, so that is nearly every line:
a new list and a few hundred segments a tick for the collector. :class:`Truecolor` asks the same
question of each style (Textual's cached ``truecolor_style``) and, when none changes, hands the
segments back as they are; otherwise it filters the line as Textual does.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import ANSIToTruecolor, LineFilter

__all__ = ["Truecolor", "use_truecolor_filter"]


class Truecolor(ANSIToTruecolor):
    """``ANSIToTruecolor`` that leaves a line alone when it would change none of its styles."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        truecolor_style = self.truecolor_style
        rich_background = background.rich_color
        for _, style, control in segments:
            if control is not None or (
                style is not None and truecolor_style(style, rich_background) is not style
            ):
                return super().apply(segments, background)
        return segments


def use_truecolor_filter(filters: list[LineFilter]) -> None:
    """Put a :class:`Truecolor` in place of Textual's ``ANSIToTruecolor`` in an app's
    ``filters`` (same theme, same state)."""
    for index, line_filter in enumerate(filters):
        if type(line_filter) is ANSIToTruecolor:
            filters[index] = Truecolor(line_filter._terminal_theme, enabled=line_filter.enabled)
