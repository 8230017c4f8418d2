"""Textual's ANSI-to-truecolor line filter, handing back a line that it would not change.

Every line Textual draws goes through ``ANSIToTruecolor`` (unless the terminal's own ANSI colours
are used), which makes a new segment for every segment of the line even when no style in it has
an ANSI colour or is dim. The console's styles are theme colours, so that is nearly every line:
a new list and a few hundred segments a tick for the collector. :class:`Truecolor` asks the same
question of each style (Textual's cached ``truecolor_style``) and, when none changes, hands the
segments back as they are; otherwise it filters the line as Textual does.

Upstream: ``textual/filter.py`` (``ANSIToTruecolor.apply``) and ``App._filters`` /
``App._refresh_truecolor_filter`` (``textual/app.py``), Textual 8.2; not reported upstream yet.
Guard: the app has the list ``_filters`` holding an ``ANSIToTruecolor`` with a
``_terminal_theme``, and the method ``_refresh_truecolor_filter``; otherwise nothing changes and
the log says so. Applied to one app (:func:`install_truecolor_filter`), never to Textual's class.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.terminal_theme import TerminalTheme
from textual.app import App
from textual.color import Color
from textual.filter import ANSIToTruecolor, LineFilter

from ibtui.tui.textual_compat._guard import skipped

__all__ = ["Truecolor", "install_truecolor_filter", "use_truecolor_filter"]


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


def install_truecolor_filter(app: App[Any]) -> bool:
    """Have ``app`` filter its lines through :class:`Truecolor`, a new theme's filter too;
    whether it does."""
    filters = getattr(app, "_filters", None)
    refresh = getattr(app, "_refresh_truecolor_filter", None)
    if (
        not isinstance(filters, list)
        or not callable(refresh)
        or not all(hasattr(f, "_terminal_theme") for f in filters if type(f) is ANSIToTruecolor)
    ):
        skipped("truecolor filter", "App._filters is not Textual 8.2's list of line filters")
        return False
    use_truecolor_filter(filters)

    def refresh_truecolor_filter(theme: TerminalTheme) -> None:
        refresh(theme)  # Textual makes its filter anew for a new theme: ours in its place
        use_truecolor_filter(filters)

    app._refresh_truecolor_filter = refresh_truecolor_filter  # type: ignore[method-assign]
    return True
