"""A yes/no modal: one of IBKR's questions, verbatim, or any confirmation the trading screens ask.

``QuestionScreen(question)`` dismisses with True (Confirm, ``y``) or False (Reject, ``n`` or
``escape``). The Reject button has the focus, so a stray ``enter`` never confirms. Callers in a
worker ``await app.push_screen_wait(QuestionScreen(...))``; the order ticket and the orders screen
use it for IBKR's questions, the orders screen also for its own cancel / modify / kill-switch
confirmations (``title``, the button labels and ``danger`` change, the keys do not).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ibtui.tui import keymap as ids
from ibtui.tui.trading import QuestionView

__all__ = ["QuestionScreen"]


class QuestionScreen(ModalScreen[bool]):
    CSS_PATH = "question.tcss"
    AUTO_FOCUS = "#reject"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Confirm", id=ids.QUESTION_CONFIRM),
        Binding("n,escape", "answer(False)", "Reject", id=ids.QUESTION_REJECT),
    ]

    def __init__(
        self,
        question: QuestionView,
        *,
        title: str = "IBKR asks",
        confirm_label: str = "Confirm",
        reject_label: str = "Reject",
        danger: bool = False,
    ) -> None:
        super().__init__()
        self.question = question
        self.title_text = title
        self.confirm_label = confirm_label
        self.reject_label = reject_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="question-box", classes="-danger" if self.danger else "") as box:
            box.border_title = self.title_text
            if self.question.message_id:
                box.border_subtitle = Content(f"message {self.question.message_id}")  # not markup
            with VerticalScroll(id="question-scroll"):
                yield Static(self.question.text, id="question-text", markup=False)
            with Horizontal(id="question-buttons"):
                yield Button(
                    f"{self.confirm_label} (y)",
                    id="confirm",
                    variant="error" if self.danger else "primary",
                )
                yield Button(f"{self.reject_label} (n)", id="reject")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#reject")
    def _reject(self) -> None:
        self.dismiss(False)
