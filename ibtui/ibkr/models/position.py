"""Portfolio positions: ``GET /portfolio/{acct}/positions/{page}`` (API.md §3.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Self

from ibtui.ibkr.models._parse import Obj, as_list, from_yyyymmdd, guarded

POSITIONS_PAGE_SIZE = 100
"""IBKR pages positions by 100; a shorter page is the last one."""


@dataclass(frozen=True, slots=True)
class Position:
    """One position as ibtui shows it. Money and prices are Decimal in ``currency``.

    ``quantity`` is negative for a short. ``avg_cost`` includes the multiplier (an option bought
    at 1.12 has avg_cost 112), ``avg_price`` does not. ``multiplier`` is None for stocks (IBKR
    sends 0), ``strike`` None unless the contract has one. ``symbol`` is the ticker, ``description``
    the readable contract name (``"MSFT Nov15'24 400 Put"``), ``contract_desc`` IBKR's full text.
    """

    account: str
    conid: int
    symbol: str
    description: str
    contract_desc: str | None
    name: str | None
    asset_class: str | None
    quantity: Decimal
    market_price: Decimal | None
    market_value: Decimal | None
    avg_cost: Decimal | None
    avg_price: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    currency: str | None
    multiplier: Decimal | None
    expiry: date | None
    put_or_call: str | None
    strike: Decimal | None
    underlying_conid: int | None
    listing_exchange: str | None
    sector: str | None
    security_type: str | None

    @property
    def is_short(self) -> bool:
        return self.quantity < 0

    @classmethod
    @guarded("position")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "position")
        contract_desc = o.text("contractDesc")
        ticker = o.text("ticker")
        conid = o.req_int("conid")
        symbol = ticker or contract_desc or str(conid)
        multiplier = o.opt_decimal("multiplier")
        strike = o.opt_decimal("strike")
        und = o.opt_int("undConid")
        expiry_key = o.first("expiry", "lastTradingDay")
        return cls(
            account=o.req_str("acctId"),
            conid=conid,
            symbol=symbol,
            description=o.text("fullName") or contract_desc or symbol,
            contract_desc=contract_desc,
            name=o.html_text("name"),
            asset_class=o.text("assetClass"),
            quantity=o.req_decimal("position"),
            market_price=o.opt_decimal("mktPrice"),
            market_value=o.opt_decimal("mktValue"),
            avg_cost=o.opt_decimal("avgCost"),
            avg_price=o.opt_decimal("avgPrice"),
            unrealized_pnl=o.opt_decimal("unrealizedPnl"),
            realized_pnl=o.opt_decimal("realizedPnl"),
            currency=o.text("currency"),
            multiplier=multiplier if multiplier else None,
            expiry=None if expiry_key is None else from_yyyymmdd(o.raw(expiry_key), "expiry"),
            put_or_call=o.text("putOrCall"),
            strike=strike if strike else None,
            underlying_conid=und if und else None,
            listing_exchange=o.text("listingExchange"),
            sector=o.text("sector"),
            security_type=o.text("type"),
        )


@guarded("positions")
def parse_positions(data: object) -> tuple[Position, ...]:
    """One page of positions; ``[]`` (a page past the end) is ``()``."""
    return tuple(Position.from_json(item) for item in as_list(data, "positions"))
