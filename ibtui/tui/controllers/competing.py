"""Another login holding the brokerage session: the poller reports the session's state, and the
competing-session screen (:mod:`ibtui.tui.screens.competing`) says so and offers to take it back."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibtui.tui.controllers import is_a
from ibtui.tui.viewmodels import SessionState

if TYPE_CHECKING:
    from ibtui.tui.app import IbtuiApp

__all__ = ["CompetingLogin"]

_LOCK = "ibtui.tui.screens.lock"
_COMPETING = "ibtui.tui.screens.competing"


class CompetingLogin:
    """Keeps ``app.session.state`` and shows or closes the competing-session screen."""

    def __init__(self, app: IbtuiApp) -> None:
        self.app = app

    def changed(self, state: SessionState) -> None:
        """The poller's view of the brokerage session: another login holding it gets a screen
        that says so and offers to take it back; it closes itself when the session is back."""
        app = self.app
        app.session.state = state
        if is_a(app.screen, _LOCK, "LockScreen"):
            return  # shown when unlocked: nothing is offered to whoever passes the terminal
        shown = [s for s in app.screen_stack if is_a(s, _COMPETING, "CompetingSessionScreen")]
        if state is SessionState.COMPETING and not shown:
            from ibtui.tui.screens.competing import CompetingSessionScreen

            app.push_screen(CompetingSessionScreen(), self._competing_answered)
        elif state.healthy and shown and app.screen is shown[-1]:
            shown[-1].dismiss(False)

    def _competing_answered(self, take_back: bool | None) -> None:
        poller = self.app.session.poller
        if take_back and poller is not None:
            poller.take_back()
            taking = "Taking the brokerage session back…"
            self.app.notify(taking, title="IBKR", timeout=4, markup=False)
