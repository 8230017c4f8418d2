"""The app's side of the chart, the symbol search and the watchlist: opening them, finding the
instrument a screen has selected, and the command palette's live symbol search.

The app keeps a :class:`~ibtui.tui.market.MarketData` in ``app.market`` and the
:class:`~ibtui.tui.market.Watchlist` in ``app.watchlist`` (the palette provider reads both from
there), passes ``watchlist.polled`` to the poller as ``watched``, and handles
:class:`~ibtui.tui.market.TicketRequested`.

The screens (and the chart's plotting library) are imported when one is first opened: the app
imports this module at start, and none of them is on the first screen.
"""

from __future__ import annotations

import asyncio
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.command import Hits, Provider
from textual.screen import Screen

from ibtui.tui.commands import plain_hit
from ibtui.tui.market import MarketData, MarketDataError, Watchlist
from ibtui.tui.viewmodels import QuoteView

if TYPE_CHECKING:
    from ibtui.tui.market_views import SearchResultView
    from ibtui.tui.screens.chart import ChartScreen
    from ibtui.tui.screens.search import SearchScreen
    from ibtui.tui.screens.watchlist import WatchlistScreen

__all__ = [
    "PALETTE_DEBOUNCE_SECONDS",
    "SymbolSearchProvider",
    "chart_target",
    "latest_quote",
    "open_chart",
    "open_chart_for",
    "open_search",
    "open_watchlist",
]

PALETTE_DEBOUNCE_SECONDS = 0.3
PALETTE_MAX_HITS = 8

Target = tuple[int, str, str]  # conid, symbol, description


def imported(module: str) -> bool:
    """Whether ``module`` has been imported: nothing can be an instance of a class that has not
    been, so an ``isinstance`` check against one of its classes can skip importing it."""
    return module in sys.modules


def latest_quote(app: App[Any], conid: int) -> QuoteView | None:
    """The newest quote any screen on the stack holds for ``conid`` (see the chart's)."""
    from ibtui.tui.screens.chart import latest_quote as latest

    return latest(app, conid)


def open_chart(
    app: App[Any],
    market: MarketData,
    conid: int,
    symbol: str,
    *,
    description: str = "",
    watchlist: Watchlist | None = None,
) -> ChartScreen:
    """Push a chart of ``conid`` (seeded with the newest quote on hand) and return it."""
    from ibtui.tui.screens.chart import open_chart as push_chart

    return push_chart(app, market, conid, symbol, description=description, watchlist=watchlist)


def chart_target(screen: Screen[Any]) -> Target | None:
    """The instrument ``screen`` has selected: the chart's own, the selected search result or
    watchlist row, or the position under the cursor (a screen whose ``table`` has
    ``selected_view()``, like the positions screen)."""
    if imported("ibtui.tui.screens.chart"):
        from ibtui.tui.screens.chart import ChartScreen

        if isinstance(screen, ChartScreen):
            return screen.conid, screen.symbol, screen.description
    if imported("ibtui.tui.screens.search"):
        from ibtui.tui.screens.search import SearchScreen

        if isinstance(screen, SearchScreen):
            result = screen.selected()
            return None if result is None else (result.conid, result.symbol, result.description)
    if imported("ibtui.tui.screens.watchlist"):
        from ibtui.tui.screens.watchlist import WatchlistScreen

        if isinstance(screen, WatchlistScreen):
            item = screen.table.selected_item()
            return None if item is None else (item.conid, item.symbol, "")
    table = getattr(screen, "table", None)
    selected_view = getattr(table, "selected_view", None)
    if callable(selected_view):
        view = selected_view()
        conid = getattr(view, "conid", None)
        if isinstance(conid, int):
            return conid, str(getattr(view, "symbol", conid)), str(getattr(view, "description", ""))
    return None


def open_chart_for(
    app: App[Any],
    market: MarketData,
    watchlist: Watchlist | None = None,
    *,
    screen: Screen[Any] | None = None,
) -> ChartScreen | None:
    """A chart of what ``screen`` (default: the current one) has selected; a notification when
    nothing is."""
    target = chart_target(screen if screen is not None else app.screen)
    if target is None:
        app.notify("Select an instrument first.", severity="warning", timeout=3, markup=False)
        return None
    conid, symbol, description = target
    return open_chart(app, market, conid, symbol, description=description, watchlist=watchlist)


def open_search(
    app: App[Any], market: MarketData, watchlist: Watchlist | None = None, text: str = ""
) -> SearchScreen:
    from ibtui.tui.screens.search import SearchScreen

    screen = SearchScreen(market, watchlist=watchlist, text=text)
    app.push_screen(screen)
    return screen


def open_watchlist(
    app: App[Any], watchlist: Watchlist, market: MarketData | None = None
) -> WatchlistScreen:
    """The watchlist, starting from the newest quotes on hand (the positions screen's)."""
    from ibtui.tui.screens.watchlist import WatchlistScreen

    quotes = {}
    for conid in watchlist.conids():
        quote = latest_quote(app, conid)
        if quote is not None:
            quotes[conid] = quote
    screen = WatchlistScreen(watchlist, market, quotes=quotes)
    app.push_screen(screen)
    return screen


class SymbolSearchProvider(Provider):
    """The command palette's symbol search: after a short pause in typing, IBKR's matches for
    the text, each offering its chart (and the full search screen for the text)."""

    async def search(self, query: str) -> Hits:
        market: MarketData | None = getattr(self.app, "market", None)
        watchlist: Watchlist | None = getattr(self.app, "watchlist", None)
        text = query.strip()
        if market is None or not text:
            return
        await asyncio.sleep(PALETTE_DEBOUNCE_SECONDS)  # cancelled when the query changes
        try:
            results = list(await market.search(text))
        except MarketDataError:
            return
        matcher = self.matcher(query)
        for result in results[:PALETTE_MAX_HITS]:
            name = _hit_name(result)
            yield plain_hit(
                max(matcher.match(name), 0.5),
                matcher,
                name,
                partial(
                    open_chart,
                    self.app,
                    market,
                    result.conid,
                    result.symbol,
                    description=result.description,
                    watchlist=watchlist,
                ),
                f"{result.kinds_text} · conid {result.conid}",
            )
        if results:
            name = f"Search symbols: {text}"
            yield plain_hit(
                0.1,
                matcher,
                name,
                partial(open_search, self.app, market, watchlist, text),
                "all matches, with watchlist and order keys",
            )


def _hit_name(result: SearchResultView) -> str:
    where = f" ({result.exchange})" if result.exchange else ""
    return f"Chart {result.symbol} · {result.description}{where}"
