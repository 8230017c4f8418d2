"""The chart's and the symbol search's :class:`~ibtui.tui.market.MarketData` over ``IbkrClient``,
and the watchlist's store in the state dir.

History requests are capped at five in flight (IBKR's limit, API.md §6.1) by a semaphore here, on
top of the client's pacer (which keeps them at four). A 429 becomes
:class:`~ibtui.tui.market.RateLimited`, IBKR's ``"No data."`` an empty history, anything else a
:class:`~ibtui.tui.market.MarketDataError` with the client's message. The exchange's time zone
(for the chart's axis) comes from the search result that led to the chart or, failing that, from
the contract's details, cached per conid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.errors import ApiStatusError, IbkrError, RateLimitedError
from ibtui.local.state import JsonValue, StateStore
from ibtui.tui.market import MarketDataError, RateLimited, WatchItem

if TYPE_CHECKING:  # imported by the client's calls when a chart or a search first needs them
    from ibtui.ibkr.models import ContractSearchResult, History, HistoryBar
    from ibtui.tui.market_views import BarView, HistoryView, SearchResultView

__all__ = [
    "HISTORY_CONCURRENCY",
    "WATCHLIST_KEY",
    "ClientMarketData",
    "StateWatchlistStore",
    "bar_view",
    "exchange_timezone",
    "history_view",
    "rank_search",
    "search_result_view",
]

HISTORY_CONCURRENCY = 5  # IBKR: at most five history requests at once (API.md §6.1)
WATCHLIST_KEY = "watchlist"
DEFAULT_TIMEZONE = "America/New_York"

# IBKR exchange codes → the exchange's IANA time zone.
_ZONE_GROUPS = {
    "America/New_York": "NASDAQ NYSE ARCA AMEX BATS IEX ISLAND NYSENAT PINK CBOE BYX EDGX MEMX"
    " PHLX ISE NYMEX COMEX ECBOT",
    "America/Chicago": "CME GLOBEX CBOT CBOEFUT CFE",
    "America/Toronto": "TSE VENTURE",
    "Europe/Berlin": "IBIS FWB FWB2 SWB XETRA GETTEX TGATE EUREX",
}
_EXCHANGE_ZONES = {
    **{code: zone for zone, codes in _ZONE_GROUPS.items() for code in codes.split()},
    "AEB": "Europe/Amsterdam",
    "SBF": "Europe/Paris",
    "ENEXT.BE": "Europe/Brussels",
    "BVL": "Europe/Lisbon",
    "BM": "Europe/Madrid",
    "BVME": "Europe/Rome",
    "EBS": "Europe/Zurich",
    "VSE": "Europe/Vienna",
    "SFB": "Europe/Stockholm",
    "OSE": "Europe/Oslo",
    "KFB": "Europe/Copenhagen",
    "HEX": "Europe/Helsinki",
    "LSE": "Europe/London",
    "LSEETF": "Europe/London",
    "SEHK": "Asia/Hong_Kong",
    "TSEJ": "Asia/Tokyo",
    "SGX": "Asia/Singapore",
    "ASX": "Australia/Sydney",
    "NSE": "Asia/Kolkata",
    "MEXI": "America/Mexico_City",
}
_CURRENCY_ZONES = {
    "USD": "America/New_York",
    "CAD": "America/Toronto",
    "EUR": "Europe/Berlin",
    "GBP": "Europe/London",
    "CHF": "Europe/Zurich",
    "SEK": "Europe/Stockholm",
    "NOK": "Europe/Oslo",
    "DKK": "Europe/Copenhagen",
    "JPY": "Asia/Tokyo",
    "HKD": "Asia/Hong_Kong",
    "SGD": "Asia/Singapore",
    "AUD": "Australia/Sydney",
    "INR": "Asia/Kolkata",
    "MXN": "America/Mexico_City",
}


def exchange_timezone(exchanges: Sequence[str | None], currency: str | None = None) -> str | None:
    """The first known exchange's zone (``NASDAQ.NMS`` counts as ``NASDAQ``), else the
    currency's home market's, else None."""
    for exchange in exchanges:
        if not exchange:
            continue
        code = exchange.strip().upper()
        zone = _EXCHANGE_ZONES.get(code) or _EXCHANGE_ZONES.get(code.split(".")[0])
        if zone:
            return zone
    return _CURRENCY_ZONES.get((currency or "").upper())


def _epoch(when: datetime) -> float:
    return when.timestamp()


HISTORY_VOLUME_UNIT = 100
"""IBKR's history bars count volume in hundreds of shares (a daily AAPL bar says 472117.45), its
snapshots in shares (API.md §5): the charts show shares, as the watchlist's day volume does."""


def bar_view(bar: HistoryBar) -> BarView:
    from ibtui.tui.market_views import BarView

    volume = None if bar.volume is None else bar.volume * HISTORY_VOLUME_UNIT
    return BarView(_epoch(bar.time), bar.open, bar.high, bar.low, bar.close, volume)


def history_view(
    conid: int, history: History, *, period: str, bar: str, timezone: str, symbol: str = ""
) -> HistoryView:
    from ibtui.tui.market_views import HistoryView

    return HistoryView(
        conid=conid,
        symbol=history.symbol or symbol,
        bars=tuple(bar_view(b) for b in history.bars),
        timezone=timezone,
        period=history.period or period,
        bar=bar,
        bar_seconds=history.bar_seconds,
        name=history.name,
        delay_seconds=history.delay_seconds or 0,
    )


def search_result_view(result: ContractSearchResult) -> SearchResultView:
    from ibtui.tui.market_views import SearchResultView

    return SearchResultView(
        conid=result.conid,
        symbol=result.symbol,
        description=result.company_name or result.company_header or "",
        kinds=result.sec_types,
        exchange=result.exchange,
    )


def rank_search(text: str, views: Sequence[SearchResultView]) -> list[SearchResultView]:
    """Each listing once, best first: the symbol itself, then symbols starting with ``text``,
    then names starting with it, then names with a word starting with it, then the rest (as
    IBKR ordered them within each rank)."""
    query = text.strip().upper()

    def rank(view: SearchResultView) -> int:
        symbol = view.symbol.upper()
        name = view.description.upper()
        if symbol == query:
            return 0
        if symbol.startswith(query):
            return 1
        if name.startswith(query):
            return 2
        if any(word.startswith(query) for word in name.split()):
            return 3
        return 4

    unique: dict[int, SearchResultView] = {}
    for view in views:
        unique.setdefault(view.conid, view)
    return sorted(unique.values(), key=rank)


def _no_data(exc: ApiStatusError) -> bool:
    return exc.status == 500 and "no data" in (exc.server_text or "").lower()


class ClientMarketData:
    """:class:`~ibtui.tui.market.MarketData` over the client ``client()`` returns (awaited per
    call, so a backend can start its connection lazily)."""

    def __init__(
        self,
        client: Callable[[], Awaitable[IbkrClient]],
        *,
        max_concurrent_history: int = HISTORY_CONCURRENCY,
        default_timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        if not 1 <= max_concurrent_history <= HISTORY_CONCURRENCY:
            raise ValueError(f"at most {HISTORY_CONCURRENCY} concurrent history requests")
        self._client = client
        self._history_slots = asyncio.Semaphore(max_concurrent_history)
        self.default_timezone = default_timezone
        self._zones: dict[int, str] = {}
        self._currencies: dict[int, str | None] = {}
        self._symbols: dict[int, str] = {}
        self.in_flight = 0  # history requests now waiting on IBKR
        self.most_in_flight = 0

    async def history(self, conid: int, period: str, bar: str) -> HistoryView:
        client = await self._client()
        zone = await self._timezone(client, conid)
        try:
            async with self._history_slots:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    history = await client.history(conid, period, bar)
                finally:
                    self.in_flight -= 1
        except RateLimitedError as exc:
            raise RateLimited(str(exc), exc.retry_after) from exc
        except ApiStatusError as exc:
            if _no_data(exc):
                from ibtui.tui.market_views import HistoryView

                symbol = self._symbols.get(conid, "")
                return HistoryView(conid, symbol, (), zone, period=period, bar=bar)
            raise MarketDataError(str(exc)) from exc
        except IbkrError as exc:
            raise MarketDataError(str(exc)) from exc
        return history_view(
            conid,
            history,
            period=period,
            bar=bar,
            timezone=zone,
            symbol=self._symbols.get(conid, ""),
        )

    async def search(self, text: str) -> list[SearchResultView]:
        """IBKR's symbol matches and company-name matches for ``text``, ranked (see
        :func:`rank_search`). Two requests a search (the screen sends one search after a pause in
        typing): ``secdef/search`` has no limit of its own, only the global one the client paces.
        When one of them fails the other's matches are shown; when both fail, the symbol
        search's error is raised."""
        text = text.strip()
        if not text:
            return []
        client = await self._client()
        answers = await asyncio.gather(
            client.search(text), client.search(text, by_name=True), return_exceptions=True
        )
        found: list[ContractSearchResult] = []
        failures: list[BaseException] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                failures.append(answer)
            else:
                found.extend(answer)
        if failures and len(failures) == len(answers):
            exc = failures[0]
            if isinstance(exc, RateLimitedError):
                raise RateLimited(str(exc), exc.retry_after) from exc
            if isinstance(exc, IbkrError):
                raise MarketDataError(str(exc)) from exc
            raise exc
        for exc in failures:
            if not isinstance(exc, IbkrError):
                raise exc  # a bug, not IBKR's answer
        views = rank_search(text, [search_result_view(result) for result in found])
        for view in views:
            self._symbols.setdefault(view.conid, view.symbol)
            zone = exchange_timezone([view.exchange])
            if zone:
                self._zones.setdefault(view.conid, zone)
        return views

    async def currency(self, conid: int) -> str | None:
        if conid in self._currencies:
            return self._currencies[conid]
        try:
            client = await self._client()  # may have to connect first
            info = await client.contract_info(conid)
        except IbkrError as exc:
            raise MarketDataError(str(exc)) from None
        self._currencies[conid] = info.currency
        return info.currency

    async def _timezone(self, client: IbkrClient, conid: int) -> str:
        """The exchange's zone: from a search, else the contract's details (once), else the
        default. A failing details request only costs the right axis labels."""
        zone = self._zones.get(conid)
        if zone is not None:
            return zone
        try:
            info = await client.contract_info(conid)
        except IbkrError:
            return self.default_timezone  # not cached: the next chart asks again
        zone = exchange_timezone(info.valid_exchanges, info.currency) or self.default_timezone
        self._zones[conid] = zone
        self._currencies.setdefault(conid, info.currency)
        self._symbols.setdefault(conid, info.symbol)
        return zone


class StateWatchlistStore:
    """The watchlist as ``"watchlist": [{"conid": 265598, "symbol": "AAPL"}, ...]`` in the state
    file. Entries that cannot be read are skipped."""

    def __init__(self, state: StateStore, key: str = WATCHLIST_KEY) -> None:
        self.state = state
        self.key = key

    def load(self) -> list[WatchItem]:
        raw = self.state.get(self.key)
        items: list[WatchItem] = []
        if not isinstance(raw, list):
            return items
        for entry in raw:
            if not isinstance(entry, dict):
                continue
            conid, symbol = entry.get("conid"), entry.get("symbol")
            if isinstance(conid, int) and not isinstance(conid, bool) and conid > 0:
                items.append(WatchItem(conid, symbol if isinstance(symbol, str) else str(conid)))
        return items

    def save(self, items: Sequence[WatchItem]) -> None:
        value: list[JsonValue] = [{"conid": i.conid, "symbol": i.symbol} for i in items]
        self.state.set(self.key, value)
