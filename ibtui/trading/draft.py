"""The order vocabulary: side, the ticket's order types, time in force, an order as the ticket
holds it (:class:`OrderDraft`) and the market it is checked against. The screens and the order
service speak it alike; :class:`Side` and :class:`TimeInForce` are IBKR's own.

The numeric fields take what the trader typed (``"10"``, ``"231.5"``) as well as numbers; they
are parsed by :func:`parse_amount` and judged by :func:`ibtui.trading.safety.validate`, so a
ticket can hand over its inputs unchanged and show the reasons beside the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import TypeAlias

from ibtui.ibkr.models import OrderType, Side, TimeInForce

__all__ = [
    "TICKET_TIFS",
    "Amount",
    "AmountProblem",
    "MarketQuote",
    "OrderDraft",
    "Side",
    "TicketType",
    "TimeInForce",
    "parse_amount",
    "parse_positive",
]

Amount: TypeAlias = Decimal | int | str
"""A quantity or price: a number, or the text the trader typed."""

TICKET_TIFS = (TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC)
"""The times in force the ticket offers."""
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MAX_CHARS = 32


class TicketType(StrEnum):
    """The order types the ticket offers, as traders write them."""

    MKT = "MKT"
    LMT = "LMT"
    STP = "STP"
    STP_LMT = "STP LMT"

    @property
    def needs_limit(self) -> bool:
        return self in (TicketType.LMT, TicketType.STP_LMT)

    @property
    def needs_stop(self) -> bool:
        return self in (TicketType.STP, TicketType.STP_LMT)

    @property
    def wire(self) -> OrderType:
        """IBKR's ``orderType`` (``STP LMT`` is ``STOP_LIMIT`` on the wire)."""
        return _WIRE[self]

    @classmethod
    def from_wire(cls, order_type: OrderType | None) -> TicketType | None:
        return next((t for t, w in _WIRE.items() if w is order_type), None)


_WIRE = {
    TicketType.MKT: OrderType.MARKET,
    TicketType.LMT: OrderType.LIMIT,
    TicketType.STP: OrderType.STOP,
    TicketType.STP_LMT: OrderType.STOP_LIMIT,
}


def parse_amount(value: object) -> Decimal | None:
    """A finite Decimal from a number or plain decimal text (``"10"``, ``" 231.50 "``, ``".5"``,
    ``"-3"``); None for anything else: empty text, letters, exponents, ``NaN``, thousands
    separators, booleans. Never raises."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_CHARS or not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


class AmountProblem(Enum):
    """Why an amount that must be positive is not one (each form words it its own way)."""

    MISSING = "missing"  # None or blank text
    NOT_A_NUMBER = "not a number"
    NOT_POSITIVE = "not positive"  # zero or less


def parse_positive(value: object) -> Decimal | AmountProblem:
    """A positive amount read as :func:`parse_amount` reads it, or why there is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return AmountProblem.MISSING
    amount = parse_amount(value)
    if amount is None:
        return AmountProblem.NOT_A_NUMBER
    if amount <= 0:
        return AmountProblem.NOT_POSITIVE
    return amount


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """The market the ticket shows: last, bid and ask (None where unknown)."""

    last: Decimal | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """What the trader means to send. ``quantity``, ``limit_price`` and ``stop_price`` may be
    text as typed; prices a type does not use are ignored (a MKT order's limit field, say).

    ``is_paper`` is the account's kind: a live account (``False``) needs the typed confirmation
    of :func:`ibtui.trading.safety.live_confirmation_ok` before the service sends anything.
    """

    account_id: str
    conid: int
    symbol: str
    side: Side
    quantity: Amount
    order_type: TicketType = TicketType.LMT
    limit_price: Amount | None = None
    stop_price: Amount | None = None
    tif: TimeInForce = TimeInForce.DAY
    outside_rth: bool = False
    is_paper: bool = True
    currency: str = "USD"

    def describe(self) -> str:
        """``BUY 10 AAPL LMT limit 215.00 DAY``: the line questions and the journal show."""
        quantity = parse_amount(self.quantity)
        size = _show(self.quantity if quantity is None else quantity.normalize())
        parts = [str(self.side), size, self.symbol, str(self.order_type)]
        kind = self.order_type
        if isinstance(kind, TicketType) and kind.needs_stop:
            parts.append(f"stop {_show(self.stop_price)}")
        if isinstance(kind, TicketType) and kind.needs_limit:
            parts.append(f"limit {_show(self.limit_price)}")
        parts.append(str(self.tif))
        if self.outside_rth:
            parts.append("outside RTH")
        return " ".join(parts)


def _show(value: object) -> str:
    number = parse_amount(value)
    if number is not None:
        return f"{number:f}"
    return "?" if value is None or value == "" else repr(value)
