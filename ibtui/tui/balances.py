"""The account's balances and margin: the view-model, where they come from, the worker that
refreshes them and its messages.

A :class:`Broker` that can read balances also implements :class:`BalancesSource` (the adapter
reads IBKR's summary, ledger and partitioned P&L). :class:`BalancesWatch` asks it every
``interval`` seconds (IBKR's summary and ledger are slow endpoints and the partitioned P&L is paced
at one request in 5 s: the client's pacer keeps the calls within those limits), and sooner after a
fill (:meth:`BalancesWatch.refresh_soon`). What changed since the refresh before is told by
:func:`changed_figures`, for the screens to mark.

With streaming on, IBKR's ``spl`` pushes the account's P&L row about once a second
(:class:`PnlPush`: the day's and unrealized P&L, net and excess liquidity, market value);
:meth:`BalancesWatch.pushed` lays it over the last refresh and posts it as a
:class:`BalancesUpdated` with ``pushed`` set. Its marks compare to the last full refresh (a
figure marked only when it moved at the precision shown since then), so a push every second does
not flash noise; the full refreshes stay for the rest (cash, buying power, margins). A push before
the first refresh is shown on its own (the other figures missing until the refresh). Pushes and
refreshes are ordered by time: a refresh asked before a push arrived answers with older figures,
so the pushed ones (each as of its newest push) stay over its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol, runtime_checkable

from textual.message import Message

from ibtui.text import clean_text

__all__ = [
    "FIGURES",
    "BalancesFailed",
    "BalancesSource",
    "BalancesUpdated",
    "BalancesView",
    "BalancesWatch",
    "CashBalance",
    "PnlPush",
    "changed_figures",
]

DEFAULT_INTERVAL = 20.0  # seconds between two refreshes (IBKR's summary and ledger are slow)
MIN_GAP = 5.0  # IBKR: /iserver/account/pnl/partitioned, 1 request per 5 s
_CENT = Decimal("0.01")
_BASIS_POINT = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class CashBalance:
    """Cash in one currency; ``base_value`` is its value in the account's base currency."""

    currency: str
    cash: Decimal
    base_value: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BalancesView:
    """The account's figures in its base currency ``currency``; None: IBKR did not give it.

    ``daily_pnl`` is IBKR's P&L of the day for the account (the partitioned P&L, today's trades
    included); ``received_at`` is when ibtui read them (epoch seconds).
    """

    account_id: str
    currency: str
    net_liquidation: Decimal | None = None
    total_cash: Decimal | None = None
    cash: tuple[CashBalance, ...] = ()
    buying_power: Decimal | None = None
    available_funds: Decimal | None = None
    excess_liquidity: Decimal | None = None
    init_margin: Decimal | None = None
    maint_margin: Decimal | None = None
    sma: Decimal | None = None
    gross_position_value: Decimal | None = None
    market_value: Decimal | None = None
    daily_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    received_at: float | None = field(default=None, compare=False)

    @property
    def cushion(self) -> Decimal | None:
        """Excess liquidity as a fraction of net liquidation (IBKR's margin cushion)."""
        if self.excess_liquidity is None or not self.net_liquidation:
            return None
        return self.excess_liquidity / self.net_liquidation

    def figure(self, key: str) -> Decimal | None:
        value = self.cushion if key == "cushion" else getattr(self, key)
        return value if isinstance(value, Decimal) else None


@dataclass(frozen=True, slots=True)
class PnlPush:
    """One account's P&L row pushed over the stream (IBKR's ``spl``); None: not in the push."""

    account_id: str
    daily_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    net_liquidation: Decimal | None = None
    excess_liquidity: Decimal | None = None
    market_value: Decimal | None = None

    def over(self, view: BalancesView, at: float) -> BalancesView:
        """``view`` with the figures this push gives, read at ``at``."""
        given = {
            name: value
            for name in PUSHED
            if (value := getattr(self, name)) is not None and value != getattr(view, name)
        }
        return replace(view, received_at=at, **given)


# The figures a P&L push gives (the margin cushion follows from two of them).
PUSHED = (
    "daily_pnl",
    "unrealized_pnl",
    "net_liquidation",
    "excess_liquidity",
    "market_value",
)


# The figures the account screen lists, in order: (field, label, signed).
FIGURES: tuple[tuple[str, str, bool], ...] = (
    ("net_liquidation", "Net liquidation", False),
    ("total_cash", "Total cash", False),
    ("gross_position_value", "Gross position value", False),
    ("buying_power", "Buying power", False),
    ("available_funds", "Available funds", False),
    ("excess_liquidity", "Excess liquidity", False),
    ("cushion", "Margin cushion", False),
    ("init_margin", "Initial margin", False),
    ("maint_margin", "Maintenance margin", False),
    ("sma", "SMA", False),
    ("daily_pnl", "Day's P&L", True),
    ("unrealized_pnl", "Unrealized P&L", True),
    ("realized_pnl", "Realized P&L", True),
)


_PUSHED_MARKS = frozenset((*PUSHED, "cushion"))


def _shown(key: str, value: Decimal | None) -> Decimal | None:
    """``value`` as far as it is shown: cents, or the cushion's hundredths of a percent."""
    if value is None:
        return None
    return value.quantize(_BASIS_POINT if key == "cushion" else _CENT, rounding=ROUND_HALF_EVEN)


def changed_figures(old: BalancesView | None, new: BalancesView) -> dict[str, int]:
    """The figures whose shown value moved since ``old``: +1 up, -1 down (cash by
    ``cash:<currency>``)."""
    if old is None or old.account_id != new.account_id:
        return {}
    moved: dict[str, int] = {}
    for key, _, _ in FIGURES:
        before, after = _shown(key, old.figure(key)), _shown(key, new.figure(key))
        if before is not None and after is not None and before != after:
            moved[key] = 1 if after > before else -1
    cash_before = {c.currency: c.cash for c in old.cash}
    for balance in new.cash:
        before = cash_before.get(balance.currency)
        if before is not None and before != balance.cash:
            moved[f"cash:{balance.currency}"] = 1 if balance.cash > before else -1
    return moved


@runtime_checkable
class BalancesSource(Protocol):
    """A broker that reads an account's balances (summary, ledger and P&L together)."""

    async def balances(self, account_id: str) -> BalancesView: ...


@dataclass
class BalancesUpdated(Message):
    """A refresh of the account's balances; ``changed``: the figures that moved (see
    :func:`changed_figures`). ``pushed``: the stream's P&L laid over the last refresh (its
    marks compare to that refresh)."""

    balances: BalancesView
    changed: dict[str, int] = field(default_factory=dict)
    pushed: bool = False


@dataclass
class BalancesFailed(Message):
    """A refresh failed (one line, shown where the balances are); the last figures stay."""

    account_id: str
    error: str


class BalancesWatch:
    """Refreshes one account's balances until cancelled, posting :class:`BalancesUpdated`."""

    def __init__(
        self,
        source: BalancesSource,
        account_id: str,
        post: Callable[[Message], object],
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_backoff: float = 120.0,
        currency: str = "",
    ) -> None:
        self.source = source
        self.account_id = account_id
        self.currency = currency  # the account's base currency (for a push before any refresh)
        self.post = post
        self.interval = max(interval, MIN_GAP)
        self.clock = clock
        self.sleep = sleep
        self.max_backoff = max_backoff
        self.last: BalancesView | None = None  # the last full refresh
        self.shown: BalancesView | None = None  # the last refresh with the pushes since
        self._refresh_changed: dict[str, int] = {}
        self._pushed: dict[str, tuple[Decimal, float]] = {}  # each pushed figure, and when
        self.refreshes = 0
        self._wake = asyncio.Event()
        self._backoff = 0.0

    def refresh_soon(self) -> None:
        """Refresh now rather than at the end of the interval (after a fill); the client's
        pacer still spaces the requests as IBKR asks."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()  # a fill during the refresh asks for the next one early
            await self._wait(await self.refresh())

    async def refresh(self) -> float:
        """One refresh; the seconds until the next."""
        asked = self.clock()
        try:
            view = await self.source.balances(self.account_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown, retried with back-off; the last figures stay
            self._backoff = min(self.max_backoff, (self._backoff * 2) or self.interval)
            text = clean_text(str(exc)) or type(exc).__name__
            self.post(BalancesFailed(self.account_id, text))
            return self._backoff
        self._backoff = 0.0
        if view.received_at is None:
            view = replace(view, received_at=self.clock())
        newer: dict[str, Any] = {n: v for n, (v, at) in self._pushed.items() if at > asked}
        if newer:  # pushed while the refresh was on its way: newer than its answer
            view = replace(view, **newer)
        changed = changed_figures(self.last, view)
        self.last = self.shown = view
        self._refresh_changed = changed
        self.refreshes += 1
        self.post(BalancesUpdated(view, changed))
        if view.daily_pnl is None and self.refreshes <= 2:
            return MIN_GAP  # IBKR's first partitioned P&L of a session is often empty
        return self.interval

    def pushed(self, rows: Sequence[PnlPush]) -> None:
        """The stream's P&L: this account's row over the last refresh, posted at once (before
        the first refresh, on its own). The pushed figures are marked when they moved since the
        last refresh; the others keep that refresh's marks."""
        row = next((r for r in rows if r.account_id == self.account_id), None)
        if row is None:
            return
        now = self.clock()
        for name in PUSHED:
            value = getattr(row, name)
            if value is not None:
                self._pushed[name] = (value, now)
        shown = self.shown or BalancesView(self.account_id, self.currency)
        view = row.over(shown, now)
        moved = changed_figures(self.last, view)
        changed = {k: v for k, v in self._refresh_changed.items() if k not in _PUSHED_MARKS}
        changed.update((k, v) for k, v in moved.items() if k in _PUSHED_MARKS)
        self.shown = view
        self.post(BalancesUpdated(view, changed, pushed=True))

    async def _wait(self, seconds: float) -> None:
        """``seconds``, or until :meth:`refresh_soon` (but at least IBKR's 5 s between two)."""
        await self.sleep(MIN_GAP)
        if self._wake.is_set():
            return
        sleeper = asyncio.ensure_future(self.sleep(max(0.0, seconds - MIN_GAP)))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
