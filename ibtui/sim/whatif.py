"""``/orders/whatif``: the effect of one order on equity, margin and position, as formatted text;
and IBKR's refusal of an order whose initial margin the account's equity cannot cover (the
what-if's ``error``, and the answer to placing it)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ibtui.sim.market import Tick
from ibtui.sim.orders import Ticket, fmt_qty
from ibtui.sim.portfolio import ZERO, commission
from ibtui.sim.valuation import INIT_LONG, INIT_SHORT, MAINT_FACTOR, AccountValue

__all__ = ["NO_DATA_WARNING", "margin_refusal", "whatif_json"]

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


def _money(x: Decimal, currency: str) -> str:
    return f"{x:,.2f} {currency}"


def margin_refusal(t: Ticket, value: AccountValue, tick: Tick) -> str | None:
    """IBKR's refusal when the order raises the initial margin above the equity it leaves."""
    impact = _impact(t, value, tick)
    init_after, equity_after = impact["init_after"], impact["equity_after"]
    if init_after <= value.init_margin or init_after < equity_after:
        return None
    base = value.account.base_currency
    return (
        "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH "
        f"LOAN VALUE [{_money(equity_after, base)}] MUST EXCEED THE INITIAL MARGIN "
        f"[{_money(init_after, base)}]"
    )


def whatif_json(t: Ticket, value: AccountValue, tick: Tick, has_data: bool) -> dict[str, Any]:
    inst = t.instrument
    i = _impact(t, value, tick)
    gross, fee, total = i["gross"], i["fee"], i["total"]
    init_now, init_after = value.init_margin, i["init_after"]
    maint_now, maint_after = value.maint_margin, init_after * MAINT_FACTOR
    equity, equity_after = value.net_liquidation, i["equity_after"]
    current = i["current"]
    shares = "Share" if t.quantity == 1 else "Shares"
    return {
        "amount": {
            "amount": f"{gross:,.2f} {inst.currency} ({fmt_qty(t.quantity)} {shares})",
            "commission": f"{_fee(fee)} {inst.currency}",
            "total": f"{total:,.2f} {inst.currency}",
        },
        "equity": {
            "current": _whole(equity),
            "change": _whole(equity_after - equity),
            "after": _whole(equity_after),
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
            "after": fmt_qty(current + t.signed),
        },
        "warn": None if has_data else NO_DATA_WARNING,
        "error": margin_refusal(t, value, tick),
    }


def _impact(t: Ticket, value: AccountValue, tick: Tick) -> dict[str, Decimal]:
    """The order's gross value, commission and total (its currency); the position before it;
    the initial margin and equity after it (the account's base currency)."""
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
    init_after = value.init_margin + _margin(new_l, new_s) - _margin(cur_l, cur_s)
    return {
        "gross": gross,
        "fee": fee,
        "total": total,
        "current": current,
        "init_after": init_after,
        "equity_after": value.net_liquidation - fee * rate,
    }
