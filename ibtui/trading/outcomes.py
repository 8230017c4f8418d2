"""What the order service answers: how a submission, a modification or a cancel ended, IBKR's
questions on the way, and IBKR's what-if. Frozen dataclasses with ``Decimal`` money; the screens
show them as they are."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from ibtui.ibkr.models import WhatIf
    from ibtui.ibkr.models.enums import OrderState
    from ibtui.ibkr.models.order_views import DisplayAmount, WhatIfChange
    from ibtui.trading.safety import FieldError, Precaution

__all__ = [
    "Answer",
    "AnsweredQuestion",
    "CancelOutcome",
    "CancelStatus",
    "KillSwitchResult",
    "Preview",
    "Question",
    "SubmitOutcome",
    "SubmitStatus",
    "UnresolvedOrder",
    "preview_of",
    "state_word",
]

CHECK_ORDERS = "unknown: check the orders screen"


def state_word(status: OrderState) -> str:
    """What an order IBKR has is, in a word for the trader: working, filled, cancelled, ..."""
    if status.is_working:
        return "working"
    return status.value.lower()


class SubmitStatus(StrEnum):
    """How a submission (or a modification) ended."""

    ACCEPTED = "accepted"  # IBKR has the order: order_id set
    REJECTED = "rejected"  # IBKR took it and refused it (message: its reason); nothing placed
    # refused before IBKR took it: the session or the gateway said no (the session gone, no
    # brokerage session, another login holding it); nothing reached the market, and the message
    # says what to do before sending it again
    NOT_PLACED = "not_placed"
    CANCELLED = "cancelled"  # a question was answered no (by you or your policy); nothing placed
    UNKNOWN = "unknown"  # no answer: check the orders screen; the same draft is not sent again
    BUSY = "busy"  # another submission is in flight: this one was not sent
    NOT_SENT = "not_sent"  # refused before sending: field errors, a blocking precaution, ...


@dataclass(frozen=True, slots=True)
class Question:
    """One of IBKR's questions, verbatim (HTML removed), for the trader to confirm or reject."""

    text: str
    message_id: str | None
    order: str  # the order it is about, e.g. "BUY 10 AAPL LMT limit 215.00 DAY"
    coid: str | None
    step: int  # 1 for the first question of this order, 2 for the follow-up, ...
    action: Literal["place", "modify"] = "place"


Answer: TypeAlias = Callable[[Question], Awaitable[bool]]
"""Shows a question and returns True to confirm, False to reject."""


@dataclass(frozen=True, slots=True)
class AnsweredQuestion:
    question: Question
    confirmed: bool
    by: Literal["you", "policy"]


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """The end of a submit or modify. ``message`` is one line fit to show the trader."""

    status: SubmitStatus
    message: str
    coid: str | None = None
    order_id: int | None = None
    order_status: OrderState | None = None
    errors: tuple[FieldError, ...] = ()
    precautions: tuple[Precaution, ...] = ()
    answers: tuple[AnsweredQuestion, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status is SubmitStatus.ACCEPTED


@dataclass(frozen=True, slots=True)
class Preview:
    """IBKR's what-if for a draft: cost, commission and margin impact, before sending.

    Amounts are in ``currency`` (None where IBKR left a value out). ``error`` set means IBKR
    would reject the order; ``warning`` is IBKR's warning text.
    """

    order: str
    currency: str | None
    amount: Decimal | None
    commission: Decimal | None
    total: Decimal | None
    initial_margin_current: Decimal | None
    initial_margin_change: Decimal | None
    initial_margin_after: Decimal | None
    maintenance_margin_current: Decimal | None
    maintenance_margin_change: Decimal | None
    maintenance_margin_after: Decimal | None
    equity_current: Decimal | None
    equity_change: Decimal | None
    equity_after: Decimal | None
    position_after: Decimal | None
    warning: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


class CancelStatus(StrEnum):
    REQUESTED = "requested"  # IBKR took the request; the order goes PendingCancel, Cancelled
    REJECTED = "rejected"  # IBKR refused (e.g. the order is already filled or cancelled)
    UNKNOWN = "unknown"  # no answer: check the orders screen


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    order_id: int
    status: CancelStatus
    message: str

    @property
    def requested(self) -> bool:
        return self.status is CancelStatus.REQUESTED


@dataclass(frozen=True, slots=True)
class KillSwitchResult:
    """What the kill switch did: one cancel per working order of the account."""

    outcomes: tuple[CancelOutcome, ...]
    message: str

    @property
    def requested(self) -> tuple[int, ...]:
        return tuple(o.order_id for o in self.outcomes if o.requested)

    @property
    def failed(self) -> tuple[CancelOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.requested)


@dataclass(frozen=True, slots=True)
class UnresolvedOrder:
    """A send whose outcome is unknown: the same draft is refused until it is reconciled."""

    coid: str
    order: str


def _value(amount: DisplayAmount | None) -> Decimal | None:
    return None if amount is None else amount.value


def _parts(change: WhatIfChange | None) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if change is None:
        return None, None, None
    return _value(change.current), _value(change.change), _value(change.after)


def preview_of(order: str, w: WhatIf) -> Preview:
    """IBKR's what-if for ``order`` (its description), as a :class:`Preview`."""
    currency = next(
        (a.currency for a in (w.amount, w.commission, w.total) if a is not None and a.currency),
        None,
    )
    im = _parts(w.initial_margin)
    mm = _parts(w.maintenance_margin)
    eq = _parts(w.equity)
    position_after = w.position.after if w.position is not None else None
    return Preview(
        order=order,
        currency=currency,
        amount=_value(w.amount),
        commission=_value(w.commission),
        total=_value(w.total),
        initial_margin_current=im[0],
        initial_margin_change=im[1],
        initial_margin_after=im[2],
        maintenance_margin_current=mm[0],
        maintenance_margin_change=mm[1],
        maintenance_margin_after=mm[2],
        equity_current=eq[0],
        equity_change=eq[1],
        equity_after=eq[2],
        position_after=_value(position_after),
        warning=w.warn,
        error=w.error,
    )
