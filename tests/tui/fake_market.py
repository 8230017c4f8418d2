"""A MarketData built from fixed data for the chart, search and watchlist tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from ibtui.tui.market import (
    BarView,
    HistoryView,
    MarketDataError,
    SearchResultView,
    WatchItem,
)

NEW_YORK = "America/New_York"
# 2024-11-04 09:30 New York, a Monday: the first bar of the fixed intraday history
SESSION_OPEN = datetime(2024, 11, 4, 9, 30, tzinfo=ZoneInfo(NEW_YORK)).timestamp()
BAR_SECONDS = {"1min": 60, "5min": 300, "30min": 1800, "4h": 14400, "1d": 86400}
BAR_SECONDS |= {"1w": 604800, "1m": 2592000}


def fixed_bars(
    count: int, *, seed: int = 7, start: float = SESSION_OPEN, step: int = 300, price: str = "222"
) -> tuple[BarView, ...]:
    """``count`` bars of a seeded random walk, ``step`` seconds apart."""
    rng = random.Random(seed)
    bars: list[BarView] = []
    close = Decimal(price)
    for i in range(count):
        open_ = close
        moves = [Decimal(rng.randint(-60, 60)) / 100 for _ in range(3)]
        close = open_ + moves[0]
        high = max(open_, close) + abs(moves[1])
        low = min(open_, close) - abs(moves[2])
        volume = Decimal(rng.randint(2_000, 40_000))
        bars.append(BarView(start + i * step, open_, high, low, close, volume))
    return tuple(bars)


def history(
    conid: int = 265598,
    symbol: str = "AAPL",
    *,
    count: int = 78,
    period: str = "1d",
    bar: str = "5min",
    timezone: str = NEW_YORK,
    seed: int = 7,
) -> HistoryView:
    step = BAR_SECONDS.get(bar, 300)
    return HistoryView(
        conid,
        symbol,
        fixed_bars(count, seed=seed, step=step),
        timezone=timezone,
        period=period,
        bar=bar,
        bar_seconds=step,
        name="APPLE INC",
    )


UNIVERSE: tuple[SearchResultView, ...] = (
    SearchResultView(265598, "AAPL", "APPLE INC", ("STK", "OPT", "WAR", "CFD", "BAG"), "NASDAQ"),
    SearchResultView(38708077, "AAPL", "APPLE INC", ("STK",), "MEXI"),
    SearchResultView(272093, "MSFT", "MICROSOFT CORP", ("STK", "OPT", "BAG"), "NASDAQ"),
    SearchResultView(756733, "SPY", "SPDR S&P 500 ETF TRUST", ("STK", "OPT", "BAG"), "ARCA"),
    SearchResultView(40565311, "SAP", "SAP SE", ("STK",), "IBIS"),
    SearchResultView(8314, "IBM", "INTL BUSINESS MACHINES CORP", ("STK", "OPT"), "NYSE"),
)


class FakeMarket:
    """Answers with fixed bars and :data:`UNIVERSE`. ``failures`` are raised first (one per
    history call); ``gate``, when set, holds every history answer until it is opened;
    ``empty`` conids have no history."""

    def __init__(self, *, count: int = 78) -> None:
        self.count = count
        self.calls: list[tuple[int, str, str]] = []
        self.searches: list[str] = []
        self.failures: list[Exception] = []
        self.search_failures: list[Exception] = []
        self.gate: asyncio.Event | None = None
        self.empty: set[int] = set()
        self.currency_failures: list[Exception] = []

    async def history(self, conid: int, period: str, bar: str) -> HistoryView:
        self.calls.append((conid, period, bar))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        symbol = next((r.symbol for r in UNIVERSE if r.conid == conid), str(conid))
        count = 0 if conid in self.empty else self.count
        return history(conid, symbol, count=count, period=period, bar=bar)

    async def currency(self, conid: int) -> str | None:
        if self.currency_failures:
            raise self.currency_failures.pop(0)
        return {40565311: "EUR"}.get(conid, "USD")

    async def search(self, text: str) -> Sequence[SearchResultView]:
        self.searches.append(text)
        if self.search_failures:
            raise self.search_failures.pop(0)
        words = text.upper().split()
        return [
            r for r in UNIVERSE if all(w in r.symbol or w in r.description.upper() for w in words)
        ]


class MemoryStore:
    """A WatchlistStore in memory; ``fail`` makes saves raise."""

    def __init__(self, items: Sequence[WatchItem] = ()) -> None:
        self.items = list(items)
        self.saves = 0
        self.fail = False

    def load(self) -> list[WatchItem]:
        return list(self.items)

    def save(self, items: Sequence[WatchItem]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.saves += 1
        self.items = list(items)


class Base(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Static("base", id="base")


class ScreenHost(App[None]):
    """Pushes one screen over a plain base screen; records the messages screens post."""

    def __init__(self, screen: Screen[None]) -> None:
        super().__init__()
        self.first = screen
        self.posted: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(Base())
        self.push_screen(self.first)

    def on_ticket_requested(self, message: object) -> None:
        self.posted.append(message)


__all__ = [
    "UNIVERSE",
    "FakeMarket",
    "MarketDataError",
    "MemoryStore",
    "ScreenHost",
    "fixed_bars",
    "history",
]
