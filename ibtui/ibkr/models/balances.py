"""An account's summary, ledger and PnL (API.md §3.3).

Apart from the accounts (:mod:`ibtui.ibkr.models.account`): the first positions need none of
them (the ledger only for positions in another currency than the account's), so they are
imported when first used (through :mod:`ibtui.ibkr.models`), not at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Self

from ibtui.ibkr.models._parse import Obj, fail, from_epoch_s, guarded

__all__ = ["AccountSummary", "LedgerEntry", "PnlRow", "SummaryValue", "parse_ledger", "parse_pnl"]


@dataclass(frozen=True, slots=True)
class SummaryValue:
    """One metric of the account summary: ``amount`` for numbers, ``text`` for textual ones."""

    amount: Decimal | None
    currency: str | None
    text: str | None
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """``GET /portfolio/{acct}/summary``: the metrics ibtui shows, plus every key in ``values``.

    Money is Decimal in ``currency``; a metric IBKR left out (or flagged ``isNull``) is None.
    """

    account_id: str | None
    currency: str | None
    net_liquidation: Decimal | None
    available_funds: Decimal | None
    buying_power: Decimal | None
    excess_liquidity: Decimal | None
    init_margin: Decimal | None
    maint_margin: Decimal | None
    total_cash: Decimal | None
    gross_position_value: Decimal | None
    equity_with_loan: Decimal | None
    accrued_cash: Decimal | None
    sma: Decimal | None
    cushion: Decimal | None
    day_trades_remaining: Decimal | None
    updated: datetime | None
    values: Mapping[str, SummaryValue]

    @classmethod
    @guarded("account summary")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "account summary")
        values: dict[str, SummaryValue] = {}
        for key, name in o.named_keys():
            entry = o.req_obj(key)
            is_null = entry.flag("isNull")
            values[name] = SummaryValue(
                amount=None if is_null else entry.opt_decimal("amount"),
                currency=entry.text("currency"),
                text=None if is_null else entry.text("value"),
                timestamp=entry.ms("timestamp"),
            )

        def amount(key: str) -> Decimal | None:
            value = values.get(key)
            return value.amount if value else None

        stamps = [v.timestamp for v in values.values() if v.timestamp is not None]
        code = values.get("accountcode")
        currency = next(
            (values[k].currency for k in ("netliquidation", "totalcashvalue") if k in values),
            None,
        )
        return cls(
            account_id=code.text if code else None,
            currency=currency,
            net_liquidation=amount("netliquidation"),
            available_funds=amount("availablefunds"),
            buying_power=amount("buyingpower"),
            excess_liquidity=amount("excessliquidity"),
            init_margin=amount("initmarginreq"),
            maint_margin=amount("maintmarginreq"),
            total_cash=amount("totalcashvalue"),
            gross_position_value=amount("grosspositionvalue"),
            equity_with_loan=amount("equitywithloanvalue"),
            accrued_cash=amount("accruedcash"),
            sma=amount("sma"),
            cushion=amount("cushion"),
            day_trades_remaining=amount("daytradesremaining"),
            updated=max(stamps) if stamps else None,
            values=values,
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """Cash and values in one currency from ``GET /portfolio/{acct}/ledger`` (``BASE`` = roll-up).

    ``timestamp`` is epoch **seconds** on the wire (unlike everything else).
    """

    currency: str
    cash_balance: Decimal | None
    settled_cash: Decimal | None
    net_liquidation: Decimal | None
    stock_market_value: Decimal | None
    option_market_value: Decimal | None
    future_market_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    exchange_rate: Decimal | None
    interest: Decimal | None
    dividends: Decimal | None
    timestamp: datetime | None

    @classmethod
    @guarded("ledger entry")
    def from_json(cls, data: object, currency: str | None = None) -> Self:
        o = Obj(data, "ledger entry")
        name = o.text("currency") or o.text("secondkey") or currency
        if name is None:
            raise fail("ledger entry has no 'currency'")
        return cls(
            currency=name,
            cash_balance=o.opt_decimal("cashbalance"),
            settled_cash=o.opt_decimal("settledcash"),
            net_liquidation=o.opt_decimal("netliquidationvalue"),
            stock_market_value=o.opt_decimal("stockmarketvalue"),
            option_market_value=o.opt_decimal("stockoptionmarketvalue"),
            future_market_value=o.opt_decimal("futuremarketvalue"),
            unrealized_pnl=o.opt_decimal("unrealizedpnl"),
            realized_pnl=o.opt_decimal("realizedpnl"),
            exchange_rate=o.opt_decimal("exchangerate"),
            interest=o.opt_decimal("interest"),
            dividends=o.opt_decimal("dividends"),
            timestamp=from_epoch_s(o.raw("timestamp"), "ledger entry 'timestamp'"),
        )


@guarded("ledger")
def parse_ledger(data: object) -> dict[str, LedgerEntry]:
    """``GET /portfolio/{acct}/ledger`` → entries keyed by currency (``"USD"``, ``"BASE"``...)."""
    o = Obj(data, "ledger")
    return {name: LedgerEntry.from_json(o.raw(key), currency=name) for key, name in o.named_keys()}


@dataclass(frozen=True, slots=True)
class PnlRow:
    """One account's row of ``/iserver/account/pnl/partitioned`` (or the WebSocket ``spl``)."""

    account_id: str
    key: str
    daily_pnl: Decimal | None
    unrealized_pnl: Decimal | None
    net_liquidation: Decimal | None
    excess_liquidity: Decimal | None
    market_value: Decimal | None
    row_type: int | None

    @classmethod
    @guarded("pnl row")
    def from_json(cls, data: object, key: str) -> Self:
        o = Obj(data, f"pnl row {key[:40]!r}")
        return cls(
            account_id=key.split(".", 1)[0],
            key=key,
            daily_pnl=o.opt_decimal("dpl"),
            unrealized_pnl=o.opt_decimal("upl"),
            net_liquidation=o.opt_decimal("nl"),
            excess_liquidity=o.opt_decimal("el") if o.has("el") else o.opt_decimal("uel"),
            market_value=o.opt_decimal("mv"),
            row_type=o.opt_int("rowType"),
        )


@guarded("pnl")
def parse_pnl(data: object) -> dict[str, PnlRow]:
    """``{"upnl": {"DU1.Core": {...}}}`` (or the bare ``spl`` args) → rows keyed by account id.

    The first call of a session often answers ``{"upnl": {}}``: that is an empty dict, not an
    error.
    """
    o = Obj(data, "pnl")
    rows = o.req_obj("upnl") if o.has("upnl") else o
    out: dict[str, PnlRow] = {}
    for key, name in rows.named_keys():
        row = PnlRow.from_json(rows.raw(key), name)
        out[row.account_id] = row
    return out
