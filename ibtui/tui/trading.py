"""What the trading screens show and what they need: view-models and the :class:`Trader` protocol.

The order ticket, the questions dialog and the orders screen never import the IBKR client or the
order service; the console's wiring implements :class:`Trader` over them. Everything here is plain
data: ``Decimal`` money and prices, epoch-second times, enums for the closed sets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from ibtui.tui.viewmodels import QuoteView

__all__ = [
    "Ask",
    "CancelAllResult",
    "FieldProblem",
    "OrderDraft",
    "OrderKind",
    "OrderSide",
    "OrderView",
    "PrecautionView",
    "PreviewView",
    "QuestionView",
    "SubmitResult",
    "SubmitStatus",
    "TicketCheck",
    "TimeInForce",
    "TradeView",
    "Trader",
]


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderKind(StrEnum):
    """The order types the ticket offers, named as IBKR's API names them."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"

    @property
    def needs_limit(self) -> bool:
        return self in (OrderKind.LIMIT, OrderKind.STOP_LIMIT)

    @property
    def needs_stop(self) -> bool:
        return self in (OrderKind.STOP, OrderKind.STOP_LIMIT)


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """An order as the ticket holds it once its fields parse: what the trader means to send."""

    account_id: str
    conid: int
    symbol: str
    side: OrderSide
    quantity: Decimal
    kind: OrderKind = OrderKind.LIMIT
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    outside_rth: bool = False
    currency: str = "USD"

    def describe(self) -> str:
        """``BUY 10 AAPL LMT 215.00 DAY`` — the line confirmations and the journal show."""
        parts = [self.side.value, f"{self.quantity.normalize():f}", self.symbol, self.kind.value]
        if self.kind.needs_stop and self.stop_price is not None:
            parts.append(f"stop {self.stop_price:f}")
        if self.kind.needs_limit and self.limit_price is not None:
            parts.append(f"limit {self.limit_price:f}")
        parts.append(self.tif.value)
        if self.outside_rth:
            parts.append("outside RTH")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """A reason the ticket cannot be sent, shown beside ``field`` (a ticket input's name)."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class PrecautionView:
    """A precaution limit the order crosses: a warning, or a block when ``blocking``."""

    message: str
    blocking: bool = False


@dataclass(frozen=True, slots=True)
class TicketCheck:
    problems: tuple[FieldProblem, ...] = ()
    precautions: tuple[PrecautionView, ...] = ()

    @property
    def sendable(self) -> bool:
        return not self.problems and not any(p.blocking for p in self.precautions)


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


class SubmitStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # IBKR refused it
    DECLINED = "declined"  # the trader answered no to a question: nothing was sent
    UNKNOWN = "unknown"  # no answer: check the orders screen before sending again
    BUSY = "busy"  # a submission is already in flight: this one was not sent
    NOT_SENT = "not sent"  # refused before sending (a check failed, the journal is unwritable)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    status: SubmitStatus
    message: str
    order_id: int | None = None
    coid: str | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """A working or recent order as the orders screen shows it."""

    order_id: int
    account_id: str
    conid: int
    symbol: str
    side: OrderSide
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


@dataclass(frozen=True, slots=True)
class TradeView:
    """One execution."""

    execution_id: str
    symbol: str
    side: OrderSide
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

    def check(self, draft: OrderDraft, quote: QuoteView | None) -> TicketCheck: ...

    async def preview(self, draft: OrderDraft) -> PreviewView: ...

    async def submit(
        self,
        draft: OrderDraft,
        ask: Ask,
        *,
        confirmation: str | None = None,
        quote: QuoteView | None = None,
    ) -> SubmitResult: ...

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
    ) -> SubmitResult: ...

    async def cancel_all(self, account_id: str) -> CancelAllResult: ...
