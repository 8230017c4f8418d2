"""Shared pieces for the console tests: a settable clock, view-models built here, a host app."""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from textual.app import App, ComposeResult
from textual.notifications import SeverityLevel
from textual.widget import Widget

from ibtui.tui import textual_compat
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, SessionState

T0 = 1_700_000_000.0  # fixed "now" of every test


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


class TimerCall:
    """A callback a :class:`Timer` holds until its time."""

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Timer(Clock):
    """An event loop's clock and timer (``time``, ``call_at``: ``ibtui.tui.streaming.Timer``)
    the test moves by hand: :meth:`advance` runs what falls due, in order, each at its time."""

    def __init__(self, now: float = 0.0) -> None:
        super().__init__(now)
        self._due: list[tuple[float, int, TimerCall]] = []
        self._made = 0

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerCall:
        call = TimerCall(callback)
        self._made += 1
        heapq.heappush(self._due, (when, self._made, call))
        return call

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self._due and self._due[0][0] <= end:
            when, _, call = heapq.heappop(self._due)
            self.now = max(self.now, when)
            if not call.cancelled:
                call.callback()
        self.now = end


@pytest.fixture
def textual_patches() -> Iterator[list[str]]:
    """Textual's patches (``ibtui.tui.textual_compat``) applied for the test, as ``run_app``
    applies them, and undone after it: the names of those in place."""
    with textual_compat.patched() as applied:
        yield applied


PAPER = AccountView(
    "DU4820311",
    alias="Swing paper",
    account_type="DEMO",
    base_currency="USD",
    paper=True,
    title="Jane Q Trader",
)
LIVE = AccountView(
    "U1234567",
    alias=None,
    account_type="INDIVIDUAL",
    base_currency="EUR",
    paper=False,
    title="Jane Q Trader",
)


def D(text: str) -> Decimal:
    return Decimal(text)


def position(
    conid: int,
    symbol: str,
    quantity: str,
    last: str,
    avg: str,
    *,
    description: str = "",
    asset_class: str = "STK",
    currency: str = "USD",
    multiplier: str = "1",
    fx: str | None = "1",
    change: str | None = None,
    change_pct: str | None = None,
    realized: str = "0",
    price_at: float | None = T0,
    account: str = PAPER.account_id,
) -> PositionView:
    """A position priced at ``last`` with consistent market value and P&L."""
    base = PositionView(
        account_id=account,
        conid=conid,
        symbol=symbol,
        quantity=D(quantity),
        currency=currency,
        description=description,
        asset_class=asset_class,
        avg_cost=D(avg),
        realized_pnl=D(realized),
        multiplier=D(multiplier),
        fx_rate=D(fx) if fx is not None else None,
    )
    quote = QuoteView(
        conid,
        D(last),
        change=D(change) if change is not None else None,
        change_pct=D(change_pct) if change_pct is not None else None,
        updated_at=price_at,
    )
    return base.with_quote(quote)


def sample_positions() -> list[PositionView]:
    return [
        position(
            265598,
            "AAPL",
            "100",
            "222.91",
            "180.50",
            description="APPLE INC",
            change="-0.54",
            change_pct="-0.24",
            realized="120.00",
        ),
        position(
            272093,
            "MSFT",
            "-20",
            "415.10",
            "420.00",
            description="MICROSOFT CORP",
            change="2.10",
            change_pct="0.51",
        ),
        position(
            756733,
            "SPY",
            "300",
            "580.25",
            "500.00",
            description="SPDR S&P 500 ETF",
            change="1.25",
            change_pct="0.22",
        ),
        position(
            12087792,
            "EUR.USD",
            "10000",
            "1.0834",
            "1.0712",
            description="EUR.USD",
            asset_class="CASH",
            change="0.0011",
            change_pct="0.10",
        ),
        position(
            495512552,
            "SAP",
            "15",
            "191.40",
            "170.00",
            description="SAP SE",
            currency="EUR",
            fx="1.0834",
            change="-1.10",
            change_pct="-0.57",
        ),
        position(
            637533450,
            "SPY C580",
            "2",
            "12.40",
            "9.80",
            description="SPY Jan17'25 580 Call",
            asset_class="OPT",
            multiplier="100",
            change="0.35",
            change_pct="2.90",
        ),
    ]


class Notice(NamedTuple):
    """A notification as the app was asked to show it."""

    message: str
    title: str
    severity: str


_TOLD: weakref.WeakKeyDictionary[App[Any], list[Notice]] = weakref.WeakKeyDictionary()


def told(app: App[Any]) -> list[Notice]:
    """Every notification ``app`` shows from now on (message, title, severity), in order; each is
    shown as well. It records through the public ``App.notify``, which ``Widget.notify`` and
    ``Screen.notify`` call too, so it sees only what is said after it: call it before the app
    runs (it refuses a running app it was not called for). Called again for the same app, it
    returns the same list."""
    if app in _TOLD:
        return _TOLD[app]
    assert not app.is_running, "told(app) comes before the app runs: notices said so far are lost"
    notices: list[Notice] = []
    tell = app.notify

    def notify(
        message: str, *, title: str = "", severity: SeverityLevel = "information", **kwargs: Any
    ) -> None:
        notices.append(Notice(message, title, severity))
        tell(message, title=title, severity=severity, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    _TOLD[app] = notices
    return notices


class Host(App[None]):
    """Mounts one widget, for widget-level Pilot tests."""

    def __init__(self, factory: Callable[[], Widget]) -> None:
        super().__init__()
        self.factory = factory

    def compose(self) -> ComposeResult:
        yield self.factory()


class Rejected(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ViewBroker:
    """A Broker over view-models built in the test. The first snapshot of a conid is a warm-up
    (no values); later ones quote ``100 + conid % 7 + offset``, or the position's own price
    (and change) when ``echo_prices`` is set."""

    def __init__(
        self,
        positions: list[PositionView],
        clock: Clock,
        accounts: Sequence[AccountView] = (PAPER,),
        *,
        echo_prices: bool = False,
    ) -> None:
        self.echo_prices = echo_prices
        self._positions = positions
        self._accounts = list(accounts)
        self.clock = clock
        self.quote_calls: list[list[int]] = []
        self.selected: list[str] = []
        self.seen: set[int] = set()
        self.failures: list[Exception] = []
        self.state = SessionState.CONNECTED
        self.take_backs = 0
        self.offset = Decimal(0)
        self.lst: float | None = T0 + 3600

    async def accounts(self) -> Sequence[AccountView]:
        return self._accounts

    async def select_account(self, account_id: str) -> None:
        self.selected.append(account_id)

    async def positions(self, account_id: str) -> Sequence[PositionView]:
        if self.failures:
            raise self.failures.pop(0)
        return [p for p in self._positions if p.account_id == account_id]

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        assert len(conids) <= 100
        self.quote_calls.append(list(conids))
        warm = [c for c in conids if c in self.seen]
        self.seen.update(conids)
        if self.echo_prices:
            by_conid = {p.conid: p for p in self._positions}
            return [
                QuoteView(c, by_conid[c].last, by_conid[c].change, by_conid[c].change_pct)
                for c in warm
            ]
        return [QuoteView(c, Decimal(100 + c % 7) + self.offset) for c in warm]

    async def keep_alive(self, *, take_back: bool = False) -> SessionState:
        self.take_backs += take_back
        if take_back and self.state is SessionState.COMPETING:
            self.state = SessionState.CONNECTED
        return self.state

    def lst_expires_at(self) -> float | None:
        return self.lst
