"""What the trader types into the order ticket, checked field by field: numbers only, a positive
quantity, the prices the order type needs. The result is a draft (then checked by
:mod:`ibtui.trading.safety`) or the reason of each field that has none."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from ibtui.trading.draft import (
    AmountProblem,
    OrderDraft,
    Side,
    TicketType,
    TimeInForce,
    parse_positive,
)
from ibtui.trading.safety import FieldError

__all__ = ["TicketAccount", "parse_ticket"]


class TicketAccount(Protocol):
    """The account the ticket is for, as the console shows it."""

    @property
    def account_id(self) -> str: ...

    @property
    def paper(self) -> bool: ...


def _number(text: str, name: str, problems: list[FieldError], field: str) -> Decimal | None:
    """A positive number as typed: digits, a point, thousands commas (no exponent: "1e3");
    None, and no problem, when the field is empty."""
    value = parse_positive(text.strip().replace(",", ""))
    if value is AmountProblem.NOT_A_NUMBER:
        problems.append(FieldError(field, f"{name}: numbers only (digits and a point)"))
    elif value is AmountProblem.NOT_POSITIVE:
        problems.append(FieldError(field, f"{name} must be more than 0"))
    return value if isinstance(value, Decimal) else None


def parse_ticket(
    account: TicketAccount,
    conid: int,
    symbol: str,
    *,
    side: Side,
    quantity: str,
    kind: TicketType,
    limit: str,
    stop: str,
    tif: TimeInForce,
    outside_rth: bool,
    currency: str = "USD",
    fractional: bool = False,
) -> tuple[OrderDraft | None, list[FieldError]]:
    """The draft the fields describe, or the reasons there is none (by the draft's field).
    ``fractional``: the instrument trades in fractions of a share (else whole shares only)."""
    problems: list[FieldError] = []
    qty = _number(quantity, "Quantity", problems, "quantity")
    if qty is not None and not fractional and qty != qty.to_integral_value():
        problems.append(FieldError("quantity", "Quantity: whole shares only"))
        qty = None
    if qty is None and not any(p.field == "quantity" for p in problems):
        problems.append(FieldError("quantity", "Quantity is required"))
    limit_price = stop_price = None
    if kind.needs_limit:
        limit_price = _number(limit, "Limit price", problems, "limit_price")
        if limit_price is None and not any(p.field == "limit_price" for p in problems):
            problems.append(FieldError("limit_price", f"{kind.value} needs a limit price"))
    if kind.needs_stop:
        stop_price = _number(stop, "Stop price", problems, "stop_price")
        if stop_price is None and not any(p.field == "stop_price" for p in problems):
            problems.append(FieldError("stop_price", f"{kind.value} needs a stop price"))
    if problems or qty is None:
        return None, problems
    draft = OrderDraft(
        account_id=account.account_id,
        conid=conid,
        symbol=symbol,
        side=side,
        quantity=qty,
        order_type=kind,
        limit_price=limit_price,
        stop_price=stop_price,
        tif=tif,
        outside_rth=outside_rth,
        is_paper=account.paper,
        currency=currency,
    )
    return draft, []
