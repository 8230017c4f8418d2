"""Snapshots of the order ticket: empty with its errors after a preview was tried, previewed,
and LIVE with the typed confirmation row, at 80x24 and 120x40 (fixed data, no cursor blink)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.tui.fake_trader import FakeTrader
from tests.tui.test_tui_ticket import LIVE, TicketApp, settle

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_ticket_with_errors(snap_compare: Any, size: tuple[int, int]) -> None:
    async def tried(pilot: Any) -> None:
        await pilot.press("enter")  # required fields say so only once a preview was tried
        await pilot.pause()

    assert snap_compare(TicketApp(FakeTrader()), terminal_size=size, run_before=tried)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_ticket_previewed(snap_compare: Any, size: tuple[int, int]) -> None:
    app = TicketApp(FakeTrader(), quantity=Decimal(10), limit_price=Decimal("215.00"))

    async def previewed(pilot: Any) -> None:
        await pilot.press("enter")
        await settle(pilot, lambda: getattr(app.screen, "preview", None) is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=previewed)


def test_ticket_live_account(snap_compare: Any) -> None:
    app = TicketApp(FakeTrader(), LIVE, quantity=Decimal(1), limit_price=Decimal("215.00"))
    assert snap_compare(app, terminal_size=(120, 40))
