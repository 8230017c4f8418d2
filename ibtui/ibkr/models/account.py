"""Accounts (API.md §2, §3.3). The summary, ledger and PnL models are in
:mod:`ibtui.ibkr.models.balances`, imported when first used."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Self

from ibtui.ibkr.models._parse import Obj, as_list, fail, guarded

PSEUDO_ACCOUNT_ALL = "All"


def _is_paper(account_id: str, account_type: str | None = None) -> bool:
    return account_id.upper().startswith("DU") or (account_type or "").upper() == "DEMO"


@dataclass(frozen=True, slots=True)
class Account:
    """One trading account. ``paper`` is true for ``DU…`` ids and ``type`` DEMO.

    ``alias`` is the name the trader gave the account, None when it has none (IBKR repeats the id
    as alias). ``currency`` is the base currency (None when only ``/iserver/accounts`` knew it).
    """

    id: str
    alias: str | None
    currency: str | None
    paper: bool
    display_name: str | None = None
    title: str | None = None
    type: str | None = None
    trading_type: str | None = None
    clearing_status: str | None = None
    opened: datetime | None = None

    @property
    def label(self) -> str:
        """``alias (id)`` or just the id."""
        return f"{self.alias} ({self.id})" if self.alias else self.id

    @classmethod
    @guarded("account")
    def from_json(cls, data: object) -> Self:
        """One element of ``GET /portfolio/accounts``."""
        o = Obj(data, "account")
        key = o.first("id", "accountId")
        if key is None:
            raise fail("account has no 'id'")
        account_id = o.req_str(key)
        alias = o.text("accountAlias")
        account_type = o.text("type")
        return cls(
            id=account_id,
            alias=alias if alias != account_id else None,
            currency=o.text("currency"),
            paper=_is_paper(account_id, account_type),
            display_name=o.text("displayName"),
            title=o.text("accountTitle"),
            type=account_type,
            trading_type=o.text("tradingType"),
            clearing_status=o.text("clearingStatus"),
            opened=o.ms("accountStatus"),
        )


@guarded("portfolio accounts")
def parse_portfolio_accounts(data: object) -> tuple[Account, ...]:
    """``GET /portfolio/accounts`` → accounts in IBKR's order."""
    return tuple(Account.from_json(item) for item in as_list(data, "portfolio accounts"))


@dataclass(frozen=True, slots=True)
class IserverAccounts:
    """``GET /iserver/accounts`` (also the WebSocket ``act`` topic).

    ``accounts`` excludes the ``All`` pseudo-account of advisors (``has_all`` tells whether it
    was there). ``aliases`` maps id → alias as IBKR sends it.
    """

    accounts: tuple[str, ...]
    aliases: Mapping[str, str]
    selected_account: str | None
    is_paper: bool | None
    has_all: bool
    supports_fractions: Mapping[str, bool]
    session_id: str | None

    @classmethod
    @guarded("iserver accounts")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "iserver accounts")
        ids = o.str_list("accounts")
        aliases_obj = o.opt_obj("aliases")
        aliases: dict[str, str] = {}
        if aliases_obj is not None:
            for key, account_id in aliases_obj.named_keys():
                alias = aliases_obj.text(key)
                if alias is not None:
                    aliases[account_id] = alias
        props = o.opt_obj("acctProps")
        fractions: dict[str, bool] = {}
        if props is not None:
            for key, account_id in props.named_keys():
                fractions[account_id] = props.req_obj(key).flag("supportsFractions")
        return cls(
            accounts=tuple(i for i in ids if i != PSEUDO_ACCOUNT_ALL),
            aliases=aliases,
            selected_account=o.text("selectedAccount"),
            is_paper=o.opt_flag("isPaper"),
            has_all=PSEUDO_ACCOUNT_ALL in ids,
            supports_fractions=fractions,
            session_id=o.text("sessionId"),
        )


def merge_accounts(
    portfolio: Sequence[Account], iserver: IserverAccounts | None
) -> tuple[Account, ...]:
    """Accounts of ``/portfolio/accounts`` with aliases from ``/iserver/accounts``.

    Accounts only ``/iserver/accounts`` lists are appended (currency unknown); ``All`` never is.
    """
    if iserver is None:
        return tuple(portfolio)
    merged: list[Account] = []
    for account in portfolio:
        alias = account.alias or iserver.aliases.get(account.id)
        merged.append(replace(account, alias=alias if alias != account.id else None))
    known = {a.id for a in portfolio}
    for account_id in iserver.accounts:
        if account_id not in known:
            alias = iserver.aliases.get(account_id)
            merged.append(
                Account(
                    id=account_id,
                    alias=alias if alias != account_id else None,
                    currency=None,
                    paper=_is_paper(account_id) or bool(iserver.is_paper),
                )
            )
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class AccountSwitch:
    """``POST /iserver/account`` → ``{"set": true, "acctId": "..."}``."""

    set: bool
    account_id: str

    @classmethod
    @guarded("account switch")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "account switch")
        return cls(set=o.flag("set"), account_id=o.req_str("acctId"))
