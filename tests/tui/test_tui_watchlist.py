"""The watchlist: the model, the poller quoting watched conids with the held ones, the screen
(live cells, reorder, delete, chart, search, ticket), and — on the real in-process simulator —
search → add → restart → still there with live prices."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Static

from ibtui.adapters.broker import ClientBackend
from ibtui.adapters.market import ClientMarketData, StateWatchlistStore
from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.session import AccessCredentials
from ibtui.local.state import StateStore
from ibtui.sim import PAPER_ACCOUNT
from ibtui.tui.market import TicketRequested, WatchItem, Watchlist
from ibtui.tui.market_screens import open_search, open_watchlist
from ibtui.tui.messages import QuotesUpdated
from ibtui.tui.poller import Poller, PollSettings
from ibtui.tui.screens.chart import ChartScreen
from ibtui.tui.screens.search import SearchScreen
from ibtui.tui.screens.watchlist import WatchlistScreen
from ibtui.tui.viewmodels import QuoteView
from tests.simulated import trading_demo
from tests.tui.conftest import PAPER, Clock, ViewBroker, position
from tests.tui.fake_market import FakeMarket, MemoryStore, ScreenHost

AAPL, MSFT, IBM = WatchItem(265598, "AAPL"), WatchItem(272093, "MSFT"), WatchItem(8314, "IBM")


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_the_model_keeps_order_and_what_charts_hold() -> None:
    changes: list[list[int]] = []
    watchlist = Watchlist([AAPL, MSFT, AAPL])
    unsubscribe = watchlist.subscribe(lambda: changes.append(watchlist.conids()))
    assert watchlist.conids() == [AAPL.conid, MSFT.conid]  # no duplicates
    assert watchlist.add(IBM) and not watchlist.add(IBM)
    assert watchlist.move(IBM.conid, -5) == 0  # clamped at the top
    assert watchlist.move(AAPL.conid, 1) == 2
    assert watchlist.remove(MSFT.conid) == MSFT and watchlist.remove(MSFT.conid) is None
    assert changes == [
        [265598, 272093, 8314],
        [8314, 265598, 272093],
        [8314, 272093, 265598],
        [8314, 265598],
    ]
    unsubscribe()
    watchlist.hold(756733)
    watchlist.hold(756733)
    watchlist.hold(IBM.conid)
    assert watchlist.polled() == [8314, 265598, 756733]
    watchlist.release(756733)
    assert 756733 in watchlist.polled()
    watchlist.release(756733)
    assert watchlist.polled() == [8314, 265598]
    assert len(changes) == 4  # unsubscribed


async def test_the_poller_quotes_watched_conids_in_the_same_batches(clock: Clock) -> None:
    held = [position(i, f"S{i}", "1", "10", "9") for i in range(1, 151)]
    broker = ViewBroker(held, clock)
    watched = [150, 500, 501]  # one of them is held too
    posted: list[Message] = []

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    poller = Poller(
        broker, PAPER.account_id, posted.append, clock=clock, sleep=sleep, watched=lambda: watched
    )
    await poller.poll_once()
    first = broker.quote_calls[:2]
    assert [len(batch) for batch in first] == [100, 52]
    # the watched first (asked every round), then the held, in the same batches
    assert first == [[150, 500, 501, *range(1, 98)], list(range(98, 150))]
    quoted: dict[int, QuoteView] = {}
    for message in posted:
        if isinstance(message, QuotesUpdated):
            quoted.update(message.quotes)
    assert {500, 501} <= set(quoted)
    watched.append(502)  # read every round
    broker.quote_calls.clear()
    await poller.poll_once()
    assert 502 in broker.quote_calls[0]  # asked first, with the other watched
    assert all(len(batch) <= 100 for batch in broker.quote_calls)


def watch_screen(
    items: list[WatchItem], market: FakeMarket | None = None
) -> tuple[WatchlistScreen, Watchlist, MemoryStore, ScreenHost]:
    store = MemoryStore(items)
    watchlist = Watchlist.load(store)
    screen = WatchlistScreen(
        watchlist, market, quotes={MSFT.conid: QuoteView(MSFT.conid, Decimal("415.10"))}
    )
    return screen, watchlist, store, ScreenHost(screen)


async def test_live_cells_reorder_and_delete_by_key() -> None:
    screen, watchlist, store, app = watch_screen([AAPL, MSFT, IBM])
    async with app.run_test(size=(120, 30)) as pilot:
        table = screen.table
        assert table.symbols == ["AAPL", "MSFT", "IBM"]
        assert table.cell_text(MSFT.conid, "last") == "415.10"  # the quote on hand
        assert table.cell_text(AAPL.conid, "last") == "—"
        writes: list[tuple[object, object]] = []
        real_update = table.update_cell

        def update_cell(row: Any, column: Any, value: Any, **kwargs: Any) -> None:
            writes.append((row, column))
            real_update(row, column, value, **kwargs)

        table.update_cell = update_cell  # type: ignore[method-assign]
        quote = QuoteView(
            AAPL.conid,
            Decimal("222.91"),
            change=Decimal("-0.54"),
            change_pct=Decimal("-0.24"),
            bid=Decimal("222.90"),
            ask=Decimal("222.92"),
            volume=Decimal("41800000"),
        )
        screen.set_quote(quote)  # forwarded by the positions screen
        assert [table.cell_text(AAPL.conid, c) for c in table.columns] == [
            "AAPL",
            "222.91",
            "-0.54",
            "-0.24%",
            "222.90",
            "222.92",
            "41.8M",
        ]
        writes.clear()
        moved = replace(quote, ask=Decimal("222.95"))
        screen.post_message(QuotesUpdated({AAPL.conid: moved}))  # posted by a poller
        await pilot.pause()
        assert writes == [(str(AAPL.conid), "ask")]  # only the cell that changed
        assert table.cell_text(AAPL.conid, "ask") == "222.95"

        await pilot.press("j", "K")  # MSFT up
        assert table.symbols == ["MSFT", "AAPL", "IBM"] and table.selected_conid() == MSFT.conid
        await pilot.press("shift+down", "J")
        assert table.symbols == ["AAPL", "IBM", "MSFT"] and table.selected_conid() == MSFT.conid
        await pilot.press("J")  # already last
        await pilot.press("k", "d")  # delete IBM
        await settle(pilot)
        assert table.symbols == ["AAPL", "MSFT"] and table.selected_conid() == MSFT.conid
        assert store.items == [AAPL, MSFT]  # saved
        assert table.cell_text(AAPL.conid, "last") == "222.91"  # quotes kept across redraws
        await pilot.press("d", "delete")
        await settle(pilot)
        assert watchlist.items == [] and store.items == []
        assert screen.query_one("#watchlist-empty").display
        assert "press f to find an instrument" in str(screen.query_one("#watchlist-empty").render())


async def test_chart_search_and_ticket_from_the_watchlist() -> None:
    market = FakeMarket(count=20)
    screen, _, store, app = watch_screen([AAPL, MSFT], market)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("j", "b")
        await pilot.pause()
        ticket = app.posted[-1]
        assert isinstance(ticket, TicketRequested)
        assert (ticket.symbol, ticket.side) == ("MSFT", "BUY")
        assert ticket.quote is not None and ticket.quote.last == Decimal("415.10")
        await pilot.press("enter")
        await settle(pilot)
        chart = app.screen
        assert isinstance(chart, ChartScreen) and chart.conid == MSFT.conid
        assert chart.quote is not None and chart.quote.last == Decimal("415.10")
        await pilot.press("escape", "f")
        search = app.screen
        assert isinstance(search, SearchScreen)
        search.input.value = "ibm"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("plus", "escape")
        await settle(pilot)
        assert app.screen is screen
        assert screen.table.symbols == ["AAPL", "MSFT", "IBM"]  # the list followed
        assert store.items == [AAPL, MSFT, IBM]


# --- the real simulator ---------------------------------------------------------------------------
class Console(App[None]):
    """The wiring the app does for the watchlist: a market, the watchlist from the state dir,
    and the poller quoting ``watchlist.polled`` — here posting to the watchlist screen."""

    def __init__(self, backend: ClientBackend, state_dir: Path) -> None:
        super().__init__()
        self.backend = backend
        self.market = ClientMarketData(self._client)
        self.watchlist = Watchlist.load(StateWatchlistStore(StateStore(state_dir)))

    async def _client(self) -> IbkrClient:
        return (await self.backend._ensure_started()).client

    def compose(self) -> ComposeResult:
        yield Static("console")

    def on_mount(self) -> None:
        screen = open_watchlist(self, self.watchlist, self.market)
        self.run_worker(self._poll(screen), group="poller", exclusive=True)

    async def _poll(self, screen: WatchlistScreen) -> None:
        poller = Poller(
            self.backend,
            PAPER_ACCOUNT,
            screen.post_message,
            settings=PollSettings(interval=0.2, warmup_retry=0.1),
            watched=self.watchlist.polled,
        )
        await poller.run()


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the console did not get there in time"
        await pilot.pause(0.05)


def live_price(screen: WatchlistScreen, conid: int) -> bool:
    return screen.table.cell_text(conid, "last") not in ("", "—")


async def test_search_add_restart_still_there_with_live_prices(tmp_path: Path) -> None:
    demo = trading_demo(5)
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)

    def backend() -> ClientBackend:
        access = AccessCredentials(token, secret)
        return ClientBackend(demo.base_url, demo.consumer, access=access, transport=demo.transport)

    first = Console(backend(), tmp_path)
    async with first.run_test(size=(120, 30)) as pilot:
        watch = first.screen
        assert isinstance(watch, WatchlistScreen) and watch.table.symbols == []
        search = open_search(first, first.market, first.watchlist)
        await pilot.pause()
        search.input.value = "IBM"
        await pilot.press("enter")
        await wait_for(pilot, lambda: first.focused is search.table)
        await pilot.press("plus", "escape")
        await wait_for(pilot, lambda: first.screen is watch and watch.table.symbols == ["IBM"])
        await wait_for(pilot, lambda: live_price(watch, 8314))
        saved = [{"conid": 8314, "symbol": "IBM"}]
        await wait_for(pilot, lambda: StateStore(tmp_path).get("watchlist") == saved)
    await first.backend.aclose()

    second = Console(backend(), tmp_path)  # a restart: new app, new connection, same state dir
    async with second.run_test(size=(120, 30)) as pilot:
        watch = second.screen
        assert isinstance(watch, WatchlistScreen) and watch.table.symbols == ["IBM"]
        await wait_for(pilot, lambda: live_price(watch, 8314))
        assert float(watch.table.cell_text(8314, "last").replace(",", "")) > 0
        assert watch.table.cell_text(8314, "bid") != "—"
    await second.backend.aclose()


async def test_a_quote_before_the_screen_is_drawn_is_kept_not_a_crash() -> None:
    store = MemoryStore([AAPL, MSFT])
    screen = WatchlistScreen(Watchlist.load(store), None)
    early = QuoteView(AAPL.conid, Decimal("222.91"))
    screen.set_quote(early)  # the positions screen forwards as soon as the screen is pushed
    assert screen.quotes[AAPL.conid] == early
    async with ScreenHost(screen).run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert screen.table.cell_text(AAPL.conid, "last") == "222.91"
