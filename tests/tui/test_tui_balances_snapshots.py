"""Snapshots of the balances at 80×24 and 120×40: the strip over the positions (with a figure
that moved), the account screen (at 120×40 with a thin margin cushion in the warning colour)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.tui.test_tui_app import settle
from tests.tui.test_tui_balances import SIZES, broker_and_app, figures, refresh


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_positions_with_the_summary_strip(snap_compare: Any, size: tuple[int, int]) -> None:
    broker, app, rounds = broker_and_app()

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)
        await pilot.pause()
        broker.figures = figures(daily_pnl=Decimal("-180.15"))
        await refresh(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_account_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    broker, app, rounds = broker_and_app()
    if size == (120, 40):
        broker.figures = figures(excess_liquidity=Decimal("15946.53"))

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)
        await pilot.pause()
        await pilot.press("dollar_sign")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)
