"""Order tickets (parsed from IBKR's JSON), working orders, executions and their descriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ibtui.sim.universe import Instrument, Universe

__all__ = [
    "FINAL",
    "WORKING",
    "Execution",
    "Order",
    "Ticket",
    "TicketError",
    "describe",
    "fmt_price",
    "fmt_qty",
    "parse_ticket",
]

WORKING = frozenset({"PreSubmitted", "Submitted", "PendingCancel"})
FINAL = frozenset({"Filled", "Cancelled", "Inactive"})
_TYPES = {"MKT": "MKT", "LMT": "LMT", "STP": "STP", "STOP_LIMIT": "STOP_LIMIT"}
_MISSPELT = {"STP_LIMIT", "STPLMT", "STP LMT", "STOPLIMIT"}
_UNSUPPORTED = {"MIDPRICE", "TRAIL", "TRAILLMT", "REL", "MOC", "LOC"}
_TIFS = {"DAY", "GTC", "IOC"}
DISPLAY_TYPE = {"MKT": "Market", "LMT": "Limit", "STP": "Stop", "STOP_LIMIT": "Stop Limit"}
ORIG_TYPE = {"MKT": "MARKET", "LMT": "LIMIT", "STP": "STOP", "STOP_LIMIT": "STOP_LIMIT"}
DISPLAY_TIF = {"DAY": "Day", "GTC": "GTC", "IOC": "IOC"}


class TicketError(ValueError):
    """The order request is not acceptable; the message is what the client is told."""


@dataclass(frozen=True)
class Ticket:
    instrument: Instrument
    side: str  # BUY | SELL
    order_type: str
    quantity: Decimal
    price: Decimal | None  # limit price (LMT, STOP_LIMIT)
    aux_price: Decimal | None  # stop trigger (STP, STOP_LIMIT)
    tif: str
    outside_rth: bool
    coid: str | None
    parent_coid: str | None
    single_group: bool

    @property
    def signed(self) -> Decimal:
        return self.quantity if self.side == "BUY" else -self.quantity


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool):
        raise TicketError(f"Invalid {name}: {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise TicketError(f"Invalid {name}: {value!r}") from None
    if not d.is_finite():
        raise TicketError(f"Invalid {name}: {value!r}")
    return d


def _conid(obj: dict[str, Any]) -> int:
    has_conid, has_ex = obj.get("conid") is not None, obj.get("conidex") is not None
    if has_conid and has_ex:
        raise TicketError("Specify either conid or conidex, not both")
    raw = obj.get("conid") if has_conid else str(obj.get("conidex") or "").split("@")[0]
    if raw in (None, ""):
        raise TicketError("Missing conid")
    try:
        return int(str(raw))
    except ValueError:
        raise TicketError(f"Invalid conid: {raw!r}") from None


def parse_ticket(obj: Any, universe: Universe) -> Ticket:
    if not isinstance(obj, dict):
        raise TicketError("Invalid order: expected an object")
    conid = _conid(obj)
    inst = universe.get(conid)
    if inst is None:
        raise TicketError(f"Invalid contract id: {conid}")
    side = str(obj.get("side", "")).upper()
    if side not in ("BUY", "SELL"):
        raise TicketError(f"Invalid side: {obj.get('side')!r}")
    raw_type = str(obj.get("orderType", "")).upper()
    if raw_type in _MISSPELT:
        raise TicketError(f"Invalid order type {obj.get('orderType')!r}: use STOP_LIMIT")
    if raw_type in _UNSUPPORTED:
        raise TicketError(f"Order type {raw_type} is not supported by this server")
    if raw_type not in _TYPES:
        raise TicketError(f"Invalid order type: {obj.get('orderType')!r}")
    quantity = _decimal(obj.get("quantity"), "quantity")
    if quantity <= 0:
        raise TicketError("Order quantity must be positive")
    price = _decimal(obj["price"], "price") if obj.get("price") is not None else None
    aux = _decimal(obj["auxPrice"], "auxPrice") if obj.get("auxPrice") is not None else None
    if raw_type == "STP" and aux is None:
        aux, price = price, None  # IBKR's bracket example sends the stop trigger as "price"
    if raw_type in ("LMT", "STOP_LIMIT") and price is None:
        raise TicketError(f"{DISPLAY_TYPE[raw_type]} order requires a price")
    if raw_type in ("STP", "STOP_LIMIT") and aux is None:
        raise TicketError("Stop order requires a stop price (auxPrice)")
    for p in (price, aux):
        if p is not None and (p <= 0 or p % inst.tick != 0):
            raise TicketError(
                "The price does not conform to the minimum price variation for this contract."
            )
    tif = str(obj.get("tif", "DAY")).upper()
    if tif not in _TIFS:
        raise TicketError(f"Invalid time in force: {obj.get('tif')!r}")
    if raw_type == "MKT" and bool(obj.get("outsideRTH", False)):
        raise TicketError("Market orders cannot be executed outside regular trading hours")
    coid = obj.get("cOID")
    parent = obj.get("parentId")
    return Ticket(
        instrument=inst,
        side=side,
        order_type=raw_type,
        quantity=quantity,
        price=price,
        aux_price=aux,
        tif=tif,
        outside_rth=bool(obj.get("outsideRTH", False)),
        coid=str(coid) if coid not in (None, "") else None,
        parent_coid=str(parent) if parent not in (None, "") else None,
        single_group=bool(obj.get("isSingleGroup", False)),
    )


@dataclass
class Order:
    order_id: int
    account_id: str
    ticket: Ticket
    created: float
    status: str = "Submitted"
    filled: Decimal = Decimal(0)
    fill_value: Decimal = Decimal(0)
    triggered: bool = False
    active: bool = True  # bracket children wait for their parent's fill
    parent_id: int | None = None
    oca_group: str | None = None
    expires_at: float | None = None
    cancel_at: float | None = None
    checked_until: float = 0.0
    last_change: float = 0.0
    last_execution: float | None = None
    session_tag: str = ""  # the brokerage session that placed it
    children: list[int] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.ticket.quantity - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        return self.fill_value / self.filled if self.filled else None

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def instrument(self) -> Instrument:
        return self.ticket.instrument


@dataclass(frozen=True)
class Execution:
    execution_id: str
    order_id: int
    account_id: str
    instrument: Instrument
    side: str  # BUY | SELL
    quantity: Decimal
    price: Decimal
    commission: Decimal
    time: float
    order_ref: str | None

    @property
    def signed(self) -> Decimal:
        return self.quantity if self.side == "BUY" else -self.quantity


def fmt_qty(q: Decimal) -> str:
    """``10``, ``1,000``, ``0.5`` — as IBKR writes quantities in text."""
    if q == q.to_integral_value():
        return f"{int(q):,}"
    return f"{q.normalize():,f}"


def fmt_price(p: Decimal) -> str:
    return f"{p:.2f}"


def describe(order: Order, *, with_symbol: bool = False) -> str:
    """``Buy 10 Limit 221.50, Day`` while working; ``Bought 10 @ 221.48`` once filled."""
    t = order.ticket
    sym = f" {t.instrument.symbol}" if with_symbol else ""
    avg = order.avg_price
    if order.status == "Filled" and avg is not None:
        verb = "Bought" if t.side == "BUY" else "Sold"
        return f"{verb} {fmt_qty(order.filled)}{sym} @ {fmt_price(avg)}"
    verb = "Buy" if t.side == "BUY" else "Sell"
    prices = ""
    if t.order_type == "LMT" and t.price is not None:
        prices = f" {fmt_price(t.price)}"
    elif t.order_type == "STP" and t.aux_price is not None:
        prices = f" {fmt_price(t.aux_price)}"
    elif t.order_type == "STOP_LIMIT" and t.price is not None and t.aux_price is not None:
        prices = f" {fmt_price(t.price)}, Stop {fmt_price(t.aux_price)}"
    kind = DISPLAY_TYPE[t.order_type]
    return f"{verb} {fmt_qty(t.quantity)}{sym} {kind}{prices}, {DISPLAY_TIF[t.tif]}"
