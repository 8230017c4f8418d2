"""Another login took the brokerage session: what that means, and what the trader can do.

IBKR allows one brokerage session per username. When TWS, IBKR Mobile, the Client Portal or a
second ibtui logs in with the same user, this console's quotes, orders and blotter stop until the
session is taken back. ibtui takes it back on its own, but at most every few minutes, so two
platforms never fight over it; this screen lets the trader take it back now or leave it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Middle
from textual.screen import ModalScreen
from textual.widgets import Static

from ibtui.tui import keymap as ids

__all__ = ["RECLAIM_EVERY", "CompetingSessionScreen"]

RECLAIM_EVERY = 300.0  # the connection's own pace (ibtui.ibkr.connect.RECLAIM_EVERY)


class CompetingSessionScreen(ModalScreen[bool]):
    """Dismissed with True when the trader wants the session back now, False to leave it."""

    DEFAULT_CSS = """
    CompetingSessionScreen {
        align: center middle;
    }
    #competing-text {
        width: 72;
        max-width: 100%;
        padding: 1 2;
        border: heavy $warning;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "take_back", "Take it back now", id=ids.COMPETING_TAKE_BACK),
        Binding("escape", "leave", "Leave it", id=ids.COMPETING_LEAVE),
    ]

    def __init__(self, reclaim_every: float = RECLAIM_EVERY) -> None:
        super().__init__()
        self.reclaim_every = reclaim_every

    def compose(self) -> ComposeResult:
        text = (
            "Another login holds the brokerage session\n\n"
            "IBKR allows one brokerage session per username. TWS, IBKR Mobile, the Client "
            "Portal or another ibtui logged in with this user, so quotes, orders and the "
            "blotter here have stopped updating.\n\n"
            f"ibtui takes the session back on its own at most every "
            f"{self.reclaim_every / 60:g} minutes, so the two never fight over it.\n\n"
            "  t    take it back now (the other platform loses it)\n"
            "  Esc  leave it; log out of the other platform to stop this"
        )
        with Middle(), Center():
            yield Static(text, id="competing-text", markup=False)

    def action_take_back(self) -> None:
        self.dismiss(True)

    def action_leave(self) -> None:
        self.dismiss(False)
