"""run_app runs the console in its runtime settings: a thread waiting for the GIL (Textual's
output thread, with a frame to write) gets it within a millisecond, not Python's default 5 ms,
and the cyclic garbage collector's first generation waits for YOUNG_GC_THRESHOLD new objects,
not 700. The previous settings are back afterwards, also when the app fails."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from ibtui.tui import app as tui_app
from ibtui.tui.app import (
    OUTPUT_SWITCH_INTERVAL,
    YOUNG_GC_THRESHOLD,
    IbtuiApp,
    console_runtime,
    run_app,
)
from tests.tui.conftest import PAPER, Clock, ViewBroker


@pytest.fixture
def python_defaults() -> Iterator[None]:
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(0.005)  # Python's defaults
    gc.set_threshold(700, 10, 10)
    yield
    sys.setswitchinterval(interval)
    gc.set_threshold(*thresholds)


def test_the_console_runs_with_its_own_gil_interval_and_collector_threshold(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, python_defaults: None
) -> None:
    seen: list[tuple[float, tuple[int, int, int]]] = []

    def run(self: IbtuiApp) -> None:
        seen.append((sys.getswitchinterval(), gc.get_threshold()))
        self._return_code = 3

    monkeypatch.setattr(IbtuiApp, "run", run)
    assert run_app(ViewBroker([], clock, accounts=[PAPER])) == 3
    assert seen == [(pytest.approx(OUTPUT_SWITCH_INTERVAL), (YOUNG_GC_THRESHOLD, 10, 10))]
    assert OUTPUT_SWITCH_INTERVAL <= 0.001
    assert YOUNG_GC_THRESHOLD > 700
    assert sys.getswitchinterval() == pytest.approx(0.005)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_previous_settings_are_back_when_the_app_fails(
    clock: Clock, monkeypatch: pytest.MonkeyPatch, python_defaults: None
) -> None:
    def run(self: IbtuiApp) -> None:
        raise RuntimeError("the terminal went away")

    monkeypatch.setattr(tui_app.IbtuiApp, "run", run)
    with pytest.raises(RuntimeError):
        run_app(ViewBroker([], clock, accounts=[PAPER]))
    assert sys.getswitchinterval() == pytest.approx(0.005)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_collector_turned_off_stays_off_and_a_higher_threshold_is_kept(
    python_defaults: None,
) -> None:
    gc.set_threshold(0, 10, 10)
    with console_runtime():
        assert gc.get_threshold() == (0, 10, 10)
    gc.set_threshold(50_000, 5, 5)
    with console_runtime():
        assert gc.get_threshold() == (50_000, 5, 5)
    assert gc.get_threshold() == (50_000, 5, 5)
