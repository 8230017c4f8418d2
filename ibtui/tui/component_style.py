"""A component class's own style, in the colour Textual draws it in.

A widget that draws its text itself takes a component class's own style (Textual's
``get_component_rich_style(..., partial=True)``: its colour, background and text style, not
combined with the widget's) and lays it over the widget's background. A Rich style has no alpha,
so that partial style drops it: the theme's ``$text-muted`` and ``$text-disabled`` ("auto 60%",
"auto 38%": the background's contrasting text at 60% and 38%) and ``$text`` ("auto 87%") come out
pure white, brighter than the normal text, and a colour such as ``$foreground 50%`` at its full
strength; a background such as ``$error 40%`` likewise comes out at its full strength. The full
style has the colour blended over what is beneath it (the widget's background and its ancestors',
and the class's own), and the background over the widget's, as Textual draws them: each is taken
from there where the two differ.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget

__all__ = ["component_style"]


def component_style(widget: Widget, *names: str) -> Style:
    """The own style of ``widget``'s component class(es) ``names``, its colour as drawn.

    Opaque colours and backgrounds are the partial style's own; an "auto" or translucent one is
    blended over the background the widget draws the class on.
    """
    own = widget.get_component_rich_style(*names, partial=True)
    if own.color is None and own.bgcolor is None:
        return own
    full = widget.get_component_rich_style(*names)
    color = full.color if own.color is not None and full.color != own.color else None
    bgcolor = full.bgcolor if own.bgcolor is not None and full.bgcolor != own.bgcolor else None
    if color is None and bgcolor is None:
        return own
    return own + Style(color=color, bgcolor=bgcolor)
