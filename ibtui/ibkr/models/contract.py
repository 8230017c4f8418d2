"""Contracts: symbol search and contract details (API.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Self

from ibtui.ibkr.models._parse import Obj, as_list, from_yyyymmdd, guarded


@dataclass(frozen=True, slots=True)
class ContractSearchResult:
    """One listing from ``/iserver/secdef/search`` (IBKR sends ``conid`` as a string here).

    ``exchange`` is the primary exchange (IBKR's ``description``); ``sec_types`` lists the
    derivative sections (``STK``, ``OPT``, ``WAR``...); ``option_expiries`` the ``opt`` dates.
    """

    conid: int
    symbol: str
    company_name: str | None
    company_header: str | None
    exchange: str | None
    sec_types: tuple[str, ...]
    option_months: tuple[str, ...]
    option_expiries: tuple[str, ...]
    restricted: str | None

    @property
    def label(self) -> str:
        """``AAPL  APPLE INC - NASDAQ``-style line for a picker."""
        return f"{self.symbol}  {self.company_header or self.company_name or ''}".rstrip()

    @classmethod
    @guarded("contract search result")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "contract search result")
        sec_types: list[str] = []
        months: tuple[str, ...] = ()
        for i, item in enumerate(o.opt_items("sections")):
            section = Obj(item, f"contract search section {i}")
            sec_type = section.text("secType")
            if sec_type is not None:
                sec_types.append(sec_type)
            if sec_type == "OPT":
                months = tuple(m for m in (section.text("months") or "").split(";") if m)
        opt = o.text("opt") or ""
        return cls(
            conid=o.req_int("conid"),
            symbol=o.opt_str("symbol") or "",
            company_name=o.text("companyName"),
            company_header=o.text("companyHeader"),
            exchange=o.text("description"),
            sec_types=tuple(sec_types),
            option_months=months,
            option_expiries=tuple(d for d in opt.split(";") if d),
            restricted=o.text("restricted"),
        )


@guarded("contract search")
def parse_contract_search(data: object) -> tuple[ContractSearchResult, ...]:
    """``/iserver/secdef/search`` → listings, US listing usually first.

    Bond-issuer elements (no ``conid``) are skipped. An unknown symbol may come back as ``[]`` or
    as ``{"error": ...}`` with status 200 (API.md §4.1 ⚠): both give ``()``.
    """
    if isinstance(data, dict) and "error" in data and "conid" not in data:
        return ()
    out: list[ContractSearchResult] = []
    for item in as_list(data, "contract search"):
        if isinstance(item, dict) and item.get("conid") is None and "issuers" in item:
            continue
        out.append(ContractSearchResult.from_json(item))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class ContractInfo:
    """``GET /iserver/contract/{conid}/info``: what the order ticket needs to know.

    ``rth`` is IBKR's ``r_t_h`` flag as sent; ``right`` is ``CALL``/``PUT`` for options.
    """

    conid: int
    symbol: str
    company_name: str | None
    sec_type: str | None
    exchange: str | None
    valid_exchanges: tuple[str, ...]
    currency: str | None
    local_symbol: str | None
    trading_class: str | None
    multiplier: Decimal | None
    industry: str | None
    category: str | None
    expiry: date | None
    contract_month: str | None
    strike: Decimal | None
    right: str | None
    underlying_conid: int | None
    text: str | None
    rth: bool | None
    smart_available: bool | None

    @classmethod
    @guarded("contract info")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "contract info")
        exchanges = o.text("valid_exchanges") or ""
        expiry_key = o.first("expiry_full", "maturity_date")
        und = o.opt_int("underlying_con_id")
        multiplier = o.opt_decimal("multiplier")
        strike = o.opt_decimal("strike")
        return cls(
            conid=o.req_int("con_id"),
            symbol=o.opt_str("symbol") or "",
            company_name=o.text("company_name"),
            sec_type=o.text("instrument_type"),
            exchange=o.text("exchange"),
            valid_exchanges=tuple(e for e in exchanges.split(",") if e),
            currency=o.text("currency"),
            local_symbol=o.text("local_symbol"),
            trading_class=o.text("trading_class"),
            multiplier=multiplier if multiplier else None,
            industry=o.text("industry"),
            category=o.text("category"),
            expiry=None if expiry_key is None else from_yyyymmdd(o.raw(expiry_key), "expiry"),
            contract_month=o.text("contract_month"),
            strike=strike if strike else None,
            right=o.text("right"),
            underlying_conid=und if und else None,
            text=o.text("text"),
            rth=o.opt_flag("r_t_h"),
            smart_available=o.opt_flag("smart_available"),
        )
