"""A checkbox whose state shows without colour: ``▐X▌`` when on, an empty ``▐ ▌`` when off.

Textual's :class:`~textual.widgets.Checkbox` draws the X either way and tells the two apart by
its colour only, which a terminal with few colours (or a trader in a hurry) does not see.
"""

from __future__ import annotations

from textual.widgets import Checkbox

__all__ = ["OnOffCheckbox"]


class OnOffCheckbox(Checkbox):
    """A :class:`~textual.widgets.Checkbox` with an empty box when off."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        super().watch_value()
