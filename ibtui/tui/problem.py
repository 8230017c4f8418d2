"""A screen for a problem that stops ibtui from starting (no config, an unreadable or exposed key
file, a damaged token file): what is wrong and what to do, then ``r`` to try again once it is
fixed (in another tmux pane, say) or ``q`` to quit. Nothing typed elsewhere is lost."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ibtui.tui import keymap as ids
from ibtui.tui.widgets.footer import Footer

__all__ = ["ProblemApp"]


class ProblemApp(App[bool]):
    """Exits with True when the user wants another try, False to give up."""

    TITLE = "ibtui"
    CSS = """
    #problem-title { text-style: bold; color: $text-error; margin: 1 2 0 2; }
    #problem-body { margin: 1 2; height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Try again", id=ids.PROBLEM_RETRY),
        Binding("q,ctrl+q,escape", "give_up", "Quit", id=ids.PROBLEM_QUIT),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.problem_title = title
        self.message = message

    def compose(self) -> ComposeResult:
        yield Static(self.problem_title, id="problem-title", markup=False)
        with VerticalScroll(id="problem-body"):
            yield Static(self.message, id="problem-text", markup=False)
        yield Footer()

    def action_retry(self) -> None:
        self.exit(True)

    def action_give_up(self) -> None:
        self.exit(False)
