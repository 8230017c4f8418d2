"""What the chart, the symbol search and the watchlist need from the outside world.

A :class:`MarketData` answers price history and symbol searches with the view-models of
:mod:`ibtui.tui.market_views` (re-exported here, imported when first used: the console's first
screens need none of them); an adapter implements it over the IBKR client
(``ibtui.adapters.market``), tests with data they build.
Failures raise :class:`MarketDataError` (``str()`` is shown as is) or, for IBKR's 429,
:class:`RateLimited`, which the chart turns into a countdown and a retry.

The :class:`Watchlist` is the list of instruments the user follows, persisted through a
:class:`WatchlistStore`; the poller asks it which conids to quote (:meth:`Watchlist.polled`) so
watched instruments share the positions' batched snapshots. Screens ask for an order ticket by
posting :class:`TicketRequested`, which bubbles to the app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from textual.message import Message

from ibtui.lazy import lazy_names
from ibtui.tui.viewmodels import QuoteView

if TYPE_CHECKING:
    from ibtui.tui.market_views import (
        DEFAULT_PRESET,
        PRESETS,
        BarView,
        HistoryView,
        Preset,
        SearchResultView,
    )

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "BarView",
    "HistoryView",
    "MarketData",
    "MarketDataError",
    "Preset",
    "RateLimited",
    "SearchResultView",
    "TicketRequested",
    "WatchItem",
    "Watchlist",
    "WatchlistStore",
]


# --- view-models (the watchlist's; the chart's and the search's are in market_views) ------
@dataclass(frozen=True, slots=True)
class WatchItem:
    """One watched instrument, as stored in the state dir (``{"conid": ..., "symbol": ...}``)."""

    conid: int
    symbol: str


# --- errors -----------------------------------------------------------------------------------
class MarketDataError(Exception):
    """A history or search request failed; ``str()`` is fit to show (no secrets)."""


class RateLimited(MarketDataError):
    """IBKR answered 429; ``retry_after`` is its wait in seconds when it said one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- protocols --------------------------------------------------------------------------------
class MarketData(Protocol):
    """Price history and symbol search, already converted to view-models.

    ``history`` may return a view with no bars (IBKR has no data for the window); it raises
    :class:`RateLimited` on a 429 and :class:`MarketDataError` for anything else.
    """

    async def history(self, conid: int, period: str, bar: str) -> HistoryView: ...

    async def search(self, text: str) -> Sequence[SearchResultView]: ...

    async def currency(self, conid: int) -> str | None:
        """The instrument's trading currency (None when IBKR's details do not say); raises
        :class:`MarketDataError` when they cannot be had."""
        ...


class WatchlistStore(Protocol):
    """Where the watchlist is kept between runs. ``load`` never fails (a damaged store is an
    empty list); ``save`` may raise ``OSError`` and is called off the event loop."""

    def load(self) -> list[WatchItem]: ...

    def save(self, items: Sequence[WatchItem]) -> None: ...


# --- the watchlist model ----------------------------------------------------------------------
class Watchlist:
    """The watched instruments in the user's order, plus conids an open chart wants quoted.

    Changes are in memory at once; :meth:`save` writes the current list to the store (blocking:
    run it in a thread worker). Saves are serialised and each writes the newest list, so
    concurrent saves cannot leave an older list on disk.
    """

    def __init__(
        self, items: Iterable[WatchItem] = (), store: WatchlistStore | None = None
    ) -> None:
        self.items: list[WatchItem] = []
        for item in items:
            if item.conid not in self:
                self.items.append(item)
        self.store = store
        self._held: dict[int, int] = {}  # conid -> how many charts want it quoted
        self._save_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    @classmethod
    def load(cls, store: WatchlistStore) -> Watchlist:
        return cls(store.load(), store)

    def __contains__(self, conid: object) -> bool:
        return any(item.conid == conid for item in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def conids(self) -> list[int]:
        return [item.conid for item in self.items]

    def polled(self) -> list[int]:
        """Every conid the poller should quote for the watchlist and open charts."""
        return list(dict.fromkeys([*self.conids(), *self._held]))

    def held(self) -> list[int]:
        """The conids an open chart or ticket holds (:meth:`hold`), newest first."""
        return list(reversed(self._held))

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every change; returns the function that unsubscribes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def add(self, item: WatchItem) -> bool:
        """Append ``item``; False when it is already watched."""
        if item.conid in self:
            return False
        self.items.append(item)
        self._changed()
        return True

    def remove(self, conid: int) -> WatchItem | None:
        for index, item in enumerate(self.items):
            if item.conid == conid:
                del self.items[index]
                self._changed()
                return item
        return None

    def move(self, conid: int, delta: int) -> int | None:
        """Move the item ``delta`` places (negative: up), clamped; its new index, or None."""
        index = next((i for i, item in enumerate(self.items) if item.conid == conid), None)
        if index is None:
            return None
        target = max(0, min(len(self.items) - 1, index + delta))
        if target != index:
            self.items.insert(target, self.items.pop(index))
            self._changed()
        return target

    def hold(self, conid: int) -> None:
        """Have the poller quote ``conid`` (an open chart) until :meth:`release`."""
        self._held[conid] = self._held.get(conid, 0) + 1

    def release(self, conid: int) -> None:
        count = self._held.get(conid, 0) - 1
        if count > 0:
            self._held[conid] = count
        else:
            self._held.pop(conid, None)

    def save(self) -> None:
        """Write the current list to the store (blocking; raises ``OSError``)."""
        if self.store is None:
            return
        with self._save_lock:
            self.store.save(list(self.items))


# --- messages ---------------------------------------------------------------------------------
@dataclass
class TicketRequested(Message):
    """A screen asks the app for an order ticket (``side`` is ``BUY`` or ``SELL``)."""

    conid: int
    symbol: str
    description: str = ""
    side: str = "BUY"
    quote: QuoteView | None = None


# The chart's and the search's view-models, imported on first use (PEP 562): the console's first
# screens build none of them.
_VIEWS = dict.fromkeys(
    ("DEFAULT_PRESET", "PRESETS", "BarView", "HistoryView", "Preset", "SearchResultView"),
    "ibtui.tui.market_views",
)

if not TYPE_CHECKING:
    __getattr__ = lazy_names(__name__, _VIEWS)
