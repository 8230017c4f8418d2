"""Snapshots of the alerts screen and the alert dialog at 80×24 and 120×40 (fixed data, no
blink)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from ibtui.alerts.rules import Alert
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from tests.tui.conftest import PAPER, Clock, ViewBroker, sample_positions
from tests.tui.test_tui_app import Rounds, settle

SIZES = [(80, 24), (120, 40)]
ALERTS = [
    Alert("a1", "above", "AAPL", 265598, Decimal("230")),
    replace(
        Alert("a2", "below", "MSFT", 272093, Decimal("410"), repeat=True), armed=False, fired=1
    ),
    Alert("a3", "move_pct", "SPY", 756733, Decimal("2"), repeat=True, paused=True),
    Alert("a4", "pnl_below", "SAP", 495512552, Decimal("-500")),
    replace(Alert("a5", "fill", "", None), done=True, fired=1),
]


def console(clock: Clock, rounds: Rounds) -> IbtuiApp:
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    broker.seen.update(p.conid for p in sample_positions())  # streams already warm
    return IbtuiApp(
        broker, clock=clock, sleep=rounds.sleep, poll=PollSettings(interval=2.0), cursor_blink=False
    )


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_alerts_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = Clock()
    rounds = Rounds(clock)
    app = console(clock, rounds)

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)
        app.alerts.book.alerts = list(ALERTS)
        await pilot.press("L")
        await pilot.pause()
        await pilot.press("j")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_alert_dialog_over_the_grid(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = Clock()
    rounds = Rounds(clock)
    app = console(clock, rounds)

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)
        await pilot.press("exclamation_mark")  # on AAPL, the first row
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)
