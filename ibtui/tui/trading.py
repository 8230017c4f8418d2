"""What the trading screens show and what they need: view-models and the :class:`Trader` protocol.

The order ticket, the questions dialog and the orders screen never import the IBKR client or the
order service; the console's wiring implements :class:`Trader` over them. The order itself
(side, type, time in force, draft), the checks and the outcomes are the trading core's
(:mod:`ibtui.trading`); the view-models here are what the screens show of IBKR's answers: plain
data, ``Decimal`` prices, epoch-second times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from ibtui.tui.viewmodels import QuoteView

if TYPE_CHECKING:
    from ibtui.trading import Check, OrderDraft, Side, SubmitOutcome

__all__ = [
    "Ask",
    "CancelAllResult",
    "OrderView",
    "PreviewView",
    "QuestionView",
    "TradeView",
    "Trader",
    "VanishedOrders",
]


@dataclass(frozen=True, slots=True)
class PreviewView:
    """IBKR's what-if answer, as display text (IBKR formats these amounts itself)."""

    commission: str | None = None
    amount: str | None = None
    initial_margin_change: str | None = None
    maintenance_margin_change: str | None = None
    equity_after: str | None = None
    warning: str | None = None
    error: str | None = None  # IBKR would reject the order


@dataclass(frozen=True, slots=True)
class QuestionView:
    """One of IBKR's questions before it accepts an order, verbatim (HTML removed)."""

    text: str
    message_id: str | None = None


Ask = Callable[[QuestionView], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class OrderView:
    """A working or recent order as the orders screen shows it."""

    order_id: int
    account_id: str
    conid: int
    symbol: str
    side: Side
    kind: str  # the order type as IBKR describes it ("LMT", "STP", ...)
    quantity: Decimal | None
    filled: Decimal | None
    remaining: Decimal | None
    status: str
    working: bool  # can still fill: cancel and modify apply
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    avg_price: Decimal | None = None
    tif: str | None = None
    updated_at: float | None = None
    coid: str | None = None
    placed_here: bool = False  # sent from this console since it started: its outcome is news


@dataclass(frozen=True, slots=True)
class TradeView:
    """One execution."""

    execution_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    time: float | None = None
    commission: Decimal | None = None
    order_ref: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    requested: tuple[int, ...] = ()
    failed: tuple[str, ...] = field(default=())


class Trader(Protocol):
    """Trading for the screens. ``check`` is pure and fast (it runs as the trader types); the
    rest are network calls the screens make from workers.

    ``submit`` asks each of IBKR's questions through ``ask`` (unless the configured policy
    answers it) and never sends the same draft twice: while a submission is in flight, or after
    one ended in an unknown outcome that is not reconciled yet, it answers BUSY/UNKNOWN without
    sending. ``confirmation`` is what the trader typed to confirm a LIVE account's order;
    ``quote`` the market the ticket showed (the checks are repeated against it before sending).
    Failures raise exceptions whose ``str()`` is fit to show.
    """

    def check(self, draft: OrderDraft, quote: QuoteView | None) -> Check: ...

    async def preview(self, draft: OrderDraft) -> PreviewView: ...

    async def submit(
        self,
        draft: OrderDraft,
        ask: Ask,
        *,
        confirmation: str | None = None,
        quote: QuoteView | None = None,
    ) -> SubmitOutcome: ...

    async def orders(self, account_id: str) -> Sequence[OrderView]: ...

    async def trades(self, account_id: str) -> Sequence[TradeView]: ...

    async def cancel(self, account_id: str, order_id: int) -> str: ...

    async def modify(
        self,
        order: OrderView,
        *,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        ask: Ask,
    ) -> SubmitOutcome: ...

    async def cancel_all(self, account_id: str) -> CancelAllResult: ...


class VanishedOrders:
    """Working orders that IBKR stopped listing without a final state (a server restart can drop
    them): each told once, after it has been missing from ``looks`` order lists in a row (one
    incomplete list is not news). An order that shows up again is forgotten."""

    def __init__(self, looks: int = 2) -> None:
        self.looks = looks
        self._missing: dict[int, tuple[OrderView, int]] = {}  # order id -> (last view, misses)

    @property
    def unsure(self) -> bool:
        """A working order is missing from the last look but not yet told: the next look
        decides."""
        return bool(self._missing)

    def update(
        self, known: dict[int, OrderView] | None, fresh: dict[int, OrderView]
    ) -> list[OrderView]:
        """The orders that vanished with this look (``known``: the previous look's orders)."""
        for order_id in [oid for oid in self._missing if oid in fresh]:
            del self._missing[order_id]
        for order in (known or {}).values():
            if order.working and order.order_id not in fresh:
                self._missing.setdefault(order.order_id, (order, 0))
        gone: list[OrderView] = []
        for order_id, (order, misses) in list(self._missing.items()):
            if misses + 1 >= self.looks:
                del self._missing[order_id]
                gone.append(order)
            else:
                self._missing[order_id] = (order, misses + 1)
        return gone
