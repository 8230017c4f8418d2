"""Snapshots of the console's screens at 80×24 and 120×40: fixed data, fixed clock, no blink.

The positions, accounts, login and competing-session screens, the help over the positions, the
idle lock and the watchlist. (The orders screen and its dialogs: test_tui_orders.py; the ticket:
test_tui_ticket_snapshots.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from tests.tui.conftest import LIVE, PAPER, Clock, ViewBroker, sample_positions
from tests.tui.test_tui_app import Rounds, settle
from tests.tui.test_tui_login import Flow

SIZES = [(80, 24), (120, 40)]


def console(broker: ViewBroker, clock: Clock, rounds: Rounds, **kwargs: Any) -> IbtuiApp:
    return IbtuiApp(
        broker,
        clock=clock,
        sleep=rounds.sleep,
        poll=PollSettings(interval=2.0),
        cursor_blink=False,
        **kwargs,
    )


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_positions_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = Clock()
    rounds = Rounds(clock)
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    broker.seen.update(p.conid for p in sample_positions())  # streams already warm
    app = console(broker, clock, rounds)

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_accounts_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = Clock()
    app = console(ViewBroker([], clock, accounts=[PAPER, LIVE]), clock, Rounds(clock))
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_login_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = Clock()
    flow = Flow(hint="Demo: the simulator's verifier is a1b2c3d4")
    app = console(ViewBroker([], clock), clock, Rounds(clock), login=flow)

    async def wrong_verifier(pilot: Any) -> None:
        await pilot.press(*"wrong123", "enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    # 80×24: as first shown; 120×40: after a wrong verifier (error shown, text kept)
    run_before = wrong_verifier if size == (120, 40) else None
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_competing_session_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    from ibtui.tui.viewmodels import SessionState

    clock = Clock()
    rounds = Rounds(clock)
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    broker.state = SessionState.COMPETING
    app = console(broker, clock, rounds)

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_help_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    clock = Clock()
    rounds = Rounds(clock)
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    broker.seen.update(p.conid for p in sample_positions())
    app = console(broker, clock, rounds)

    async def ready(pilot: Any) -> None:
        await settle(pilot, rounds)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_lock_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    from ibtui.tui.screens.lock import LockScreen
    from tests.tui.fake_market import ScreenHost

    assert snap_compare(ScreenHost(LockScreen(5, PAPER.account_id)), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_watchlist_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    from decimal import Decimal

    from ibtui.tui.market import WatchItem, Watchlist
    from ibtui.tui.screens.watchlist import WatchlistScreen
    from ibtui.tui.viewmodels import QuoteView
    from tests.tui.fake_market import ScreenHost

    aapl, msft, ibm = WatchItem(265598, "AAPL"), WatchItem(272093, "MSFT"), WatchItem(8314, "IBM")
    quotes = {
        aapl.conid: QuoteView(aapl.conid, Decimal("222.91"), Decimal("1.41"), Decimal("0.64")),
        msft.conid: QuoteView(msft.conid, Decimal("415.10"), Decimal("-2.30"), Decimal("-0.55")),
    }  # IBM: no quote yet
    screen = WatchlistScreen(Watchlist([aapl, msft, ibm]), None, quotes=quotes, cursor_blink=False)
    assert snap_compare(ScreenHost(screen), terminal_size=size)
