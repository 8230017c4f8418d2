"""The whole console with charts, search and the watchlist wired in: c on a position opens its
chart (priced live by the poller), b there asks for a ticket, w shows the watchlist quoted in the
same snapshots as the positions, f finds and adds an instrument, ? lists the new keys.

Skipped until ``IbtuiApp`` takes ``market``/``watchlist`` (the app wiring of issue 7)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from ibtui.tui.app import IbtuiApp
from ibtui.tui.market import WatchItem, Watchlist
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.chart import ChartScreen
from ibtui.tui.screens.help import HelpScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.search import SearchScreen
from ibtui.tui.screens.ticket import TicketScreen
from ibtui.tui.screens.watchlist import WatchlistScreen
from tests.tui.conftest import PAPER, Clock, ViewBroker, sample_positions, told
from tests.tui.fake_market import FakeMarket, MemoryStore
from tests.tui.fake_trader import FakeTrader
from tests.tui.test_tui_app import Rounds, settle

pytestmark = pytest.mark.skipif(
    "market" not in inspect.signature(IbtuiApp).parameters,
    reason="the app does not take a market yet (issue 7 wiring not applied)",
)

BACKGROUND = {"poller", "order-watch"}  # workers that run for the app's whole life


async def screen_work_done(pilot: Pilot[None]) -> None:
    workers = [w for w in pilot.app.workers if w.group not in BACKGROUND and not w.is_finished]
    if workers:
        await pilot.app.workers.wait_for_complete(workers)
    await pilot.pause()


async def test_chart_watchlist_and_search_from_the_positions(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER])
    market = FakeMarket(count=20)
    store = MemoryStore([WatchItem(8314, "IBM")])
    watchlist = Watchlist.load(store)
    kwargs: dict[str, Any] = {"market": market, "watchlist": watchlist}
    app = IbtuiApp(
        broker,
        clock=clock,
        sleep=rounds.sleep,
        poll=PollSettings(interval=2.0),
        cursor_blink=False,
        trader=FakeTrader(),
        **kwargs,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, rounds)
        assert isinstance(app.screen, PositionsScreen)
        assert 8314 in broker.quote_calls[0]  # the watched conid, in the positions' batch

        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        shown = {e.binding_id: e.keys for e in help_screen.entries}
        assert (shown["app.chart"], shown["app.watchlist"], shown["app.search"]) == ("c", "w", "f")
        await pilot.press("escape")

        rounds.release()
        await settle(pilot, rounds)  # the warm-up answer: prices from now on
        await pilot.press("c")
        await screen_work_done(pilot)
        chart = app.screen
        assert isinstance(chart, ChartScreen) and chart.conid == 265598
        assert chart.quote is not None  # the newest quote on hand
        first = chart.quote.updated_at
        rounds.release()
        await settle(pilot, rounds)
        assert chart.quote.updated_at != first  # forwarded live by the positions screen
        await pilot.press("s")  # from the chart of a held position: prefilled to close it
        await pilot.pause()
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.currency == "USD"
        assert ticket.query_one("#quantity", Input).value == "100"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("w")
        watch = app.screen
        assert isinstance(watch, WatchlistScreen) and watch.table.symbols == ["IBM"]
        assert watch.table.cell_text(8314, "last") != "—"
        await pilot.press("f")
        search = app.screen
        assert isinstance(search, SearchScreen)
        search.input.value = "spy"
        await pilot.press("enter")
        await screen_work_done(pilot)
        await pilot.press("plus", "escape")
        await screen_work_done(pilot)
        assert app.screen is watch and watch.table.symbols == ["IBM", "SPY"]
        assert store.items == [WatchItem(8314, "IBM"), WatchItem(756733, "SPY")]


async def test_a_ticket_for_an_instrument_not_held_is_in_its_own_currency(clock: Clock) -> None:
    from ibtui.tui.market import MarketDataError, TicketRequested

    rounds = Rounds(clock)
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER])
    market = FakeMarket(count=20)
    app = IbtuiApp(
        broker,
        clock=clock,
        sleep=rounds.sleep,
        poll=PollSettings(interval=2.0),
        cursor_blink=False,
        trader=FakeTrader(),
        market=market,
    )
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, rounds)
        app.post_message(TicketRequested(40565311, "SAP", "SAP SE", "BUY"))  # from a search
        await screen_work_done(pilot)
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.currency == "EUR"
        await pilot.press("escape")
        await pilot.pause()

        market.currency_failures = [MarketDataError("IBKR answered 503")]
        app.post_message(TicketRequested(40565311, "SAP", "SAP SE", "BUY"))
        await screen_work_done(pilot)
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.currency == ""  # not a guessed USD
        warnings = [n.message for n in notices if n.severity == "warning"]
        assert any("currency of SAP is not known (IBKR answered 503)" in m for m in warnings)
