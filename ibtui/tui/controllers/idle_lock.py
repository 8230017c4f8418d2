"""The idle lock's clock: after ``[ui] idle_lock_minutes`` without a key or a click the lock
screen (:mod:`ibtui.tui.screens.lock`) covers the console until the trader presses Enter."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events

from ibtui.tui.controllers import is_a

if TYPE_CHECKING:
    from ibtui.tui.app import IbtuiApp

__all__ = ["IdleLock"]

_ACTIVITY = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)
_LOCK = "ibtui.tui.screens.lock"


class IdleLock:
    """Locks ``app`` after ``minutes`` without input (0: never). The app hands it every event
    (:meth:`saw`) and starts it once mounted (:meth:`start`)."""

    def __init__(self, app: IbtuiApp, minutes: float, clock: Callable[[], float]) -> None:
        self.app = app
        self.minutes = minutes
        self.clock = clock
        self._last_input = clock()

    def start(self) -> None:
        if self.minutes > 0:
            self.app.set_interval(1.0, self._check_idle)

    def saw(self, event: events.Event) -> None:
        if isinstance(event, _ACTIVITY):  # the idle lock's clock restarts on any input
            self._last_input = self.clock()

    def _check_idle(self) -> None:
        locked = any(is_a(s, _LOCK, "LockScreen") for s in self.app.screen_stack)
        if self.minutes <= 0 or locked:
            return
        if self.clock() - self._last_input >= self.minutes * 60:
            from ibtui.tui.screens.lock import LockScreen

            session = self.app.session
            account = session.account.account_id if session.account else None
            self.app.push_screen(LockScreen(self.minutes, account), self._unlocked)

    def _unlocked(self, _: None) -> None:
        app = self.app
        app.competing_login.changed(app.session.state)  # what happened while it was locked
