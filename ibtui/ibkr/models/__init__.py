"""Typed models of IBKR's answers: the only shapes the rest of ibtui sees.

Every parser takes decoded JSON (``object``) and returns frozen dataclasses with clean types:
money and prices as :class:`~decimal.Decimal`, ids as ``int``, sides as :class:`Side`, times as
aware UTC datetimes, absent values as None (never 0). Malformed input raises
:class:`ibtui.ibkr.errors.ProtocolError` and nothing else.

The order models (``orders``, ``order_views``), the summary, ledger and PnL (``balances``), the
contracts (``contract``) and the historical bars (``history``) are imported when one of their
names is first used: a session that has not touched them yet (the console up to its first
positions) does not pay for their dataclasses.
"""

from typing import TYPE_CHECKING

from ibtui.ibkr.models._parse import JsonValue, decode_body
from ibtui.ibkr.models.account import (
    Account,
    AccountSwitch,
    IserverAccounts,
    merge_accounts,
    parse_portfolio_accounts,
)
from ibtui.ibkr.models.enums import DataAvailability, OrderState, OrderType, Side, TimeInForce
from ibtui.ibkr.models.market import (
    QUOTE_FIELDS,
    Quote,
    parse_percent,
    parse_price,
    parse_snapshot,
    parse_volume,
)
from ibtui.ibkr.models.position import POSITIONS_PAGE_SIZE, Position, parse_positions
from ibtui.ibkr.models.session import AuthStatus, Tickle
from ibtui.lazy import lazy_names

if TYPE_CHECKING:
    from ibtui.ibkr.models.balances import (
        AccountSummary,
        LedgerEntry,
        PnlRow,
        SummaryValue,
        parse_ledger,
        parse_pnl,
    )
    from ibtui.ibkr.models.contract import (
        ContractInfo,
        ContractSearchResult,
        parse_contract_search,
    )
    from ibtui.ibkr.models.history import History, HistoryBar
    from ibtui.ibkr.models.order_views import (
        DisplayAmount,
        LiveOrder,
        LiveOrders,
        OrderStatus,
        Trade,
        WhatIf,
        WhatIfChange,
        parse_trades,
    )
    from ibtui.ibkr.models.orders import (
        SUPPORTED_ORDER_TYPES,
        Accepted,
        CancelResult,
        ModifyResult,
        OrderAck,
        OrderError,
        OrderRequest,
        PlaceResult,
        ReplyRequired,
        ServerPrompt,
        make_coid,
        order_body,
        parse_cancel_result,
        parse_modify_result,
        parse_place_result,
        plain_text,
    )

__all__ = [
    "POSITIONS_PAGE_SIZE",
    "QUOTE_FIELDS",
    "SUPPORTED_ORDER_TYPES",
    "Accepted",
    "Account",
    "AccountSummary",
    "AccountSwitch",
    "AuthStatus",
    "CancelResult",
    "ContractInfo",
    "ContractSearchResult",
    "DataAvailability",
    "DisplayAmount",
    "History",
    "HistoryBar",
    "IserverAccounts",
    "JsonValue",
    "LedgerEntry",
    "LiveOrder",
    "LiveOrders",
    "ModifyResult",
    "OrderAck",
    "OrderError",
    "OrderRequest",
    "OrderState",
    "OrderStatus",
    "OrderType",
    "PlaceResult",
    "PnlRow",
    "Position",
    "Quote",
    "ReplyRequired",
    "ServerPrompt",
    "Side",
    "SummaryValue",
    "Tickle",
    "TimeInForce",
    "Trade",
    "WhatIf",
    "WhatIfChange",
    "decode_body",
    "make_coid",
    "merge_accounts",
    "order_body",
    "parse_cancel_result",
    "parse_contract_search",
    "parse_ledger",
    "parse_modify_result",
    "parse_percent",
    "parse_place_result",
    "parse_pnl",
    "parse_portfolio_accounts",
    "parse_positions",
    "parse_price",
    "parse_snapshot",
    "parse_trades",
    "parse_volume",
    "plain_text",
]

# Where each lazily imported name lives (the TYPE_CHECKING imports above, for the type checker).
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "AccountSummary",
            "LedgerEntry",
            "PnlRow",
            "SummaryValue",
            "parse_ledger",
            "parse_pnl",
        ),
        "ibtui.ibkr.models.balances",
    ),
    **dict.fromkeys(
        ("ContractInfo", "ContractSearchResult", "parse_contract_search"),
        "ibtui.ibkr.models.contract",
    ),
    **dict.fromkeys(("History", "HistoryBar"), "ibtui.ibkr.models.history"),
    **dict.fromkeys(
        (
            "DisplayAmount",
            "LiveOrder",
            "LiveOrders",
            "OrderStatus",
            "Trade",
            "WhatIf",
            "WhatIfChange",
            "parse_trades",
        ),
        "ibtui.ibkr.models.order_views",
    ),
    **dict.fromkeys(
        (
            "SUPPORTED_ORDER_TYPES",
            "Accepted",
            "CancelResult",
            "ModifyResult",
            "OrderAck",
            "OrderError",
            "OrderRequest",
            "PlaceResult",
            "ReplyRequired",
            "ServerPrompt",
            "make_coid",
            "order_body",
            "parse_cancel_result",
            "parse_modify_result",
            "parse_place_result",
            "plain_text",
        ),
        "ibtui.ibkr.models.orders",
    ),
}

if not TYPE_CHECKING:
    __getattr__ = lazy_names(__name__, _LAZY)
