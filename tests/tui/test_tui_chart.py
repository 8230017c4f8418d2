"""The chart screen: candles and line, presets, resize, live last price, and the states a trader
sees instead of a blank (loading, slow, no data, 429, error); ClientMarketData's conversions."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.pilot import Pilot

from ibtui.adapters.market import ClientMarketData, StateWatchlistStore, exchange_timezone
from ibtui.ibkr.errors import ApiStatusError, RateLimitedError
from ibtui.ibkr.models.contract import ContractInfo
from ibtui.ibkr.models.history import History
from ibtui.local.state import StateStore
from ibtui.sim.history import parse_spec
from ibtui.tui.market import (
    PRESETS,
    BarView,
    HistoryView,
    MarketDataError,
    RateLimited,
    TicketRequested,
    WatchItem,
    Watchlist,
)
from ibtui.tui.screens.chart import ChartScreen, ChartState, axis_labels
from ibtui.tui.viewmodels import QuoteView
from tests.tui.fake_market import SESSION_OPEN, FakeMarket, MemoryStore, ScreenHost, history

AAPL = 265598


def chart(market: FakeMarket, **kwargs: Any) -> tuple[ChartScreen, ScreenHost]:
    screen = ChartScreen(market, AAPL, "AAPL", description="APPLE INC", **kwargs)
    return screen, ScreenHost(screen)


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def plot_text(screen: ChartScreen) -> str:
    return str(screen.price_panel.render())


def header(screen: ChartScreen) -> str:
    return str(screen.query_one("#chart-header").render())


def test_every_preset_is_in_the_apis_allowed_table() -> None:
    # the simulator enforces API.md's step-size table and rejects anything outside it
    for preset in PRESETS:
        spec = parse_spec(preset.period, preset.bar)
        assert (spec.period, spec.bar) == (preset.period, preset.bar)
    assert [p.period for p in PRESETS][:2] == ["1h", "1d"] and PRESETS[-1].period == "15y"


def test_axis_labels_are_exchange_local_time() -> None:
    times = [SESSION_OPEN + i * 300 for i in range(78)]
    ticks, labels = axis_labels(times, 300, "America/New_York", 100)
    assert ticks[0] == 0 and ticks[-1] == 77
    assert labels[0] == "09:30" and labels[-1] == "15:55"
    _, berlin = axis_labels(times, 300, "Europe/Berlin", 100)
    assert berlin[0] == "15:30"  # the same instant on Xetra's clock
    _, daily = axis_labels([SESSION_OPEN + i * 86400 for i in range(60)], 86400, "UTC", 80)
    assert daily[0] == "Nov 04"
    narrow, _ = axis_labels(times, 300, "America/New_York", 30)
    assert len(narrow) < len(ticks)


def test_the_current_bar_follows_the_last_price() -> None:
    view = history(count=3)
    last = view.bars[-1]
    higher = view.with_price(last.high + 1, at=last.time + 10)
    assert higher.bars[-1].close == higher.bars[-1].high == last.high + 1
    assert higher.bars[-1].open == last.open and len(higher.bars) == 3
    later = view.with_price(Decimal("230"), at=last.time + 300 * 2 + 5)
    assert len(later.bars) == 4 and later.bars[-1].time == last.time + 600
    assert later.bars[-1].open == later.bars[-1].close == Decimal("230")
    empty = HistoryView(AAPL, "AAPL", ())
    assert empty.with_price(Decimal(1)) is empty


async def test_chart_from_a_conid_candles_or_line_local_time_labels_volume() -> None:
    market = FakeMarket()
    screen, app = chart(market)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert market.calls == [(AAPL, "1d", "5min")]
        assert screen.state is ChartState.READY
        assert screen.query_one("#chart-body").display
        assert not screen.query_one("#chart-message").display
        text = plot_text(screen)
        assert "09:30" in text and "15:55" in text
        assert "█" in text and "⠉" not in text  # candle bodies, no braille line
        top = header(screen)
        assert top.startswith("AAPL  217.52") and "1 day · 5 min" in top
        assert "exchange time (America/New_York)" in top and "candles" in top
        assert screen.volume_panel.display and "39.1K" in str(screen.volume_panel.render())
        # l: a close line instead of candles; v: the volume panel off and on
        await pilot.press("l")
        assert screen.line_mode and "line" in header(screen)
        text = plot_text(screen)
        assert any("\u2800" < ch <= "\u28ff" for ch in text)  # braille line
        await pilot.press("v")
        assert not screen.volume_panel.display
        await pilot.press("l", "v")
        assert not screen.line_mode and screen.volume_panel.display


async def test_presets_cycle_with_brackets_and_stop_at_the_ends() -> None:
    market = FakeMarket(count=20)
    screen, app = chart(market)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert market.calls == [
            (AAPL, "1d", "5min"),
            (AAPL, "1w", "30min"),
            (AAPL, "1m", "4h"),
            (AAPL, "1w", "30min"),
        ]
        assert "1 week · 30 min" in header(screen)
        screen.preset_index = len(PRESETS) - 2
        for _ in range(2):
            await pilot.press("right_square_bracket")
            await settle(pilot)
        assert market.calls[4:] == [(AAPL, "15y", "1m")]  # no request past the longest
        assert screen.state is ChartState.READY


async def test_resizing_redraws_to_the_new_size() -> None:
    screen, app = chart(FakeMarket(count=30))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        wide = screen.price_panel.drawn_size
        wide_labels = plot_text(screen).count(":")
        await pilot.resize_terminal(70, 20)
        await settle(pilot)
        narrow = screen.price_panel.drawn_size
        assert wide is not None and narrow is not None
        assert narrow[0] < wide[0] and narrow[1] < wide[1]
        lines = plot_text(screen).splitlines()
        assert max(len(line) for line in lines) <= narrow[0]
        assert 0 < plot_text(screen).count(":") < wide_labels  # fewer time labels fit
        assert screen.state is ChartState.READY


def colored_columns(text: Text) -> dict[int, set[str]]:
    """The columns of a panel's drawing holding green or red marks, and their colours."""
    found: dict[int, set[str]] = {}
    for line in text.split("\n"):
        for span in line.spans:
            style = Style.parse(span.style) if isinstance(span.style, str) else span.style
            color = {1: "red", 2: "green"}.get(style.color.number) if style.color else None
            for x in range(span.start, span.end):
                if color and line.plain[x].strip():
                    found.setdefault(x, set()).add(color)
    return found


@pytest.mark.parametrize(
    ("size", "count", "preset"),
    [
        ((120, 40), 78, 1),  # 1 day · 5 min
        ((200, 50), 78, 1),
        ((120, 40), 20, 0),
        ((80, 24), 60, 4),  # 3 months · daily
        ((120, 40), 100, 7),  # 2 years · weekly
        ((80, 24), 33, 9),
    ],
)
async def test_each_volume_bar_is_under_its_candle_in_its_colour(
    size: tuple[int, int], count: int, preset: int
) -> None:
    screen, app = chart(FakeMarket(count=count), preset=preset)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert screen.history is not None
        bars = screen.history.bars
        candles = colored_columns(screen.price_panel.render())
        volumes = colored_columns(screen.volume_panel.render())
        assert len(candles) == len(bars)  # one column per candle: nothing overlaps
        assert sorted(volumes) == sorted(candles)  # the n-th bar in the n-th candle's column
        expected = [{"green" if b.close > b.open else "red"} for b in bars]
        assert [candles[x] for x in sorted(candles)] == expected
        assert [volumes[x] for x in sorted(volumes)] == expected


async def test_no_data_says_so() -> None:
    market = FakeMarket(count=30)
    market.empty.add(AAPL)
    screen, app = chart(market)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert screen.state is ChartState.EMPTY
        assert not screen.query_one("#chart-body").display
        message = str(screen.query_one("#chart-message").render())
        assert "No price history for AAPL over 1 day · 5 min" in message


async def test_a_429_counts_down_then_retries() -> None:
    market = FakeMarket(count=30)
    market.failures = [RateLimited("too many"), RateLimited("too many", retry_after=12.0)]
    gate = asyncio.Event()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await gate.wait()

    screen, app = chart(market, sleep=sleep)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(5):
            await pilot.pause()
        assert screen.state is ChartState.RATE_LIMITED
        message = str(screen.query_one("#chart-message").render())
        assert message == "IBKR asks us to slow down; retrying in 5s."
        assert screen.query_one("#chart-message").has_class("warning")
        gate.set()  # the countdown runs through (the test's sleep no longer waits)
        await settle(pilot)
        assert screen.state is ChartState.READY
        assert len(market.calls) == 3
        assert len(slept) == 5 + 12  # 5 s back-off, then the 12 s IBKR asked for


async def test_a_slow_answer_shows_loading_and_how_long_it_has_been() -> None:
    market = FakeMarket(count=30)
    market.gate = asyncio.Event()
    screen, app = chart(market, slow_after=2)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert screen.state is ChartState.LOADING
        assert not screen.query_one("#chart-body").display
        message = str(screen.query_one("#chart-message").render())
        assert message.startswith("loading… AAPL · 1 day · 5 min")
        screen._tick()
        screen._tick()  # the 1-second timer, twice
        message = str(screen.query_one("#chart-message").render())
        assert "IBKR has not answered for 2 s; still waiting." in message
        market.gate.set()
        await settle(pilot)
        assert screen.state is ChartState.READY


async def test_an_error_is_shown_and_r_retries() -> None:
    market = FakeMarket(count=30)
    market.failures = [MarketDataError("IBKR answered 503 on /iserver/marketdata/history.")]
    screen, app = chart(market)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert screen.state is ChartState.ERROR
        message = str(screen.query_one("#chart-message").render())
        assert "Could not load the chart: IBKR answered 503" in message
        assert "Press r to try again." in message
        await pilot.press("r")
        await settle(pilot)
        assert screen.state is ChartState.READY and len(market.calls) == 2


async def test_live_quotes_move_the_current_bar_and_the_header() -> None:
    screen, app = chart(FakeMarket(count=30))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert screen.history is not None
        last = screen.history.bars[-1]
        screen.apply_quote(QuoteView(272093, Decimal("999")))  # another instrument: ignored
        assert screen.history.bars[-1] == last
        quote = QuoteView(
            AAPL,
            last.high + Decimal("2.00"),
            change=Decimal("1.25"),
            change_pct=Decimal("0.57"),
            updated_at=last.time + 60,
        )
        screen.set_quote(quote)  # the name the positions screen forwards quotes by
        await pilot.pause()
        bar = screen.history.bars[-1]
        assert bar.close == bar.high == last.high + Decimal("2.00") and bar.open == last.open
        assert header(screen).startswith(f"AAPL  {last.high + 2} +1.25 (+0.57%)")


async def test_a_quote_without_a_trade_time_makes_no_bar() -> None:
    screen, app = chart(FakeMarket(count=30))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert screen.history is not None
        before = screen.history.bars
        last = before[-1]
        # the market closed: a snapshot received two days later, with no time of IBKR's
        screen.apply_quote(QuoteView(AAPL, last.close, updated_at=last.time + 2 * 86_400))
        await pilot.pause()
        assert screen.history.bars == before  # no bar at the time it was received
        assert [b.time for b in screen.history.bars] == [b.time for b in before]


async def test_a_closed_markets_quote_makes_no_bar_at_the_time_ibkr_stamped_it() -> None:
    screen, app = chart(FakeMarket(count=30))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert screen.history is not None
        before = screen.history.bars
        last = before[-1]
        # two days later, the market closed: IBKR's snapshot carries the close ("C" prefix) and
        # the time it was answered (_updated), not the time of a trade
        quote = QuoteView(
            AAPL,
            last.close,
            is_close=True,
            updated_at=last.time + 2 * 86_400,
            traded_at=last.time + 2 * 86_400,
        )
        screen.apply_quote(quote)
        await pilot.pause()
        assert [b.time for b in screen.history.bars] == [b.time for b in before]
        assert screen.history.bars[-1].close == last.close


async def test_a_quote_is_placed_by_ibkrs_time_not_by_when_it_arrived() -> None:
    screen, app = chart(FakeMarket(count=30))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert screen.history is not None
        bars = len(screen.history.bars)
        last = screen.history.bars[-1]
        quote = QuoteView(
            AAPL,
            last.high + Decimal("1.00"),
            traded_at=last.time + 60,  # inside the current bar by IBKR's clock
            updated_at=last.time + 86_400,  # received a day later by ours (a replayed market)
        )
        screen.apply_quote(quote)
        await pilot.pause()
        assert len(screen.history.bars) == bars
        assert screen.history.bars[-1].close == last.high + Decimal("1.00")


async def test_ticket_and_watch_keys() -> None:
    store = MemoryStore()
    watchlist = Watchlist(store=store)
    _, app = chart(FakeMarket(count=30), watchlist=watchlist)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert watchlist.polled() == [AAPL]  # quoted while the chart is open
        assert watchlist.conids() == []
        await pilot.press("b")
        await pilot.press("s")
        await pilot.pause()
        sides = [m.side for m in app.posted if isinstance(m, TicketRequested)]
        assert sides == ["BUY", "SELL"]
        await pilot.press("plus")
        await settle(pilot)
        assert store.items == [WatchItem(AAPL, "AAPL")]
        await pilot.press("escape")
        await pilot.pause()
        assert watchlist.polled() == [AAPL]  # now because it is watched
        watchlist.remove(AAPL)
        assert watchlist.polled() == []  # the chart let go of it


@pytest.mark.parametrize("line", [False, True], ids=["candles", "line"])
def test_chart_snapshot(snap_compare: Any, line: bool) -> None:
    screen = ChartScreen(FakeMarket(), AAPL, "AAPL", description="APPLE INC", line=line)

    async def ready(pilot: Pilot[None]) -> None:
        await settle(pilot)

    assert snap_compare(ScreenHost(screen), terminal_size=(120, 40), run_before=ready)


# --- ClientMarketData over a stand-in client --------------------------------------------------
class StubClient:
    """The three IbkrClient methods ClientMarketData uses."""

    def __init__(self) -> None:
        self.history_errors: list[Exception] = []
        self.in_flight = 0
        self.most = 0
        self.release = asyncio.Event()
        self.info_calls = 0

    async def history(self, conid: int, period: str, bar: str) -> History:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.release.wait()
            if self.history_errors:
                raise self.history_errors.pop(0)
            return History.from_json(
                {
                    "symbol": "SAP",
                    "text": "SAP SE",
                    "barLength": 300,
                    "timePeriod": period,
                    "data": [{"t": 1730727000000, "o": 191, "h": 192, "l": 190.5, "c": 191.4}],
                }
            )
        finally:
            self.in_flight -= 1

    async def contract_info(self, conid: int) -> ContractInfo:
        self.info_calls += 1
        return ContractInfo.from_json(
            {"con_id": conid, "symbol": "SAP", "valid_exchanges": "SMART,IBIS", "currency": "EUR"}
        )

    async def search(self, text: str) -> Sequence[object]:
        return ()


def client_market(stub: StubClient) -> ClientMarketData:
    async def get() -> Any:
        return stub

    return ClientMarketData(get)


async def test_client_market_data_converts_bars_zone_and_errors() -> None:
    stub = StubClient()
    stub.release.set()
    market = client_market(stub)
    view = await market.history(40565311, "1d", "5min")
    assert view.symbol == "SAP" and view.timezone == "Europe/Berlin"
    assert view.bars == (
        BarView(1730727000.0, Decimal(191), Decimal(192), Decimal("190.5"), Decimal("191.4"), None),
    )
    await market.history(40565311, "1w", "30min")
    assert stub.info_calls == 1  # the zone is looked up once per conid

    stub.history_errors = [
        RateLimitedError(endpoint="/iserver/marketdata/history", retry_after=7.0),
        ApiStatusError(500, "/iserver/marketdata/history", "No data."),
        ApiStatusError(503, "/iserver/marketdata/history", "timeout"),
    ]
    with pytest.raises(RateLimited) as limited:
        await market.history(40565311, "1d", "5min")
    assert limited.value.retry_after == 7.0 and "rate limit" in str(limited.value)
    empty = await market.history(40565311, "1d", "5min")
    assert empty.empty and empty.symbol == "SAP" and empty.timezone == "Europe/Berlin"
    with pytest.raises(MarketDataError, match="503"):
        await market.history(40565311, "1d", "5min")


async def test_client_market_data_keeps_at_most_five_history_requests_in_flight() -> None:
    stub = StubClient()
    market = client_market(stub)
    tasks = [asyncio.create_task(market.history(1, "1d", "5min")) for _ in range(12)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert stub.in_flight == 5
    stub.release.set()
    await asyncio.gather(*tasks)
    assert stub.most == 5


def test_exchange_zones() -> None:
    assert exchange_timezone(["NASDAQ.NMS"]) == "America/New_York"
    assert exchange_timezone(["SMART", "IBIS"], "EUR") == "Europe/Berlin"
    assert exchange_timezone(["SMART"], "GBP") == "Europe/London"
    assert exchange_timezone(["SMART"], None) is None


def test_watchlist_store_in_the_state_file(tmp_path: Path) -> None:
    state = StateStore(tmp_path)
    state.set("last_account", "DU1")
    store = StateWatchlistStore(state)
    assert store.load() == []
    store.save([WatchItem(265598, "AAPL"), WatchItem(8314, "IBM")])
    assert StateWatchlistStore(StateStore(tmp_path)).load() == [
        WatchItem(265598, "AAPL"),
        WatchItem(8314, "IBM"),
    ]
    assert state.get("watchlist") == [
        {"conid": 265598, "symbol": "AAPL"},
        {"conid": 8314, "symbol": "IBM"},
    ]
    assert state.last_account == "DU1"  # other state is kept
    state.set("watchlist", [{"conid": "x"}, 5, {"conid": 8314}])  # damaged entries are skipped
    assert store.load() == [WatchItem(8314, "8314")]


async def test_client_market_data_knows_an_instruments_currency_once() -> None:
    stub = StubClient()
    stub.release.set()
    market = client_market(stub)
    await market.history(40565311, "1d", "5min")  # the details, asked once for the time zone
    assert await market.currency(40565311) == "EUR"
    assert await market.currency(40565311) == "EUR"
    assert stub.info_calls == 1
