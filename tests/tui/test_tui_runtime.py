"""run_app runs the console in its runtime settings: a thread waiting for the GIL (Textual's
output thread, with a frame to write) gets it within a millisecond, not Python's default 5 ms;
the previous interval is back afterwards, also when the app fails. Once an account's screen has
settled, what the console holds is frozen out of the cyclic collector's walks, and unfrozen when
another account's screen replaces it."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from ibtui.tui import app as tui_app
from ibtui.tui import runtime
from ibtui.tui.app import IbtuiApp, run_app
from ibtui.tui.poller import PollSettings
from ibtui.tui.runtime import OUTPUT_SWITCH_INTERVAL
from ibtui.tui.screens.positions import PositionsScreen
from tests.tui.conftest import PAPER, Clock, ViewBroker, sample_positions
from tests.tui.test_tui_ticket import settle


@pytest.fixture
def default_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default
    yield
    sys.setswitchinterval(previous)


def test_the_console_hands_the_gil_to_its_output_thread_sooner_while_it_runs(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, default_interval: None
) -> None:
    seen: list[float] = []

    def run(self: IbtuiApp) -> None:
        seen.append(sys.getswitchinterval())
        self._return_code = 3

    monkeypatch.setattr(IbtuiApp, "run", run)
    assert run_app(ViewBroker([], clock, accounts=[PAPER])) == 3
    assert seen == [pytest.approx(OUTPUT_SWITCH_INTERVAL)]
    assert OUTPUT_SWITCH_INTERVAL <= 0.001
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_the_previous_interval_is_back_when_the_app_fails(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, default_interval: None
) -> None:
    def run(self: IbtuiApp) -> None:
        raise RuntimeError("the terminal went away")

    monkeypatch.setattr(tui_app.IbtuiApp, "run", run)
    with pytest.raises(RuntimeError):
        run_app(ViewBroker([], clock, accounts=[PAPER]))
    assert sys.getswitchinterval() == pytest.approx(0.005)


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing frozen before or after; an account's screen settles in 10 ms, and a replaced
    one has 10 s to be freed."""
    monkeypatch.setattr(runtime, "SETTLE_SECONDS", 0.01)
    monkeypatch.setattr(runtime, "SETTLE_TRIES", 1000)
    gc.unfreeze()
    yield
    gc.unfreeze()


def console(clock: Clock, *, freeze: bool) -> IbtuiApp:
    broker = ViewBroker(sample_positions(), clock)
    return IbtuiApp(
        broker, poll=PollSettings(interval=60), cursor_blink=False, freeze_settled=freeze
    )


async def test_an_accounts_screen_is_frozen_once_settled_and_freed_when_replaced(
    clock: Clock, unfrozen: None
) -> None:
    app = console(clock, freeze=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, lambda: gc.get_freeze_count() > 0, rounds=300)
        first = app.screen
        assert isinstance(first, PositionsScreen) and first.priced.is_set()
        assert gc.get_freeze_count() > 1000
        gone = weakref.ref(first)
        del first
        app.account_flow.open(PAPER)  # the account's screen again: a new one replaces it
        assert gc.get_freeze_count() == 0
        # frozen again only once the replaced screen is gone (its poller ends a moment later)
        await settle(pilot, lambda: gc.get_freeze_count() > 0, rounds=500)
        assert isinstance(app.screen, PositionsScreen) and app.screen.priced.is_set()
        assert gone() is None and gc.get_freeze_count() > 1000


async def test_nothing_is_frozen_while_a_replaced_screen_stays_held(
    clock: Clock, unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replaced account's screen that is never freed is not frozen with the new one (its
    cycles would never be freed), and the console stops collecting after SETTLE_TRIES waits."""
    monkeypatch.setattr(runtime, "SETTLE_TRIES", 3)
    collections: list[int] = []
    collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(1) or collect(*a))
    app = console(clock, freeze=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, lambda: gc.get_freeze_count() > 0, rounds=300)
        held = app.screen  # as a worker that never ends would hold it
        app.account_flow.open(PAPER)
        collections.clear()
        for _ in range(20):
            await pilot.pause(0.02)
        assert isinstance(app.screen, PositionsScreen) and app.screen is not held
        assert app.screen.priced.is_set()
        assert gc.get_freeze_count() == 0
        assert len(collections) == 3


async def test_an_app_not_run_by_run_app_freezes_nothing(clock: Clock, unfrozen: None) -> None:
    app = console(clock, freeze=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen), rounds=300)
        assert isinstance(app.screen, PositionsScreen)
        await settle(pilot, lambda: app.screen.priced.is_set(), rounds=300)  # type: ignore[attr-defined]
        for _ in range(5):
            await pilot.pause(0.02)
        assert gc.get_freeze_count() == 0


def test_run_app_freezes_a_settled_account(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, default_interval: None
) -> None:
    seen: list[bool] = []

    def run(self: IbtuiApp) -> None:
        seen.append(self.freeze_settled)

    monkeypatch.setattr(IbtuiApp, "run", run)
    run_app(ViewBroker([], clock, accounts=[PAPER]))
    assert seen == [True]
