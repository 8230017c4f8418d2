"""JSON shapes of orders (live list, status), executions (trades) and what-if previews, with
IBKR's typing quirks: integer ``orderId`` here, string prices, float sizes, ``B``/``S`` sides in
status and trades."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ibtui.sim.orders import (
    DISPLAY_TIF,
    DISPLAY_TYPE,
    ORIG_TYPE,
    Execution,
    Order,
    describe,
    fmt_price,
    fmt_qty,
)

__all__ = ["live_order_json", "order_status_json", "short_time", "trade_json"]

_CCP = {
    "PreSubmitted": "0",
    "Submitted": "0",
    "PendingCancel": "6",
    "Filled": "2",
    "Cancelled": "4",
}
_STATUS_TEXT = {
    "PreSubmitted": "Order PreSubmitted",
    "Submitted": "Order Submitted",
    "PendingCancel": "Order Pending Cancel",
    "Filled": "Order Filled",
    "Cancelled": "Order Cancelled",
    "Inactive": "Order Inactive",
}


def short_time(t: float) -> str:
    """``YYMMDDhhmmss`` (UTC), as order lists write times."""
    return datetime.fromtimestamp(t, UTC).strftime("%y%m%d%H%M%S")


def _size_and_fills(o: Order) -> str:
    if o.status == "Filled":
        return fmt_qty(o.filled).replace(",", "")
    return f"{fmt_qty(o.filled)}/{fmt_qty(o.ticket.quantity)}".replace(",", "")


def live_order_json(o: Order) -> dict[str, Any]:
    t, inst = o.ticket, o.instrument
    when = o.last_execution if o.last_execution is not None else o.last_change
    row: dict[str, Any] = {
        "acct": o.account_id,
        "conidex": str(inst.conid),
        "conid": inst.conid,
        "account": o.account_id,
        "orderId": o.order_id,
        "cashCcy": inst.currency,
        "sizeAndFills": _size_and_fills(o),
        "orderDesc": describe(o),
        "description1": inst.symbol,
        "ticker": inst.symbol,
        "secType": inst.asset_class,
        "listingExchange": inst.listing_exchange,
        "remainingQuantity": float(o.remaining) if o.working else 0.0,
        "filledQuantity": float(o.filled),
        "totalSize": float(t.quantity),
        "companyName": inst.name,
        "status": o.status,
        "order_ccp_status": o.status,
        "origOrderType": ORIG_TYPE[t.order_type],
        "supportsTaxOpt": "1",
        "lastExecutionTime": short_time(when),
        "orderType": DISPLAY_TYPE[t.order_type],
        "bgColor": "#FFFFFF",
        "fgColor": "#0000CC" if t.side == "BUY" else "#CC0000",
        "isEventTrading": "0",
        "timeInForce": t.tif,
        "lastExecutionTime_r": int(when * 1000),
        "side": t.side,
        "outsideRTH": t.outside_rth,
    }
    if t.coid is not None:
        row["order_ref"] = t.coid
    if t.price is not None:
        row["price"] = fmt_price(t.price)
    if t.aux_price is not None:
        row["auxPrice"] = fmt_price(t.aux_price)
    avg = o.avg_price
    if avg is not None:
        row["avgPrice"] = fmt_price(avg)
    if o.parent_id is not None:
        row["parentId"] = o.parent_id
    return row


def order_status_json(o: Order) -> dict[str, Any]:
    t, inst = o.ticket, o.instrument
    final = not o.working
    desc = describe(o)
    out: dict[str, Any] = {
        "sub_type": None,
        "request_id": str(o.order_id % 10000),
        "server_id": "0",
        "order_id": o.order_id,
        "conidex": str(inst.conid),
        "conid": inst.conid,
        "symbol": inst.symbol,
        "side": "B" if t.side == "BUY" else "S",
        "contract_description_1": inst.symbol,
        "listing_exchange": inst.listing_exchange,
        "option_acct": "c",
        "company_name": inst.name,
        "size": f"{(Decimal(0) if final else o.remaining):.1f}",
        "total_size": f"{t.quantity:.1f}",
        "currency": inst.currency,
        "account": o.account_id,
        "order_type": ORIG_TYPE[t.order_type],
        "cum_fill": f"{o.filled:.1f}",
        "order_status": o.status,
        "order_ccp_status": _CCP.get(o.status, "0"),
        "order_status_description": _STATUS_TEXT.get(o.status, o.status),
        "tif": t.tif,
        "fg_color": "#FFFFFF",
        "bg_color": "#0000CC" if t.side == "BUY" else "#CC0000",
        "order_not_editable": final,
        "editable_fields": "" if final else "\u001e",
        "cannot_cancel_order": final,
        "deactivate_order": False,
        "sec_type": inst.asset_class,
        "available_chart_periods": "#R|1",
        "order_description": desc,
        "order_description_with_contract": describe(o, with_symbol=True),
        "alert_active": 1,
        "child_order_type": "0",
        "order_clearing_account": o.account_id,
        "size_and_fills": _size_and_fills(o),
        "exit_strategy_display_price": fmt_price(t.price or t.aux_price or Decimal(0)),
        "exit_strategy_chart_description": desc,
        "exit_strategy_tool_availability": "1",
        "allowed_duplicate_opposite": True,
        "order_time": short_time(o.created),
        "outside_rth": t.outside_rth,
        "use_price_mgmt_algo": False,
    }
    if t.price is not None:
        out["limit_price"] = fmt_price(t.price)
    if t.aux_price is not None:
        out["stop_price"] = fmt_price(t.aux_price)
    avg = o.avg_price
    if avg is not None:
        out["average_price"] = fmt_price(avg)
    return out


def trade_json(e: Execution, username: str) -> dict[str, Any]:
    inst = e.instrument
    verb = "Bought" if e.side == "BUY" else "Sold"
    what = f"{verb} {fmt_qty(e.quantity)} @ {fmt_price(e.price)} on {inst.trade_exchange}"
    row: dict[str, Any] = {
        "execution_id": e.execution_id,
        "symbol": inst.symbol,
        "supports_tax_opt": "1",
        "side": "B" if e.side == "BUY" else "S",
        "order_description": what,
        "trade_time": datetime.fromtimestamp(e.time, UTC).strftime("%Y%m%d-%H:%M:%S"),
        "trade_time_r": int(e.time * 1000),
        "size": float(e.quantity),
        "price": fmt_price(e.price),
        "submitter": username,
        "exchange": inst.trade_exchange,
        "commission": f"{e.commission:.2f}",
        "net_amount": float(e.quantity * e.price),
        "account": e.account_id,
        "accountCode": e.account_id,
        "account_allocation_name": e.account_id,
        "company_name": inst.name,
        "contract_description_1": inst.symbol,
        "sec_type": inst.asset_class,
        "listing_exchange": inst.listing_exchange,
        "conid": inst.conid,
        "conidEx": str(inst.conid),
        "clearing_id": "IB",
        "clearing_name": "IB",
        "liquidation_trade": "0",
        "is_event_trading": "0",
    }
    if e.order_ref is not None:
        row["order_ref"] = e.order_ref
    return row


def tif_text(tif: str) -> str:
    return DISPLAY_TIF[tif]
