"""What the screens show, as small frozen dataclasses: the only data types widgets accept.

The poller (or any adapter) turns the client's models into these; widgets never see JSON or the
client's own classes. Money is ``Decimal``; times are epoch seconds (``float``) read from the
app's injectable clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from enum import StrEnum
from typing import Any

from ibtui.slots import replacer as _replacer

__all__ = [
    "AccountView",
    "PositionView",
    "QuotePlan",
    "QuoteView",
    "SessionState",
    "StatusView",
    "Tally",
    "Totals",
    "merge_position",
    "with_net_liquidation",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account as the picker and the status bar show it."""

    account_id: str
    alias: str | None = None
    account_type: str | None = None  # IBKR's type, e.g. "DEMO", "INDIVIDUAL"
    base_currency: str | None = None
    paper: bool = True
    title: str | None = None  # the holder's name

    @property
    def mode(self) -> str:
        """``PAPER`` or ``LIVE``."""
        return "PAPER" if self.paper else "LIVE"

    @property
    def label(self) -> str:
        """``alias (id)`` or the id."""
        return f"{self.alias} ({self.account_id})" if self.alias else self.account_id


@dataclass(frozen=True, slots=True)
class QuoteView:
    """A market-data snapshot for one conid; ``updated_at`` is when ibtui received it."""

    conid: int
    last: Decimal | None
    change: Decimal | None = None  # vs prior close, per unit
    change_pct: Decimal | None = None
    updated_at: float | None = None
    is_close: bool = False  # ``last`` is the prior close (market closed / no trade today)
    halted: bool = False
    bid: Decimal | None = None
    ask: Decimal | None = None
    volume: Decimal | None = None
    traded_at: float | None = None  # IBKR's time of the quote (``_updated``), epoch seconds
    # IBKR's P&L of the day of the account's position in this conid (field 7920), if any
    daily_pnl: Decimal | None = None

    def received(self, at: float) -> QuoteView:
        """This quote stamped with when ibtui received it."""
        return _stamped(self, at)


@dataclass(frozen=True, slots=True)
class PositionView:
    """One position row. ``avg_cost`` is per unit *price* (IBKR's ``avgPrice``).

    ``fx_rate`` converts the position's currency into the account's base currency (None when
    unknown: such rows are left out of the totals, which then say so). ``price_at`` is when
    ``last`` came from a live quote; None means the price is the positions endpoint's (cached).
    """

    account_id: str
    conid: int
    symbol: str
    quantity: Decimal
    currency: str
    description: str = ""
    asset_class: str = ""
    last: Decimal | None = None
    change: Decimal | None = None
    change_pct: Decimal | None = None
    market_value: Decimal | None = None
    avg_cost: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    daily_pnl: Decimal | None = None
    # the day's P&L was computed here (quantity x change since the prior close), not IBKR's own
    # for the position (its market data's field 7920): the grid marks it
    daily_estimated: bool = False
    realized_pnl: Decimal | None = None
    multiplier: Decimal = _ONE
    fx_rate: Decimal | None = _ONE
    price_at: float | None = None
    price_decimals: int | None = None
    is_close: bool = False  # ``last`` is the prior close
    halted: bool = False
    # The account's net liquidation (base currency) the row's share is of; None: not known yet
    net_liquidation: Decimal | None = None

    @property
    def key(self) -> str:
        """The row key: ``account:conid``."""
        return f"{self.account_id}:{self.conid}"

    @property
    def closed(self) -> bool:
        """A position closed today: IBKR keeps it, with no quantity, for the day's P&L."""
        return not self.quantity

    @property
    def cost_basis(self) -> Decimal | None:
        if self.avg_cost is None:
            return None
        return self.quantity * self.avg_cost * self.multiplier

    @property
    def unrealized_pct(self) -> Decimal | None:
        """Unrealized P&L in percent of the cost basis (positive when winning, long or short)."""
        basis = self.cost_basis
        if self.unrealized_pnl is None or basis is None or basis.is_zero():
            return None
        return self.unrealized_pnl / abs(basis) * _HUNDRED

    @property
    def nlv_pct(self) -> Decimal | None:
        """The position's market value in percent of the account's net liquidation (negative
        for a short), in the base currency."""
        net = self.net_liquidation
        if not net or self.market_value is None or self.fx_rate is None:
            return None
        return self.market_value * self.fx_rate / net * _HUNDRED

    def with_quote(self, quote: QuoteView) -> PositionView:
        """This position repriced by a quote; values the quote does not carry are kept. A quote
        that moves nothing (most of them, between two polls of a quiet market) only stamps the
        position's price: its values, the very same objects, are kept."""
        last = quote.last
        if last is None:
            return self
        view = self
        daily = quote.daily_pnl  # IBKR's day for the position (its trades of today included)
        if daily is not None and (daily != view.daily_pnl or view.daily_estimated):
            view = _daily_set(view, daily, False)
        change = view.change if quote.change is None else quote.change
        change_pct = view.change_pct if quote.change_pct is None else quote.change_pct
        if (
            last == view.last
            and change == view.change
            and change_pct == view.change_pct
            and quote.is_close == view.is_close
            and quote.halted == view.halted
        ):
            return _price_stamped(view, quote.updated_at)
        return _repriced(
            view, last, change, change_pct, quote.updated_at, quote.is_close, quote.halted, daily
        )


_stamped = _replacer(QuoteView, "updated_at")
_price_stamped = _replacer(PositionView, "price_at")
_daily_set = _replacer(PositionView, "daily_pnl", "daily_estimated")
_net_set = _replacer(PositionView, "net_liquidation")


def with_net_liquidation(view: PositionView, net: Decimal | None) -> PositionView:
    """``view`` as a share of the account's net liquidation ``net`` (itself if already)."""
    return view if view.net_liquidation == net else _net_set(view, net)


_with_prices = _replacer(
    PositionView,
    "last",
    "change",
    "change_pct",
    "market_value",
    "unrealized_pnl",
    "daily_pnl",
    "daily_estimated",
    "price_at",
    "is_close",
    "halted",
)


def _repriced(
    view: PositionView,
    last: Decimal,
    change: Decimal | None,
    change_pct: Decimal | None,
    price_at: float | None,
    is_close: bool,
    halted: bool,
    daily: Decimal | None = None,
    estimated: bool = False,
) -> PositionView:
    """``view`` at a new price; its day's P&L is ``daily`` when given (IBKR's, unless
    ``estimated``), else computed from the change since the prior close and marked estimated (a
    row closed today keeps the one it had)."""
    quantity, multiplier = view.quantity, view.multiplier
    if daily is None:
        daily = quantity * change * multiplier if change is not None and quantity else None
        estimated = daily is not None
    if daily is None:
        daily, estimated = view.daily_pnl, view.daily_estimated
    market_value = quantity * last * multiplier
    basis = None if view.avg_cost is None else quantity * view.avg_cost * multiplier
    return _with_prices(
        view,
        last,
        change,
        change_pct,
        market_value,
        market_value - basis if basis is not None else view.unrealized_pnl,
        daily,
        estimated,
        price_at,
        is_close,
        halted,
    )


def merge_position(old: PositionView | None, new: PositionView) -> PositionView:
    """A fresh row from the positions endpoint, keeping a newer live price the row already had
    and the day's P&L its quotes gave it while the quantity is the same (the positions endpoint
    has none; for a position closed today, until one comes, a row that has just closed keeps
    the day's P&L it had)."""
    if old is not None and new.closed and new.daily_pnl is None and old.daily_pnl is not None:
        new = _daily_set(new, old.daily_pnl, old.daily_estimated)
    if old is None or old.price_at is None or old.last is None or new.price_at is not None:
        return new
    daily = old.daily_pnl if old.quantity == new.quantity else None
    return _repriced(
        new,
        old.last,
        old.change,
        old.change_pct,
        old.price_at,
        old.is_close,
        old.halted,
        daily,
        old.daily_estimated,
    )


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums in the account's base currency over the rows shown; ``count`` is of the positions
    held (rows closed today add their day's P&L, not to the count)."""

    currency: str
    count: int
    market_value: Decimal
    unrealized_pnl: Decimal
    daily_pnl: Decimal
    realized_pnl: Decimal
    unconverted: int = 0  # rows left out because their exchange rate is unknown
    converted: tuple[str, ...] = ()  # the other currencies of rows counted, converted (sorted)


# Exact arithmetic for running totals: with this precision no sum or product is ever rounded,
# so totals kept up to date by differences equal totals summed afresh.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)

# A row's share of the totals in the base currency: (market value, unrealized, daily and
# realized P&L); None when its exchange rate is unknown.
Share = tuple[Decimal, Decimal, Decimal, Decimal] | None
_ABSENT: Any = object()  # a row not counted yet


def _share(view: PositionView) -> Share:
    rate = view.fx_rate
    if rate is None:
        return None
    values = (
        view.market_value or _ZERO,
        view.unrealized_pnl or _ZERO,
        view.daily_pnl or _ZERO,
        view.realized_pnl or _ZERO,
    )
    if rate == _ONE:
        return values
    multiply = _EXACT.multiply
    return (
        multiply(values[0], rate),
        multiply(values[1], rate),
        multiply(values[2], rate),
        multiply(values[3], rate),
    )


class Tally:
    """Totals of market value and P&L over a set of rows, each row converted with its
    ``fx_rate``, kept up to date as rows change: a changed row costs its difference, not a sum
    over every row (exact arithmetic, so nothing drifts)."""

    __slots__ = ("_closed", "_foreign", "_shares", "_sums", "_unconverted", "currency")

    def __init__(self, currency: str, views: Mapping[str, PositionView] | None = None) -> None:
        self.currency = currency
        self._shares: dict[str, Share] = {}
        self._closed: set[str] = set()  # rows closed today: in the sums, not in the count
        self._foreign: dict[str, str] = {}  # rows counted in another currency, converted: theirs
        self._sums = [_ZERO, _ZERO, _ZERO, _ZERO]
        self._unconverted = 0
        for key, view in (views or {}).items():
            self.put(key, view)

    def put(self, key: str, view: PositionView) -> None:
        """Count ``view`` as row ``key`` (in place of what the row was)."""
        if view.closed:
            self._closed.add(key)
        else:
            self._closed.discard(key)
        if view.currency and view.currency != self.currency and view.fx_rate is not None:
            self._foreign[key] = view.currency
        else:
            self._foreign.pop(key, None)
        if key in self._shares:
            self.reprice(key, view)
        else:
            share = self._shares[key] = _share(view)
            self._count(share, 1)

    def reprice(self, key: str, view: PositionView) -> None:
        """Count ``view`` in place of row ``key`` if the row is counted (a quote moved it)."""
        shares = self._shares
        old = shares.get(key, _ABSENT)
        if old is _ABSENT:
            return
        share = shares[key] = _share(view)
        if old is not None and share is not None:  # a row repriced: one step a column
            sums, add, subtract = self._sums, _EXACT.add, _EXACT.subtract
            sums[0] = add(subtract(sums[0], old[0]), share[0])
            sums[1] = add(subtract(sums[1], old[1]), share[1])
            sums[2] = add(subtract(sums[2], old[2]), share[2])
            if old[3] is not share[3]:  # realized P&L, which a quote leaves as it was
                sums[3] = add(subtract(sums[3], old[3]), share[3])
        else:
            self._count(old, -1)
            self._count(share, 1)

    def discard(self, key: str) -> None:
        """Leave row ``key`` out (if it was counted)."""
        old = self._shares.pop(key, _ABSENT)
        self._closed.discard(key)
        self._foreign.pop(key, None)
        if old is not _ABSENT:
            self._count(old, -1)

    def _count(self, share: Share, sign: int) -> None:
        """Add a share to the sums (``sign`` 1) or take it out (-1)."""
        if share is None:
            self._unconverted += sign
            return
        step = _EXACT.add if sign > 0 else _EXACT.subtract
        sums = self._sums
        sums[0] = step(sums[0], share[0])
        sums[1] = step(sums[1], share[1])
        sums[2] = step(sums[2], share[2])
        sums[3] = step(sums[3], share[3])

    def totals(self) -> Totals:
        mv, upl, dpl, rpl = self._sums
        count = len(self._shares) - len(self._closed)
        converted = tuple(sorted(set(self._foreign.values())))
        return Totals(self.currency, count, mv, upl, dpl, rpl, self._unconverted, converted)


class SessionState(StrEnum):
    """The brokerage session as the status bar names it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    NO_BRIDGE = "no bridge"
    COMPETING = "competing"
    RECONNECTING = "reconnecting"
    EXPIRED = "expired"
    DISCONNECTED = "disconnected"
    UNREACHABLE = "unreachable"  # the server did not answer the keep-alive: state unknown

    @property
    def healthy(self) -> bool:
        return self is SessionState.CONNECTED


@dataclass(frozen=True, slots=True)
class QuotePlan:
    """How fresh the poller keeps the quotes within IBKR's pacing, as the status bar states it.

    ``every`` seconds for the ``in_view`` rows on screen and the ``watched`` conids (watchlist,
    chart, ticket); every one of the ``total`` conids at least once in ``all_every`` seconds;
    ``streamed`` of them pushed by a live stream (as they change).
    """

    every: float
    in_view: int
    watched: int
    total: int
    all_every: float
    streamed: int = 0

    @property
    def rotating(self) -> bool:
        """True when not every conid is asked every round (the status bar says so)."""
        return self.all_every > self.every

    def describe(self) -> str:
        """``every 2 s for 40 rows in view, all 5,000 every 14 s``; with a stream, ``100
        streamed, every 2 s for 3 watched, all 1,000 every 12 s``."""
        parts = [f"{self.streamed:,} streamed"] if self.streamed else []
        asked = [f"{self.in_view:,} rows in view"] if self.in_view or not self.streamed else []
        if self.watched:
            asked.append(f"{self.watched:,} watched")
        if asked:
            parts.append(f"every {_seconds(self.every)} for {' and '.join(asked)}")
        parts.append(f"all {self.total:,} every {_seconds(self.all_every)}")
        return ", ".join(parts)

    def shorter(self) -> tuple[str, ...]:
        """Shorter forms of :meth:`describe`, for a line it does not fit, each ending with the
        bound of the whole book: ``in view every 2 s, all 5,000 every 14 s``, ``all 5,000
        every 14 s``, then ``all in 14 s``."""
        bound = f"all {self.total:,} every {_seconds(self.all_every)}"
        shortest = f"all in {_seconds(self.all_every)}"
        if self.in_view or not self.streamed:
            asked = "in view"
        elif self.watched:
            asked = "watched"
        else:  # everything looked at streams: only the rest is polled
            return bound, shortest
        return f"{asked} every {_seconds(self.every)}, {bound}", bound, shortest


STALE_PACES = 3
"""A price older than this many times the pace stated for it is stale (greyed)."""


def stale_ages(plan: QuotePlan | None, poll_interval: float) -> tuple[float, float]:
    """Seconds after which a price is stale: for the rows in view (and the status bar's newest
    quote), three times their stated pace, never under three poll intervals; for the rest of the
    book, its stated bound (never sooner than the rows in view). Without a plan every quote is
    asked every round: three poll intervals for all."""
    in_view = STALE_PACES * (poll_interval if plan is None else max(plan.every, poll_interval))
    return in_view, in_view if plan is None else max(plan.all_every, in_view)


def _seconds(value: float) -> str:
    """A bound in seconds, rounded up: ``2 s``, ``2.3 s``, ``14 s``."""
    return f"{math.ceil(value * 10) / 10:g} s" if value < 10 else f"{math.ceil(value)} s"


@dataclass(frozen=True, slots=True)
class StatusView:
    """Everything the status bar shows; ages are computed from the clock when drawn."""

    account: AccountView | None = None
    session: SessionState = SessionState.CONNECTING
    lst_expires_at: float | None = None
    newest_quote_at: float | None = None
    poll_interval: float = 2.0
    error: str | None = None
    retry_at: float | None = None  # when the failed work is tried again (a live countdown)
    quote_plan: QuotePlan | None = None  # stated while not every quote is asked every round
    stream: str | None = None  # "connecting", "live" or "down"; None: prices are only polled
    streaming: bool = False  # the live stream covers some of the quotes (subscribed, answered)

    @property
    def stale_after(self) -> float:
        """Quotes older than three poll intervals are stale, or three times the pace stated
        for the rows in view when IBKR's pace makes the rounds longer (:func:`stale_ages`)."""
        return stale_ages(self.quote_plan, self.poll_interval)[0]

    @property
    def feed(self) -> str | None:
        """Which feed brings prices now: ``"stream"`` while the stream is live and covers some
        of them (however quiet: a closed market pushes nothing, its prices are still current),
        else ``"poll"`` (None without a stream)."""
        if self.stream is None:
            return None
        return "stream" if self.stream == "live" and self.streaming else "poll"
