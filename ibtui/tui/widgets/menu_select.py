"""A dropdown for forms where ``enter`` means the form's next step, not the menu."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.widgets import Select

__all__ = ["MenuSelect"]

Value = TypeVar("Value")


class MenuSelect(Select[Value], inherit_bindings=False):
    """A :class:`~textual.widgets.Select` whose menu opens with ``space``, ``down`` or ``up``
    (or a click), not ``enter``: on a closed dropdown ``enter`` goes to the screen, as it does
    from the form's text boxes (the order ticket's preview). In the open menu ``enter`` still
    picks the highlighted option."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,space,up", "show_overlay", "Show menu", show=False),
    ]
