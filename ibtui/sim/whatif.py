"""``/orders/whatif``: the effect of one order on equity, margin and position, as formatted text."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ibtui.sim.market import Tick
from ibtui.sim.orders import Ticket, fmt_qty
from ibtui.sim.portfolio import ZERO, commission
from ibtui.sim.valuation import INIT_LONG, INIT_SHORT, MAINT_FACTOR, AccountValue

__all__ = ["NO_DATA_WARNING", "whatif_json"]

NO_DATA_WARNING = (
    "21/You are trying to submit an order without having market data for this instrument. "
    "IB strongly recommends against this kind of blind trading which may result in erroneous "
    "or unexpected trades."
)


def _whole(x: Decimal) -> str:
    return f"{x.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def _fee(x: Decimal) -> str:
    return f"{x:.0f}" if x == x.to_integral_value() else f"{x:.2f}"


def _margin(long_v: Decimal, short_v: Decimal) -> Decimal:
    return long_v * INIT_LONG + short_v * INIT_SHORT


def whatif_json(t: Ticket, value: AccountValue, tick: Tick, has_data: bool) -> dict[str, Any]:
    inst = t.instrument
    if t.order_type in ("LMT", "STOP_LIMIT") and t.price is not None:
        price = t.price
    elif t.order_type == "STP" and t.aux_price is not None:
        price = t.aux_price
    else:
        price = tick.ask if t.side == "BUY" else tick.bid
    gross = t.quantity * price
    fee = commission(inst.currency, t.quantity, price)
    total = gross + fee if t.side == "BUY" else gross - fee
    rate = next(
        (pv.rate for pv in value.positions if pv.instrument.conid == inst.conid),
        value.currencies[inst.currency].rate if inst.currency in value.currencies else Decimal(1),
    )
    current = next(
        (pv.position.quantity for pv in value.positions if pv.instrument.conid == inst.conid), ZERO
    )
    after = current + t.signed
    mark = tick.last * rate

    def split(q: Decimal) -> tuple[Decimal, Decimal]:
        return (q * mark, ZERO) if q >= 0 else (ZERO, -q * mark)

    cur_l, cur_s = split(current)
    new_l, new_s = split(after)
    init_now = value.init_margin
    init_after = init_now + _margin(new_l, new_s) - _margin(cur_l, cur_s)
    maint_now = value.maint_margin
    maint_after = init_after * MAINT_FACTOR
    equity = value.net_liquidation
    fee_base = fee * rate
    shares = "Share" if t.quantity == 1 else "Shares"
    return {
        "amount": {
            "amount": f"{gross:,.2f} {inst.currency} ({fmt_qty(t.quantity)} {shares})",
            "commission": f"{_fee(fee)} {inst.currency}",
            "total": f"{total:,.2f} {inst.currency}",
        },
        "equity": {
            "current": _whole(equity),
            "change": _whole(-fee_base),
            "after": _whole(equity - fee_base),
        },
        "initial": {
            "current": _whole(init_now),
            "change": _whole(init_after - init_now),
            "after": _whole(init_after),
        },
        "maintenance": {
            "current": _whole(maint_now),
            "change": _whole(maint_after - maint_now),
            "after": _whole(maint_after),
        },
        "position": {
            "current": fmt_qty(current),
            "change": fmt_qty(t.signed),
            "after": fmt_qty(after),
        },
        "warn": None if has_data else NO_DATA_WARNING,
        "error": None,
    }
