"""run_app runs the console in its runtime settings: a thread waiting for the GIL (Textual's
output thread, with a frame to write) gets it within a millisecond, not Python's default 5 ms;
the previous interval is back afterwards, also when the app fails."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ibtui.tui import app as tui_app
from ibtui.tui.app import OUTPUT_SWITCH_INTERVAL, IbtuiApp, run_app
from tests.tui.conftest import PAPER, Clock, ViewBroker


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
