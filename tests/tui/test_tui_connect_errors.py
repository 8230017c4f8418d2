"""Connecting fails: a network problem is retried on a visible countdown (r retries now); a
problem retrying cannot cure (wrong keys, unknown consumer) waits for the trader."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.viewmodels import AccountView
from tests.tui.conftest import Clock, ViewBroker, position
from tests.tui.test_tui_ticket import settle


class Refused(Exception):
    needs_attention = True


class Failing(ViewBroker):
    def __init__(self, errors: list[Exception], clock: Clock) -> None:
        super().__init__([position(1, "AAA", "10", "50", "40")], clock)
        self.errors = errors
        self.calls = 0

    async def accounts(self) -> Sequence[AccountView]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return await super().accounts()


def status(app: IbtuiApp) -> str:
    return str(app.query_one("#connecting", Static).render())


async def test_a_network_failure_counts_down_and_r_retries_at_once() -> None:
    clock = Clock()
    broker = Failing([OSError("cannot reach the server")], clock)
    app = IbtuiApp(broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: "Retrying in" in status(app))
        assert "cannot reach the server" in status(app)
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        assert broker.calls == 2


async def test_a_problem_retrying_cannot_cure_waits_for_the_trader() -> None:
    clock = Clock()
    broker = Failing([Refused("IBKR does not recognise the consumer key")], clock)
    app = IbtuiApp(broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: "press r to try again" in status(app))
        assert "consumer key" in status(app)
        await pilot.pause(1.5)
        assert broker.calls == 1  # no automatic retry
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        assert broker.calls == 2
