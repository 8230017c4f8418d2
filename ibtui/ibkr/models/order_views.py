"""Orders and executions as IBKR reports them: live orders, order status, trades, what-if
(API.md §7.4, §8.1, §8.2, §8.5)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Self

from ibtui.ibkr.models._parse import (
    Obj,
    as_list,
    from_ymd_hms,
    from_yymmddhhmmss,
    guarded,
    to_decimal,
)
from ibtui.ibkr.models.enums import OrderState, OrderType, Side
from ibtui.text import clean_text


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """A row of ``GET /iserver/account/orders``.

    ``order_type`` is normalised from IBKR's display text (``"Limit"`` → LIMIT; None when unknown,
    ``order_type_text`` keeps the text). Prices are None where IBKR sends ``""`` (market orders).
    ``order_ref`` is the cOID ibtui sent. ``updated`` is ``lastExecutionTime_r`` (UTC).
    """

    order_id: int
    account: str | None
    conid: int
    symbol: str | None
    description: str | None
    sec_type: str | None
    exchange: str | None
    currency: str | None
    side: Side
    order_type: OrderType | None
    order_type_text: str | None
    price: Decimal | None
    aux_price: Decimal | None
    avg_price: Decimal | None
    total_size: Decimal | None
    filled: Decimal | None
    remaining: Decimal | None
    status: OrderState
    status_text: str | None
    tif: str | None
    outside_rth: bool
    order_ref: str | None
    parent_id: str | None
    order_desc: str | None
    updated: datetime | None

    @classmethod
    @guarded("order")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "order")
        type_text = o.text("orderType") or o.text("origOrderType")
        status_text = o.text("status")
        updated = o.ms("lastExecutionTime_r") or from_yymmddhhmmss(
            o.raw("lastExecutionTime"), "order 'lastExecutionTime'"
        )
        aux_key = o.first("auxPrice", "stop_price", "stopPrice")
        return cls(
            order_id=o.req_int("orderId"),
            account=o.text("acct") or o.text("account"),
            conid=o.req_int("conid"),
            symbol=o.text("ticker"),
            description=o.text("description1") or o.text("companyName"),
            sec_type=o.text("secType"),
            exchange=o.text("listingExchange"),
            currency=o.text("cashCcy"),
            side=Side.parse(o.raw("side"), "order 'side'"),
            order_type=OrderType.parse(type_text) or OrderType.parse(o.raw("origOrderType")),
            order_type_text=type_text,
            price=o.opt_decimal("price"),
            aux_price=None if aux_key is None else o.opt_decimal(aux_key),
            avg_price=o.opt_decimal("avgPrice"),
            total_size=o.opt_decimal("totalSize"),
            filled=o.opt_decimal("filledQuantity"),
            remaining=o.opt_decimal("remainingQuantity"),
            status=OrderState.parse(status_text),
            status_text=status_text,
            tif=o.text("timeInForce"),
            outside_rth=o.flag("outsideRTH"),
            order_ref=o.text("order_ref"),
            parent_id=o.text("parentId"),
            order_desc=o.text("orderDesc"),
            updated=updated,
        )


@dataclass(frozen=True, slots=True)
class LiveOrders:
    """``GET /iserver/account/orders``. ``snapshot`` false (and no orders) follows ``force=true``
    or a first call: ask again for the real list."""

    orders: tuple[LiveOrder, ...]
    snapshot: bool | None

    @classmethod
    @guarded("orders")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "orders")
        return cls(
            orders=tuple(LiveOrder.from_json(item) for item in o.opt_items("orders")),
            snapshot=o.opt_flag("snapshot"),
        )


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """``GET /iserver/account/order/status/{id}`` (side arrives as ``B``/``S``).

    ``remaining`` is IBKR's ``size`` (what is left), ``filled`` its ``cum_fill``.
    """

    order_id: int
    conid: int
    symbol: str | None
    account: str | None
    side: Side
    order_type: OrderType | None
    order_type_text: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    avg_price: Decimal | None
    total_size: Decimal | None
    filled: Decimal | None
    remaining: Decimal | None
    status: OrderState
    status_text: str | None
    status_description: str | None
    description: str | None
    tif: str | None
    currency: str | None
    exchange: str | None
    outside_rth: bool
    editable: bool
    cancellable: bool
    order_time: datetime | None

    @classmethod
    @guarded("order status")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "order status")
        type_text = o.text("order_type")
        status_text = o.text("order_status")
        stop_key = o.first("stop_price", "aux_price", "auxPrice")
        return cls(
            order_id=o.req_int("order_id"),
            conid=o.req_int("conid"),
            symbol=o.text("symbol"),
            account=o.text("account"),
            side=Side.parse(o.raw("side"), "order status 'side'"),
            order_type=OrderType.parse(type_text),
            order_type_text=type_text,
            limit_price=o.opt_decimal("limit_price"),
            stop_price=None if stop_key is None else o.opt_decimal(stop_key),
            avg_price=o.opt_decimal("average_price"),
            total_size=o.opt_decimal("total_size"),
            filled=o.opt_decimal("cum_fill"),
            remaining=o.opt_decimal("size"),
            status=OrderState.parse(status_text),
            status_text=status_text,
            status_description=o.text("order_status_description"),
            description=o.text("order_description_with_contract") or o.text("order_description"),
            tif=o.text("tif"),
            currency=o.text("currency"),
            exchange=o.text("listing_exchange"),
            outside_rth=o.flag("outside_rth"),
            editable=not o.flag("order_not_editable"),
            cancellable=not o.flag("cannot_cancel_order"),
            order_time=from_yymmddhhmmss(o.raw("order_time"), "order status 'order_time'"),
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution from ``GET /iserver/account/trades`` (or the WebSocket ``str`` topic)."""

    execution_id: str
    conid: int | None
    symbol: str | None
    side: Side
    quantity: Decimal
    price: Decimal
    time: datetime | None
    commission: Decimal | None
    net_amount: Decimal | None
    account: str | None
    exchange: str | None
    order_ref: str | None
    description: str | None
    sec_type: str | None
    company_name: str | None

    @classmethod
    @guarded("trade")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "trade")
        time = o.ms("trade_time_r") or from_ymd_hms(o.raw("trade_time"), "trade 'trade_time'")
        return cls(
            execution_id=o.req_str("execution_id"),
            conid=o.opt_int("conid"),
            symbol=o.text("symbol"),
            side=Side.parse(o.raw("side"), "trade 'side'"),
            quantity=o.req_decimal("size"),
            price=o.req_decimal("price"),
            time=time,
            commission=o.opt_decimal("commission"),
            net_amount=o.opt_decimal("net_amount"),
            account=o.text("account") or o.text("accountCode"),
            exchange=o.text("exchange"),
            order_ref=o.text("order_ref"),
            description=o.text("order_description"),
            sec_type=o.text("sec_type"),
            company_name=o.text("company_name"),
        )


@guarded("trades")
def parse_trades(data: object) -> tuple[Trade, ...]:
    """``GET /iserver/account/trades`` → executions as IBKR lists them."""
    return tuple(Trade.from_json(item) for item in as_list(data, "trades"))


# --------------------------------------------------------------------------------------------
# What-if preview

_DISPLAY = re.compile(r"\s*([-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))(?:\s*([A-Z]{3})\b)?")


@dataclass(frozen=True, slots=True)
class DisplayAmount:
    """A formatted what-if value: ``"2,215.00 USD (10 Shares)"`` keeps its ``text`` and gives
    ``value`` 2215.00 and ``currency`` USD where the text starts with a number."""

    text: str
    value: Decimal | None
    currency: str | None

    @classmethod
    def parse(cls, raw: object, what: str) -> DisplayAmount | None:
        if raw is None:
            return None
        text = clean_text(raw) if isinstance(raw, str) else str(to_decimal(raw, what))
        match = _DISPLAY.match(text)
        if not match:
            return cls(text=text, value=None, currency=None)
        return cls(text=text, value=to_decimal(match.group(1), what), currency=match.group(2))


@dataclass(frozen=True, slots=True)
class WhatIfChange:
    """current → after (with the change) of one what-if metric."""

    current: DisplayAmount | None
    change: DisplayAmount | None
    after: DisplayAmount | None

    @classmethod
    def parse(cls, o: Obj | None, what: str) -> WhatIfChange | None:
        if o is None:
            return None
        return cls(
            current=DisplayAmount.parse(o.raw("current"), f"{what} current"),
            change=DisplayAmount.parse(o.raw("change"), f"{what} change"),
            after=DisplayAmount.parse(o.raw("after"), f"{what} after"),
        )


@dataclass(frozen=True, slots=True)
class WhatIf:
    """``POST .../orders/whatif``: cost, commission and margin impact before sending.

    ``error`` set means IBKR would reject the order; ``warn`` is a warning (may start with a
    numeric code such as ``"21/"``).
    """

    amount: DisplayAmount | None
    commission: DisplayAmount | None
    total: DisplayAmount | None
    equity: WhatIfChange | None
    initial_margin: WhatIfChange | None
    maintenance_margin: WhatIfChange | None
    position: WhatIfChange | None
    warn: str | None
    error: str | None

    @classmethod
    @guarded("what-if")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "what-if")
        amount = o.opt_obj("amount")
        return cls(
            amount=DisplayAmount.parse(amount.raw("amount"), "what-if amount") if amount else None,
            commission=(
                DisplayAmount.parse(amount.raw("commission"), "what-if commission")
                if amount
                else None
            ),
            total=DisplayAmount.parse(amount.raw("total"), "what-if total") if amount else None,
            equity=WhatIfChange.parse(o.opt_obj("equity"), "what-if equity"),
            initial_margin=WhatIfChange.parse(o.opt_obj("initial"), "what-if initial"),
            maintenance_margin=WhatIfChange.parse(o.opt_obj("maintenance"), "what-if maintenance"),
            position=WhatIfChange.parse(o.opt_obj("position"), "what-if position"),
            warn=o.text("warn", lines=True),
            error=o.text("error", lines=True),
        )
