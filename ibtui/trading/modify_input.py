"""What the trader types to change a working order, checked field by field before anything is
asked of IBKR: a positive quantity above what has filled, the prices the order's type uses, and
something actually changed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from ibtui.trading.draft import AmountProblem, parse_positive

__all__ = ["ModifyValues", "WorkingOrder", "kind_code", "parse_modify", "uses_limit", "uses_stop"]


class WorkingOrder(Protocol):
    """The order being changed, as the orders screen shows it."""

    @property
    def kind(self) -> str: ...  # the order type as IBKR describes it ("LMT", "Stop Limit", ...)

    @property
    def quantity(self) -> Decimal | None: ...

    @property
    def filled(self) -> Decimal | None: ...

    @property
    def limit_price(self) -> Decimal | None: ...

    @property
    def stop_price(self) -> Decimal | None: ...


_KIND_CODES = {
    "LMT": "LMT",
    "LIMIT": "LMT",
    "MKT": "MKT",
    "MARKET": "MKT",
    "STP": "STP",
    "STOP": "STP",
    "STP LMT": "STP LMT",
    "STOP LMT": "STP LMT",
    "STOP LIMIT": "STP LMT",
    "STP LIMIT": "STP LMT",
}


def kind_code(kind: str) -> str:
    """IBKR's order type in the ticket's words: ``Limit``/``LIMIT`` → ``LMT``, ``Stop Limit`` /
    ``STOP_LIMIT`` → ``STP LMT``; anything else unchanged."""
    key = " ".join(kind.replace("_", " ").upper().split())
    return _KIND_CODES.get(key, kind)


def uses_limit(kind: str) -> bool:
    return kind_code(kind) in ("LMT", "STP LMT")


def uses_stop(kind: str) -> bool:
    return kind_code(kind) in ("STP", "STP LMT")


@dataclass(frozen=True, slots=True)
class ModifyValues:
    """A working order's new quantity and prices (a price the order type does not use is None)."""

    quantity: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


_POSITIVE_PROBLEM = {
    AmountProblem.MISSING: "required",
    AmountProblem.NOT_A_NUMBER: "numbers only",
    AmountProblem.NOT_POSITIVE: "must be positive",
}


def _positive(text: str, problems: dict[str, str], field: str) -> Decimal | None:
    # digits, a point and thousands commas: no exponent ("1e3"), no NaN
    value = parse_positive(text.strip().replace(",", ""))
    if isinstance(value, Decimal):
        return value
    problems[field] = _POSITIVE_PROBLEM[value]
    return None


def parse_modify(
    order: WorkingOrder, quantity: str, limit: str = "", stop: str = ""
) -> tuple[ModifyValues | None, dict[str, str]]:
    """The new values, or the problem of each field (``quantity``, ``limit``, ``stop``, or ``""``
    when nothing changed)."""
    problems: dict[str, str] = {}
    size = _positive(quantity, problems, "quantity")
    whole = order.quantity is None or order.quantity == order.quantity.to_integral_value()
    if size is not None and whole and size != size.to_integral_value():
        problems["quantity"] = "whole shares only"  # the order is for whole shares
    elif size is not None and order.filled is not None and size <= order.filled:
        problems["quantity"] = f"must be more than the {_quantity(order.filled)} filled"
    limit_price = _positive(limit, problems, "limit") if uses_limit(order.kind) else None
    stop_price = _positive(stop, problems, "stop") if uses_stop(order.kind) else None
    if problems or size is None:
        return None, problems
    values = ModifyValues(size, limit_price, stop_price)
    if (
        size == order.quantity
        and limit_price == (order.limit_price if uses_limit(order.kind) else None)
        and stop_price == (order.stop_price if uses_stop(order.kind) else None)
    ):
        return None, {"": "nothing changed"}
    return values, {}


def _quantity(value: Decimal) -> str:
    """``4``, ``1,000``, ``0.5``: a quantity without trailing zeros."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value.normalize():,f}"
