"""Keys that arrive in one read (fast typing over SSH) are applied in the order they were typed.

The driver posts every key of one read to the app at once; these tests do the same, with no pause
between the keys, and check what the trader would see.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from ibtui.tui.app import IbtuiApp
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.ticket import TicketScreen
from tests.tui.conftest import position
from tests.tui.fake_trader import FakeTrader
from tests.tui.test_tui_app_trading import console
from tests.tui.test_tui_ticket import settle

KEY_NAMES = {"/": "slash", " ": "space", ".": "full_stop"}


def one_read(app: IbtuiApp, *keys: str) -> None:
    """What the driver does with one read: each key posted to the app, none waited for."""
    for key in keys:
        character = key if len(key) == 1 else None
        app.post_message(events.Key(KEY_NAMES.get(key, key), character))


async def positions(app: IbtuiApp, pilot) -> PositionsScreen:  # type: ignore[no-untyped-def]
    await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
    screen = app.screen
    assert isinstance(screen, PositionsScreen)
    await settle(pilot, lambda: len(screen.table.visible_keys) == 2)
    return screen


HELD = [
    position(1, "MSFT", "10", "50", "40", description="MICROSOFT CORP"),
    position(2, "AAA", "5", "80", "90"),
]


async def test_a_filter_typed_in_one_read_filters_and_opens_no_ticket() -> None:
    app, _ = console(FakeTrader(), HELD)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await positions(app, pilot)
        one_read(app, "/", "m", "s")
        await settle(pilot, lambda: screen.table.filter_text == "ms")
        await pilot.pause(0.1)
        assert app.screen is screen  # "s" went into the filter: no SELL ticket
        box = screen.query_one("#filter", Input)
        assert box.value == "ms" and box.has_focus
        assert len(screen.table.visible_keys) == 1  # MSFT only


async def test_a_ticket_key_and_a_quantity_in_one_read_fill_the_ticket() -> None:
    app, _ = console(FakeTrader(), HELD)
    async with app.run_test(size=(120, 40)) as pilot:
        await positions(app, pilot)
        one_read(app, "b", "2", "5")
        await settle(pilot, lambda: isinstance(app.screen, TicketScreen))
        ticket = app.screen
        await settle(pilot, lambda: ticket.query_one_optional("#quantity", Input) is not None)
        await pilot.pause(0.1)
        assert ticket.query_one("#quantity", Input).value == "25"


async def test_editing_keys_in_one_read_apply_in_order() -> None:
    app, _ = console(FakeTrader(), HELD)
    async with app.run_test(size=(120, 40)) as pilot:
        await positions(app, pilot)
        await pilot.press("b")
        await settle(pilot, lambda: app.screen.query_one_optional("#limit", Input) is not None)
        limit = app.screen.query_one("#limit", Input)
        limit.focus()
        await pilot.pause()
        limit.value = "215.5"
        limit.cursor_position = len(limit.value)
        await pilot.pause()
        one_read(app, "backspace", "0")
        await pilot.pause(0.1)
        assert limit.value == "215.0"
        one_read(app, "ctrl+u", "7")
        await pilot.pause(0.1)
        assert limit.value == "7"
        one_read(app, "home", "1", "end", "backspace", "9")
        await pilot.pause(0.1)
        assert limit.value == "19"
