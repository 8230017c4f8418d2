"""What ibtui sends to place an order and what IBKR answers (API.md §7, §8.3, §8.4).

A placement, a reply confirmation and a modify all answer one of four shapes, modelled as the
tagged union :data:`PlaceResult`::

    match parse_place_result(body):
        case Accepted(orders=acks): ...            # done: order ids and states
        case ReplyRequired(reply_id=rid): ...      # ask the trader, then POST /iserver/reply/{rid}
        case ServerPrompt(): ...                   # e.g. p12 price-management choice
        case OrderError(text=text): ...            # rejected
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Self, TypeAlias

from ibtui.ibkr.models._parse import JsonValue, Obj, describe, fail, guarded
from ibtui.ibkr.models.enums import OrderState, OrderType, Side, TimeInForce
from ibtui.text import clean_text

SUPPORTED_ORDER_TYPES = frozenset(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT}
)
_TAG = re.compile(r"<[^>]*>")
_COID = re.compile(r"[\x21-\x7e]{1,64}")


def make_coid(prefix: str = "ibtui", now: datetime | None = None) -> str:
    """A fresh client order id, unique in practice: ``ibtui-20241104153012-a1b2c3``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{prefix}-{moment:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"


def _wire_number(value: Decimal) -> int | float:
    """A Decimal as the JSON number IBKR expects (integral values without a fraction)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _positive(value: Decimal | None, name: str) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise ValueError(f"{name} must be a positive number, got {value}")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order ticket as ibtui sends it. Construction validates it (ValueError if inconsistent).

    Prices follow IBKR's conventions: ``price`` is the limit price for LMT and STOP_LIMIT and the
    stop trigger for STP; ``aux_price`` is the stop trigger of a STOP_LIMIT. ``coid`` is the
    client order id IBKR echoes back as ``order_ref`` (unique per day; see :func:`make_coid`).
    ``parent_coid`` makes this the child of a bracket.
    """

    conid: int
    side: Side
    quantity: Decimal
    order_type: OrderType
    coid: str
    price: Decimal | None = None
    aux_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    outside_rth: bool = False
    account_id: str | None = None
    listing_exchange: str | None = None
    sec_type: str | None = None
    parent_coid: str | None = None

    def __post_init__(self) -> None:
        if self.conid <= 0:
            raise ValueError("conid must be positive")
        if self.order_type not in SUPPORTED_ORDER_TYPES:
            raise ValueError(f"order type {self.order_type} is not supported by ibtui")
        if not _COID.fullmatch(self.coid):
            raise ValueError("coid must be 1-64 printable characters without spaces")
        _positive(Decimal(self.quantity), "quantity")
        _positive(self.price, "price")
        _positive(self.aux_price, "aux_price")
        needs_price = self.order_type is not OrderType.MARKET
        needs_aux = self.order_type is OrderType.STOP_LIMIT
        if needs_price and self.price is None:
            label = "a stop price" if self.order_type is OrderType.STOP else "a limit price"
            raise ValueError(f"a {self.order_type.label} order needs {label}")
        if not needs_price and self.price is not None:
            raise ValueError("a market order takes no price")
        if needs_aux and self.aux_price is None:
            raise ValueError("a Stop Limit order needs a stop price (aux_price)")
        if not needs_aux and self.aux_price is not None:
            raise ValueError(f"a {self.order_type.label} order takes no aux_price")

    def to_json(self) -> dict[str, JsonValue]:
        """The order object of IBKR's body (keys and values are case-sensitive)."""
        body: dict[str, JsonValue] = {
            "conid": self.conid,
            "cOID": self.coid,
            "orderType": self.order_type.value,
            "side": self.side.value,
            "quantity": _wire_number(Decimal(self.quantity)),
            "tif": self.tif.value,
            "outsideRTH": self.outside_rth,
        }
        if self.account_id is not None:
            body["acctId"] = self.account_id
        if self.price is not None:
            body["price"] = _wire_number(self.price)
        if self.aux_price is not None:
            body["auxPrice"] = _wire_number(self.aux_price)
        if self.listing_exchange is not None:
            body["listingExchange"] = self.listing_exchange
        if self.sec_type is not None:
            body["secType"] = f"{self.conid}:{self.sec_type}"
        if self.parent_coid is not None:
            body["parentId"] = self.parent_coid
        return body


def order_body(orders: Sequence[OrderRequest]) -> dict[str, JsonValue]:
    """``{"orders": [...]}`` for placement and what-if (one order, or a bracket)."""
    if not orders:
        raise ValueError("no orders to send")
    return {"orders": [order.to_json() for order in orders]}


def plain_text(text: str) -> str:
    """IBKR message text without HTML tags and entities, and without control characters (cleaned
    after the entities are decoded: ``&#27;`` is an ESC); newlines and tabs stay."""
    return clean_text(html.unescape(_TAG.sub("", text)), lines=True).strip()


# --------------------------------------------------------------------------------------------
# The four answers of placement, reply and modify


@dataclass(frozen=True, slots=True)
class OrderAck:
    """One accepted order. ``order_id`` is IBKR's id (a string on the wire, an int here)."""

    order_id: int
    status: OrderState
    status_text: str | None
    order_ref: str | None = None
    parent_order_id: int | None = None

    @classmethod
    @guarded("order acknowledgement")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "order acknowledgement")
        status_text = o.text("order_status")
        return cls(
            order_id=o.req_int("order_id"),
            status=OrderState.parse(status_text),
            status_text=status_text,
            order_ref=o.text("order_ref") or o.text("cOID"),
            parent_order_id=o.opt_int("parent_order_id"),
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    """IBKR took the order(s): one ack per order (a bracket gives several)."""

    orders: tuple[OrderAck, ...]

    @property
    def order_id(self) -> int:
        """The id of the first (parent) order."""
        return self.orders[0].order_id


@dataclass(frozen=True, slots=True)
class ReplyRequired:
    """IBKR asks the trader to confirm (``POST /iserver/reply/{reply_id}``)."""

    reply_id: str
    messages: tuple[str, ...]
    message_ids: tuple[str, ...]
    is_suppressed: bool = False

    @property
    def text(self) -> str:
        """The question(s) as plain text."""
        return "\n\n".join(plain_text(m) for m in self.messages)


@dataclass(frozen=True, slots=True)
class OrderError:
    """IBKR refused the order, reply, modify or cancel; ``text`` is its reason."""

    text: str


@dataclass(frozen=True, slots=True)
class ServerPrompt:
    """A prompt with choices, e.g. ``p12`` "Use the Price Management Algo?"."""

    text: str
    options: tuple[str, ...]
    message_id: str | None
    order_id: int | None
    request_id: str | None
    kind: str | None
    dismissable: tuple[str, ...]


PlaceResult: TypeAlias = Accepted | ReplyRequired | OrderError | ServerPrompt
ModifyResult: TypeAlias = PlaceResult


def _reply(o: Obj) -> ReplyRequired:
    if isinstance(o.raw("message"), str):
        messages: tuple[str, ...] = (o.opt_str("message", lines=True) or "",)
    else:
        messages = o.str_list("message", lines=True)
    return ReplyRequired(
        reply_id=o.req_str("id"),
        messages=messages,
        message_ids=o.str_list("messageIds"),
        is_suppressed=o.flag("isSuppressed"),
    )


def _prompt(o: Obj) -> ServerPrompt:
    return ServerPrompt(
        text=o.opt_str("text", lines=True) or "",
        options=o.str_list("options"),
        message_id=o.text("messageId"),
        order_id=o.opt_int("orderId"),
        request_id=o.text("reqId"),
        kind=o.text("type"),
        dismissable=o.str_list("dismissable"),
    )


def _error_text(o: Obj) -> str | None:
    if not o.has("error") or o.raw("error") is None:
        return None
    value = o.raw("error")
    return o.opt_str("error") if isinstance(value, str) else f"error {describe(value)}"


@guarded("order result")
def parse_place_result(data: object) -> PlaceResult:
    """Answer of placement, ``/iserver/reply/{id}`` or modify → one of the four shapes."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise fail("order result is an empty list")
    objs = [Obj(item, f"order result element {i}") for i, item in enumerate(items)]
    for o in objs:
        text = _error_text(o)
        if text is not None:
            return OrderError(text)
    for o in objs:
        if o.has("id") and o.has("message"):
            return _reply(o)
    for o in objs:
        if o.flag("prompt") or (o.has("options") and o.has("messageId")):
            return _prompt(o)
    if all(o.has("order_id") for o in objs):
        return Accepted(tuple(OrderAck.from_json(o.data) for o in objs))
    raise fail("order result is none of accepted, reply, prompt or error")


def parse_modify_result(data: object) -> ModifyResult:
    """Answer of ``POST /iserver/account/{acct}/order/{id}``: the same union as placement."""
    return parse_place_result(data)


@dataclass(frozen=True, slots=True)
class CancelResult:
    """IBKR accepted the cancel *request*; the order reaches Cancelled later."""

    order_id: int | None
    message: str
    conid: int | None
    account: str | None
    status: OrderState | None

    @classmethod
    @guarded("cancel result")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "cancel result")
        status_text = o.text("order_status")
        return cls(
            order_id=o.opt_int("order_id"),
            message=o.opt_str("msg") or "",
            conid=o.opt_int("conid"),
            account=o.text("account"),
            status=None if status_text is None else OrderState.parse(status_text),
        )


@guarded("cancel result")
def parse_cancel_result(data: object) -> CancelResult | OrderError:
    """``DELETE .../order/{id}`` → the accepted request (object or one-element list) or an error."""
    if isinstance(data, list):
        if len(data) != 1:
            raise fail(f"cancel result is a list of {len(data)} elements")
        data = data[0]
    o = Obj(data, "cancel result")
    text = _error_text(o)
    if text is not None:
        return OrderError(text)
    if not (o.has("msg") or o.has("order_id")):
        raise fail("cancel result has neither 'msg' nor 'order_id'")
    return CancelResult.from_json(data)
