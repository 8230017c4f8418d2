"""The idle lock: after ``[ui] idle_lock_minutes`` without a key or a click the console covers
everything (balances, positions, orders) until the trader presses Enter. Polling goes on behind
it, so the picture is current the moment it is unlocked."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Middle
from textual.screen import ModalScreen
from textual.widgets import Static

from ibtui.tui import keymap as ids

__all__ = ["LockScreen"]


class LockScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    LockScreen {
        background: $background;  /* opaque: nothing of the screens below shows through */
        align: center middle;
    }
    #lock-text {
        width: auto;
        padding: 1 4;
        border: round $primary;
        text-align: center;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "unlock", "Unlock", id=ids.LOCK_UNLOCK),
    ]

    def __init__(self, idle_minutes: float, account: str | None = None) -> None:
        super().__init__()
        self.idle_minutes = idle_minutes
        self.account = account

    def compose(self) -> ComposeResult:
        who = f" ({self.account})" if self.account else ""
        text = (
            f"ibtui is locked{who}\n"
            f"after {self.idle_minutes:g} minute(s) without a key press.\n\n"
            "Press Enter to unlock."
        )
        with Middle(), Center():
            yield Static(text, id="lock-text", markup=False)

    def action_unlock(self) -> None:
        self.dismiss(None)
