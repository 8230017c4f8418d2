"""The out-of-band login: authorize URL (text and QR code), verifier input, visible progress.

Made for a headless server reached over SSH: the URL is selectable text (and ``ctrl+y`` copies it
through the terminal), the QR code is for a phone. A wrong verifier or a server error is shown on
the screen, which stays usable and keeps what was typed. The screen dismisses with ``True`` once
the brokerage session is open.

IBKR's request tokens are single use: once a verifier has been exchanged for one, right or wrong,
its link is used up. After a refused verifier the screen says so and names ``ctrl+n``, and does
not send a verifier for that link again; ``ctrl+n`` gets a new link and empties the box (a
verifier belongs to its link).
"""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Static

from ibtui.tui import keymap as ids
from ibtui.tui.component_style import component_style
from ibtui.tui.protocols import LinkUsedUp, LoginFlow, LoginPrompt, LoginStep
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.qr import QrCode

__all__ = ["LoginScreen", "VerifierValidator", "clean_verifier"]

_VERIFIER = re.compile(r"[A-Za-z0-9\-_.~]{4,128}")
_FROM_URL = re.compile(r"oauth_verifier=([^&#\s]+)")
_MARKS = {"pending": "·", "running": "…", "done": "✓", "failed": "✗"}
USED_UP = "This link is used up: press ctrl+n for a new link, approve it, then type its verifier."


def clean_verifier(text: str) -> str | None:
    """The verifier as typed or pasted (a pasted ``…oauth_verifier=X…`` URL gives X); None if it
    cannot be one."""
    value = text.strip()
    match = _FROM_URL.search(value)
    if match:
        value = match.group(1)
    return value if _VERIFIER.fullmatch(value) else None


class VerifierValidator(Validator):
    def validate(self, value: str) -> ValidationResult:
        if clean_verifier(value) is not None:
            return self.success()
        if not value.strip():
            return self.failure("Type the verifier shown after you approved access.")
        return self.failure(
            "That does not look like a verifier: 4 to 128 letters, digits or - _ . ~ (no spaces)."
        )


class StepList(Static):
    """The login's steps, each with a mark in its state's colour.

    The marks' colours are drawn as Textual draws them (a pending step's, $text-muted, is "auto
    60%": named in the text itself it came out pure white, brighter than the step's name), looked
    up when the list is drawn, so a change of theme recolours them."""

    DEFAULT_CSS = """
    StepList {
        height: auto;
        & > .login--pending { color: $text-muted; }
        & > .login--running { color: $text-warning; }
        & > .login--done { color: $text-success; }
        & > .login--failed { color: $text-error; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {f"login--{state}" for state in _MARKS}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps: dict[LoginStep, str] = {}

    def show(self, steps: dict[LoginStep, str]) -> None:
        self.steps = dict(steps)
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text("\n").join(
            Text.assemble(
                (_MARKS[state], component_style(self, f"login--{state}")), f" {step.value}"
            )
            for step, state in self.steps.items()
        )


class LoginScreen(Screen[bool]):
    """Third-party OAuth login against a :class:`~ibtui.tui.protocols.LoginFlow`."""

    CSS_PATH = "login.tcss"
    AUTO_FOCUS = "#verifier"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_link", "New link", id=ids.LOGIN_NEW_LINK),
        Binding("ctrl+y", "copy_url", "Copy URL", id=ids.LOGIN_COPY_URL),
        Binding("ctrl+t", "toggle_qr", "QR code", id=ids.LOGIN_TOGGLE_QR),
    ]

    def __init__(self, flow: LoginFlow, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.flow = flow
        self.cursor_blink = cursor_blink
        self.prompt: LoginPrompt | None = None
        self.error: str | None = None
        self.busy = False
        self.link_used = False  # a verifier was exchanged for this link: IBKR will not take another
        self.steps: dict[LoginStep, str] = dict.fromkeys(LoginStep, "pending")

    def compose(self) -> ComposeResult:
        with Horizontal(id="login-body"):
            yield QrCode(id="qr")
            with VerticalScroll(id="login-side"):
                yield Static("Log in to Interactive Brokers", id="login-title")
                yield Static(
                    "1. Open this link on any device (scan the code with a phone):",
                    classes="login-label",
                )
                yield Static("getting a link from IBKR…", id="url")
                yield Static("", id="hint")
                yield Static("2. Approve, then type the verifier shown:", classes="login-label")
                yield Input(
                    placeholder="verifier",
                    id="verifier",
                    validators=[VerifierValidator()],
                    validate_on=["submitted"],
                )
                yield StepList(id="steps")
                yield Static("", id="error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#verifier", Input).cursor_blink = self.cursor_blink
        self._show_steps()
        self.fetch_link()

    # --- link -------------------------------------------------------------------------------
    @work(exclusive=True, group="login-link")
    async def fetch_link(self) -> None:
        self.query_one("#url", Static).update("getting a link from IBKR…")
        try:
            prompt = await self.flow.start()
        except Exception as exc:  # shown to the user; the screen stays usable
            self._show_error(f"Could not start the login: {exc}  (ctrl+n tries again)")
            return
        self.prompt = prompt
        self.link_used = False
        self.query_one("#url", Static).update(Content(prompt.authorize_url))
        self.query_one(QrCode).show(prompt.authorize_url)
        hint = self.query_one("#hint", Static)
        hint.update(Content(prompt.hint or ""))
        hint.display = bool(prompt.hint)
        self._show_error(None)

    def action_new_link(self) -> None:
        if not self.busy:
            if self.prompt is not None:  # the verifier typed was for the old link
                self.query_one("#verifier", Input).value = ""
            self.steps = dict.fromkeys(LoginStep, "pending")
            self._show_steps()
            self.fetch_link()

    def action_copy_url(self) -> None:
        if self.prompt is not None:
            self.app.copy_to_clipboard(self.prompt.authorize_url)
            self.notify(
                "Authorize URL copied (if your terminal allows it).", timeout=3, markup=False
            )

    def action_toggle_qr(self) -> None:
        self.query_one(QrCode).toggle_class("-hidden")

    # --- verifier ---------------------------------------------------------------------------
    @on(Input.Submitted, "#verifier")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.busy:
            return
        if event.validation_result is not None and not event.validation_result.is_valid:
            self._show_error(" ".join(event.validation_result.failure_descriptions))
            return
        verifier = clean_verifier(event.value)
        if verifier is None or self.prompt is None:
            self._show_error("Wait for the authorize link first (ctrl+n asks for a new one).")
            return
        if self.link_used:
            self._show_error(USED_UP)
            return
        self.complete_login(verifier)

    @work(exclusive=True, group="login-complete")
    async def complete_login(self, verifier: str) -> None:
        box = self.query_one("#verifier", Input)
        self.busy = True
        box.disabled = True
        self._show_error(None)
        self.steps = dict.fromkeys(LoginStep, "pending")
        self._show_steps()
        try:
            await self.flow.complete(verifier, self._report_step)
        except Exception as exc:  # shown to the user; nothing typed is lost
            self._fail_running_step()
            message = str(exc) or type(exc).__name__
            if isinstance(exc, LinkUsedUp):
                self.link_used = True
                message = f"{message}\n{USED_UP}"
            self._show_error(message)
            self.busy = False
            box.disabled = False
            box.focus()
            return
        self.steps = dict.fromkeys(LoginStep, "done")
        self._show_steps()
        self.busy = False
        self.dismiss(True)

    def _report_step(self, started: LoginStep) -> None:
        # Called by the flow from this screen's async worker, on the UI's event loop.
        for step in LoginStep:
            if step == started:
                self.steps[step] = "running"
                break
            self.steps[step] = "done"
        self._show_steps()

    # --- drawing ----------------------------------------------------------------------------
    def _fail_running_step(self) -> None:
        running = [step for step, state in self.steps.items() if state == "running"]
        first = running[0] if running else LoginStep.ACCESS_TOKEN
        self.steps[first] = "failed"
        self._show_steps()

    def _show_steps(self) -> None:
        self.query_one("#steps", StepList).show(self.steps)

    def _show_error(self, message: str | None) -> None:
        self.error = message
        box = self.query_one("#error", Static)
        box.update(Content(message or ""))
        box.display = bool(message)
