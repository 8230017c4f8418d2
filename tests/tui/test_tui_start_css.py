"""The start screens' stylesheets come with the app's: a subclass defined anywhere starts, and
opening the account picker and the positions brings no new stylesheet (which would make Textual
parse every source again)."""

from __future__ import annotations

from textual.css.stylesheet import Stylesheet

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.positions import PositionsScreen
from tests.tui.conftest import LIVE, PAPER, Clock, ViewBroker, position


class ElsewhereApp(IbtuiApp):
    """Defined outside ibtui/tui, like the benchmarks' app: relative CSS paths would break."""


async def test_a_subclass_starts_and_the_start_screens_bring_no_new_stylesheet(
    clock: Clock, monkeypatch: object
) -> None:
    reparses: list[int] = []
    original = Stylesheet.reparse

    def counting(self: Stylesheet) -> None:
        reparses.append(len(self.source))
        original(self)

    monkeypatch.setattr(Stylesheet, "reparse", counting)  # type: ignore[attr-defined]
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock, accounts=[PAPER, LIVE])
    app = ElsewhereApp(broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, AccountsScreen):
                break
        assert isinstance(app.screen, AccountsScreen)
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, PositionsScreen):
                break
        assert isinstance(app.screen, PositionsScreen)
        assert app.stylesheet.has_source(str(app.screen.css_path[0]))
    assert reparses == []
