"""JSON shapes of positions, ledger, summary and P&L, all rendered from one AccountValue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ibtui.sim.portfolio import ZERO, cents
from ibtui.sim.valuation import AccountValue, CurrencyValue, PositionValue

__all__ = ["ledger_json", "pnl_row", "position_json", "summary_json"]

_US_EXCHANGES = "AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,ISLAND,DRCTEDGE,BEX,BATS,EDGEA,IEX,EDGX,MEMX"


def _f(x: Decimal) -> float:
    return float(x)


def position_json(pv: PositionValue, base_currency: str, elapsed_ms: int) -> dict[str, Any]:
    pos, inst = pv.position, pv.instrument
    row: dict[str, Any] = {
        "acctId": "",
        "conid": inst.conid,
        "contractDesc": inst.symbol,
        "position": _f(pos.quantity),
        "mktPrice": _f(pv.mark),
        "mktValue": _f(pv.market_value),
        "currency": pos.currency,
        "avgCost": round(_f(pos.avg_cost), 6),
        "avgPrice": round(_f(pos.avg_cost), 6),
        "realizedPnl": _f(cents(pos.realized)),
        "unrealizedPnl": _f(pv.unrealized),
        "exchs": None,
        "expiry": None,
        "putOrCall": None,
        "multiplier": 0.0,
        "strike": "0",
        "exerciseStyle": None,
        "conExchMap": [],
        "assetClass": inst.asset_class,
        "undConid": 0,
        "model": "",
        "incrementRules": [{"lowerEdge": 0.0, "increment": 0.01}],
        "displayRule": {
            "magnification": 0,
            "displayRuleStep": [{"decimalDigits": 2, "lowerEdge": 0.0, "wholeDigits": 4}],
        },
        "time": elapsed_ms,
        "chineseName": inst.chinese_name,
        "allExchanges": _US_EXCHANGES if inst.is_us else inst.exchange,
        "listingExchange": inst.exchange,
        "countryCode": "US" if inst.is_us else ("NL" if inst.exchange == "AEB" else "DE"),
        "name": inst.name,
        "lastTradingDay": None,
        "group": inst.group,
        "sector": inst.sector,
        "sectorGroup": inst.group,
        "ticker": inst.symbol,
        "type": inst.type,
        "hasOptions": inst.is_us,
        "fullName": inst.symbol,
        "isUS": inst.is_us,
        "isEventContract": False,
        "pageSize": 100,
    }
    if pos.currency != base_currency:
        r = pv.rate
        row.update(
            {
                "baseMktValue": _f(cents(pv.market_value * r)),
                "baseMktPrice": round(_f(pv.mark * r), 8),
                "baseAvgCost": round(_f(pos.avg_cost * r), 6),
                "baseAvgPrice": round(_f(pos.avg_cost * r), 6),
                "baseRealizedPnl": _f(cents(pos.realized * r)),
                "baseUnrealizedPnl": _f(cents(pv.unrealized * r)),
            }
        )
    return row


_LEDGER_ZERO_KEYS = (
    "commoditymarketvalue",
    "futuremarketvalue",
    "corporatebondsmarketvalue",
    "warrantsmarketvalue",
    "moneyfunds",
    "funds",
    "issueroptionsmarketvalue",
    "stockoptionmarketvalue",
    "futuresonlypnl",
    "tbondsmarketvalue",
    "futureoptionmarketvalue",
    "cashbalancefxsegment",
    "tbillsmarketvalue",
    "dividends",
    "cryptocurrencyvalue",
    "interest",
)


def _ledger_entry(acct: str, c: CurrencyValue, ts: int) -> dict[str, Any]:
    entry: dict[str, Any] = {k: 0.0 for k in _LEDGER_ZERO_KEYS}
    entry.update(
        {
            "acctcode": acct,
            "currency": c.currency,
            "secondkey": c.currency,
            "key": "LedgerList",
            "cashbalance": _f(c.cash),
            "settledcash": _f(c.cash),
            "netliquidationvalue": _f(c.net_liquidation),
            "stockmarketvalue": _f(c.stock_value),
            "unrealizedpnl": _f(c.unrealized),
            "realizedpnl": _f(c.realized),
            "exchangerate": 1 if c.rate == 1 else _f(c.rate),
            "sessionid": 1,
            "severity": 0,
            "timestamp": ts,
        }
    )
    return entry


def ledger_json(v: AccountValue) -> dict[str, Any]:
    acct = v.account.account_id
    ts = int(v.time)
    out: dict[str, Any] = {}
    for ccy, c in v.currencies.items():
        out[ccy] = _ledger_entry(acct, c, ts)
    out[v.account.base_currency]["endofbundle"] = 1
    out["BASE"] = _ledger_entry(acct, v.base, ts)
    return out


def _money(amount: Decimal, ccy: str, ts: int) -> dict[str, Any]:
    return {
        "amount": _f(amount),
        "currency": ccy,
        "isNull": False,
        "timestamp": ts,
        "value": None,
        "severity": 0,
    }


def _number(amount: float, ts: int) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": None,
        "isNull": False,
        "timestamp": ts,
        "value": None,
        "severity": 0,
    }


def _text(value: str, ts: int) -> dict[str, Any]:
    return {
        "amount": 0.0,
        "currency": None,
        "isNull": False,
        "timestamp": ts,
        "value": value,
        "severity": 0,
    }


def summary_json(v: AccountValue) -> dict[str, Any]:
    ts = int(v.time * 1000)
    ccy = v.account.base_currency
    nl = v.net_liquidation
    cash = v.base.cash
    gross = v.gross_position_value
    init, maint = v.init_margin, v.maint_margin
    avail, excess = v.available_funds, v.excess_liquidity
    regt_margin = cents(gross / 2)
    triple = {
        "netliquidation": nl,
        "totalcashvalue": cash,
        "accruedcash": ZERO,
        "accrueddividend": ZERO,
        "equitywithloanvalue": nl,
        "initmarginreq": init,
        "maintmarginreq": maint,
        "availablefunds": avail,
        "excessliquidity": excess,
        "fullinitmarginreq": init,
        "fullmaintmarginreq": maint,
        "fullavailablefunds": avail,
        "fullexcessliquidity": excess,
        "lookaheadinitmarginreq": init,
        "lookaheadmaintmarginreq": maint,
        "lookaheadavailablefunds": avail,
        "lookaheadexcessliquidity": excess,
        "availabletowithdraw": max(ZERO, min(avail, cash)),
        "billable": ZERO,
        "guarantee": ZERO,
        "indianstockhaircut": ZERO,
        "netliquidationuncertainty": ZERO,
        "pasharesvalue": ZERO,
        "physicalcertificatevalue": ZERO,
        "postexpirationexcess": ZERO,
        "postexpirationmargin": ZERO,
        "previousdayequitywithloanvalue": nl - v.daily_pnl,
        "totaldebitcardpendingcharges": ZERO,
    }
    out: dict[str, Any] = {
        "accountcode": _text(v.account.account_id, ts),
        "accountready": _text("true", ts),
        "accounttype": _text("INDIVIDUAL", ts),
        "segmenttitle-s": _text("Securities", ts),
        "segmenttitle-c": _text("Commodities", ts),
        "tradingtype-s": _text("STKNOPT", ts),
        "daytradingstatus-s": _text("", ts),
        "columnprio-s": _text("1", ts),
        "columnprio-c": _text("2", ts),
        "nlvandmargininreview": _text("false", ts),
    }
    for key, amount in triple.items():
        out[key] = _money(amount, ccy, ts)
        out[f"{key}-s"] = _money(amount, ccy, ts)
        out[f"{key}-c"] = _money(ZERO, ccy, ts)
    for key, amount in (
        ("grosspositionvalue", gross),
        ("sma", max(ZERO, nl - regt_margin)),
        ("regtequity", nl),
        ("regtmargin", regt_margin),
    ):
        out[key] = _money(amount, ccy, ts)
        out[f"{key}-s"] = _money(amount, ccy, ts)
    out["buyingpower"] = _money(v.buying_power, ccy, ts)
    out["availabletotrade"] = _money(avail, ccy, ts)
    out["depositoncredithold"] = _money(ZERO, ccy, ts)
    out["cushion"] = _number(round(float(excess / nl), 4) if nl else 0.0, ts)
    out["leverage-s"] = _number(round(float(gross / nl), 2) if nl else 0.0, ts)
    out["daytradesremaining"] = _number(-1.0, ts)
    for i in range(1, 5):
        out[f"daytradesremainingt+{i}"] = _number(-1.0, ts)
    out["highestseverity"] = _number(0.0, ts)
    out["lookaheadnextchange"] = _number(0.0, ts)
    out["whatifpmenabled"] = _text("false", ts)
    return out


def pnl_row(v: AccountValue) -> dict[str, Any]:
    return {
        "rowType": 1,
        "dpl": _f(v.daily_pnl),
        "nl": _f(v.net_liquidation),
        "upl": _f(v.base.unrealized),
        "el": _f(v.excess_liquidity),
        "mv": _f(v.base.stock_value),
    }
