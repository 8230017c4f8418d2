"""Market-data formatting: snapshot field values (all strings), contract descriptions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ibtui.sim.market import Quote
from ibtui.sim.universe import Instrument
from ibtui.sim.valuation import PositionValue

__all__ = ["contract_info", "fmt_volume", "search_result", "snapshot_values"]


def fmt_volume(v: float) -> str:
    """``850``, ``12.5K``, ``850K``, ``41.8M``, ``1.25B``."""
    if v < 1_000:
        return str(int(v))
    if v < 1_000_000:
        k = v / 1_000
        return f"{k:.0f}K" if k >= 100 else f"{k:.1f}K"
    if v < 1_000_000_000:
        return f"{v / 1_000_000:.1f}M"
    return f"{v / 1_000_000_000:.2f}B"


def _size(shares: int) -> str:
    return f"{shares // 100:,}"


def _signed(x: Decimal) -> str:
    return f"{x:.2f}"


# Per conid, the latest formatting of the parts of a quote that seldom change between two steps
# (the instrument's, the day's, the last price's, a held position's), keyed by what they were made
# from (by value: another simulator, a halt or a fill makes them afresh). A step is formatted for
# every streamed frame and snapshot row, and most of its fields are the step before's.
_Memo = dict[int, tuple[tuple[object, ...], dict[str, str]]]
_STATIC: _Memo = {}
_DAY: _Memo = {}
_LAST: _Memo = {}
_HELD: _Memo = {}


def _memo(memo: _Memo, conid: int, key: tuple[object, ...]) -> dict[str, str] | None:
    got = memo.get(conid)
    return got[1] if got is not None and got[0] == key else None


def snapshot_values(
    inst: Instrument,
    q: Quote,
    availability: str,
    server_id: str,
    position: PositionValue | None,
) -> dict[str, str]:
    """Every field the simulator can fill for this quote, keyed by field id."""
    conid = inst.conid
    t, d = q.tick, q.day
    made: tuple[object, ...] = (inst,)
    static = _memo(_STATIC, conid, made)
    if static is None:
        static = {
            "55": inst.symbol,
            "6008": str(inst.conid),
            "6070": inst.asset_class,
            "6004": inst.exchange,
            "7221": inst.listing_exchange,
            "7051": inst.name,
            "7282": fmt_volume(inst.adv),
        }
        _STATIC[conid] = (made, static)
    made = (d.high, d.low, d.open, d.prior_close)
    day = _memo(_DAY, conid, made)
    if day is None:
        day = {
            "70": f"{d.high:.2f}",
            "71": f"{d.low:.2f}",
            "7295": f"{d.open:.2f}",
            "7741": f"{d.prior_close:.2f}",
        }
        _DAY[conid] = (made, day)
    prefix = "H" if q.halted else ("" if q.in_rth else "C")
    made = (t.last, d.prior_close, prefix)
    last = _memo(_LAST, conid, made)
    if last is None:
        change = t.last - d.prior_close
        pct = change / d.prior_close * 100 if d.prior_close else Decimal(0)
        price = f"{t.last:.2f}"
        last = {"31": prefix + price, "7296": price, "82": _signed(change), "83": _signed(pct)}
        _LAST[conid] = (made, last)
    values = {
        "31": last["31"],
        "55": static["55"],
        "70": day["70"],
        "71": day["71"],
        "82": last["82"],
        "83": last["83"],
        "84": f"{t.bid:.2f}",
        "85": _size(t.ask_size),
        "86": f"{t.ask:.2f}",
        "88": _size(t.bid_size),
        "87": fmt_volume(d.volume),
        "7762": str(d.volume),
        "7059": str(t.last_size),
        "7295": day["7295"],
        "7296": last["7296"],
        "7741": day["7741"],
        "7635": last["7296"],
        "6509": availability,
        "6119": server_id,
        "6008": static["6008"],
        "6070": static["6070"],
        "6004": static["6004"],
        "7221": static["7221"],
        "7051": static["7051"],
        "7184": "0" if q.halted else "1",
        "7768": "1",
        "7282": static["7282"],
    }
    if position is not None:
        pos = position.position
        made = (pos.quantity, pos.avg_cost, pos.realized)
        held = _memo(_HELD, conid, made)
        if held is None:
            from ibtui.sim.orders import fmt_qty  # ibtui.sim.orders: imported by the first order

            cost = abs(pos.quantity * pos.avg_cost)
            held = {
                "74": f"{pos.avg_cost:.2f}",
                "76": fmt_qty(pos.quantity),
                "79": f"{pos.realized:.2f}",
                "7921": f"{cost:.2f}",
            }
            _HELD[conid] = (made, held)
        cost = pos.quantity * pos.avg_cost
        daily = f"{position.daily:.2f}"
        values.update(
            {
                "73": f"{position.market_value:.2f}",
                "74": held["74"],
                "75": f"{position.unrealized:.2f}",
                "76": held["76"],
                "77": f"{position.unrealized:,.2f}",
                "78": daily,
                "79": held["79"],
                "80": f"{position.unrealized / abs(cost) * 100:.2f}" if cost else "0.00",
                "7920": daily,
                "7921": held["7921"],
                "7292": held["7921"],
            }
        )
    return values


def _expiries(today: date, n: int = 6) -> list[date]:
    """Third Fridays of the next ``n`` months."""
    out: list[date] = []
    y, m = today.year, today.month
    while len(out) < n:
        first = date(y, m, 1)
        friday = first + timedelta(days=(4 - first.weekday()) % 7 + 14)
        if friday >= today:
            out.append(friday)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def search_result(inst: Instrument, today: date) -> dict[str, Any]:
    sections: list[dict[str, Any]] = [{"secType": "STK"}]
    opt = None
    if inst.is_us:
        exp = _expiries(today)
        opt = ";".join(d.strftime("%Y%m%d") for d in exp)
        months = ";".join(d.strftime("%b%y").upper() for d in exp)
        sections.append({"secType": "OPT", "months": months, "exchange": "SMART;AMEX;CBOE;ISE"})
        sections.append({"secType": "BAG"})
    return {
        "conid": str(inst.conid),
        "companyHeader": f"{inst.name} - {inst.exchange}",
        "companyName": inst.name,
        "symbol": inst.symbol,
        "description": inst.exchange,
        "restricted": None,
        "fop": None,
        "opt": opt,
        "war": None,
        "sections": sections,
    }


def contract_info(inst: Instrument) -> dict[str, Any]:
    us = "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,IEX,EDGX,MEMX"
    return {
        "cfi_code": "",
        "symbol": inst.symbol,
        "cusip": None,
        "expiry_full": None,
        "con_id": inst.conid,
        "maturity_date": None,
        "industry": inst.group or "",
        "instrument_type": inst.asset_class,
        "trading_class": ("NMS" if inst.exchange == "NASDAQ" else inst.symbol)
        if inst.is_us
        else "XETRA",
        "valid_exchanges": us if inst.is_us else f"SMART,{inst.exchange}",
        "allow_sell_long": False,
        "is_zero_commission_security": False,
        "local_symbol": inst.symbol,
        "contract_clarification_type": None,
        "classifier": None,
        "currency": inst.currency,
        "text": None,
        "underlying_con_id": 0,
        "r_t_h": True,
        "multiplier": None,
        "underlying_issuer": None,
        "contract_month": None,
        "company_name": inst.name,
        "smart_available": True,
        "exchange": "SMART",
        "category": inst.group or "",
    }
