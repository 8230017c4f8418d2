"""Symbol search: debounced typing, results with kinds and exchanges, and what a result offers
(chart, watchlist, order ticket); the command palette's live symbol search."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from ibtui.tui.market import MarketDataError, RateLimited, TicketRequested, WatchItem, Watchlist
from ibtui.tui.market_screens import SymbolSearchProvider, chart_target, open_chart_for
from ibtui.tui.screens.chart import ChartScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.search import SearchScreen
from tests.tui.conftest import PAPER, sample_positions
from tests.tui.fake_market import FakeMarket, MemoryStore, ScreenHost


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def status(screen: SearchScreen) -> str:
    return str(screen.query_one("#search-status").render())


def rows(screen: SearchScreen) -> list[list[str]]:
    table = screen.table
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_typing_searches_after_a_pause_and_enter_at_once() -> None:
    market = FakeMarket()
    # A pause longer than any gap between the test's keystrokes, even on a loaded machine (a
    # garbage collection late in the suite once put 0.15 s between two of them).
    screen = SearchScreen(market, debounce=0.6)
    app = ScreenHost(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.focused is screen.input
        await pilot.press(*"aapl")
        await settle(pilot)
        assert market.searches == ["aapl"]  # the keystrokes before were cancelled
        assert rows(screen) == [
            ["AAPL", "APPLE INC", "STK OPT WAR CFD BAG", "NASDAQ", "265598"],
            ["AAPL", "APPLE INC", "STK", "MEXI", "38708077"],
        ]
        assert status(screen) == (
            "2 results for aapl: enter or ↓ to choose, then enter opens the chart."
        )
        await pilot.press("space")  # "aapl " is what is shown already: no new request
        await settle(pilot)
        assert market.searches == ["aapl"]
        # enter searches at once and moves to the results; / goes back, down returns
        screen.debounce = 30.0
        screen.input.value = "micro"
        await pilot.press("enter")
        await settle(pilot)
        assert market.searches == ["aapl", "micro"]
        assert app.focused is screen.table
        assert rows(screen)[0][:2] == ["MSFT", "MICROSOFT CORP"]
        await pilot.press("slash")
        assert app.focused is screen.input
        await pilot.press("down")
        assert app.focused is screen.table


async def test_a_result_opens_its_chart_joins_the_watchlist_or_asks_for_a_ticket() -> None:
    market = FakeMarket(count=20)
    store = MemoryStore()
    watchlist = Watchlist(store=store)
    screen = SearchScreen(market, watchlist=watchlist, text="aapl")
    app = ScreenHost(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen.table.focus()
        await pilot.press("j", "plus")  # the MEXI listing
        await settle(pilot)
        assert watchlist.items == [WatchItem(38708077, "AAPL")]
        assert store.items == [WatchItem(38708077, "AAPL")]  # saved
        await pilot.press("plus")
        await settle(pilot)
        assert len(watchlist) == 1  # not twice
        await pilot.press("k", "b")
        await pilot.pause()
        ticket = app.posted[-1]
        assert isinstance(ticket, TicketRequested)
        assert (ticket.conid, ticket.symbol, ticket.side) == (265598, "AAPL", "BUY")
        assert chart_target(screen) == (265598, "AAPL", "APPLE INC")
        await pilot.press("enter")
        await settle(pilot)
        chart = app.screen
        assert isinstance(chart, ChartScreen) and chart.conid == 265598
        assert market.calls == [(265598, "1d", "5min")]
        await pilot.press("escape")
        assert app.screen is screen


async def test_nothing_found_errors_and_rate_limits_are_said() -> None:
    market = FakeMarket(count=20)
    screen = SearchScreen(market, debounce=0.0)
    app = ScreenHost(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        screen.input.value = "zzzz"
        await pilot.press("enter")
        await settle(pilot)
        assert status(screen) == "Nothing found for zzzz." and screen.table.row_count == 0
        market.search_failures = [
            MarketDataError("Cannot reach IBKR: connection refused."),
            RateLimited("429"),
        ]
        screen.input.value = "ibm"
        await settle(pilot)
        assert status(screen) == "Search failed: Cannot reach IBKR: connection refused."
        assert screen.query_one("#search-status").has_class("error")
        await pilot.press("enter")
        await settle(pilot)
        assert status(screen) == "IBKR asks us to slow down; press enter to search again."
        await pilot.press("enter")
        await settle(pilot)
        assert rows(screen)[0][0] == "IBM"
        await pilot.press("c")  # results focused after enter
        await settle(pilot)
        assert isinstance(app.screen, ChartScreen)


async def test_chart_of_the_selected_position() -> None:
    market = FakeMarket(count=20)
    positions = PositionsScreen(PAPER, cursor_blink=False)
    app = ScreenHost(positions)
    async with app.run_test(size=(120, 40)) as pilot:
        positions.table.set_positions(sample_positions())
        await pilot.pause()
        target = chart_target(positions)
        assert target is not None
        chart = open_chart_for(app, market)
        await settle(pilot)
        assert isinstance(chart, ChartScreen) and app.screen is chart
        assert (chart.conid, chart.symbol) == target[:2]
        assert market.calls == [(target[0], "1d", "5min")]


class PaletteHost(ScreenHost):
    COMMANDS: ClassVar[set[Any]] = {SymbolSearchProvider}

    def __init__(self, market: FakeMarket) -> None:
        super().__init__(SearchScreen(market))
        self.market = market
        self.watchlist = Watchlist()


async def test_the_command_palette_searches_symbols() -> None:
    market = FakeMarket(count=20)
    app = PaletteHost(market)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        palette.query_one(Input).value = "sap"
        for _ in range(40):
            await pilot.pause(0.05)
            if palette.query_one(CommandList).option_count >= 2:  # SAP's chart, the search
                break
        assert market.searches == ["sap"]
        await pilot.pause()
        await pilot.press("enter")  # the first hit: SAP's chart
        await settle(pilot)
        assert isinstance(app.screen, ChartScreen) and app.screen.symbol == "SAP"


def test_search_results_snapshot(snap_compare: Any) -> None:
    screen = SearchScreen(FakeMarket(), text="a")

    async def ready(pilot: Pilot[None]) -> None:
        await settle(pilot)

    app: App[None] = ScreenHost(screen)
    assert snap_compare(app, terminal_size=(120, 40), run_before=ready)
