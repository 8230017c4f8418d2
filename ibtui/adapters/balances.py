"""IBKR's account summary, ledger and partitioned P&L as the console's
:class:`~ibtui.tui.balances.BalancesView` (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from ibtui.tui.balances import BalancesView, CashBalance

if TYPE_CHECKING:  # the models are imported when the balances are first read
    from ibtui.ibkr.models import AccountSummary, LedgerEntry, PnlRow

__all__ = ["balances_view"]

_BASE = "BASE"


def _first(*values: Decimal | None) -> Decimal | None:
    return next((value for value in values if value is not None), None)


def balances_view(
    account_id: str,
    base_currency: str | None,
    summary: AccountSummary,
    ledger: Mapping[str, LedgerEntry],
    pnl: Mapping[str, PnlRow],
) -> BalancesView:
    """One account's figures: the summary's where it has them, the ledger's ``BASE`` roll-up
    and the partitioned P&L's row for the rest. The day's P&L is the partitioned P&L's only
    (its first answer of a session is often empty: None until the next)."""
    base = ledger.get(_BASE)
    row = pnl.get(account_id)
    cash = tuple(
        CashBalance(
            entry.currency,
            entry.cash_balance,
            None if entry.exchange_rate is None else entry.cash_balance * entry.exchange_rate,
        )
        for currency, entry in sorted(ledger.items())
        if currency != _BASE and entry.cash_balance is not None
    )
    return BalancesView(
        account_id=account_id,
        currency=summary.currency or base_currency or "",
        net_liquidation=_first(
            summary.net_liquidation,
            row.net_liquidation if row else None,
            base.net_liquidation if base else None,
        ),
        total_cash=_first(summary.total_cash, base.cash_balance if base else None),
        cash=cash,
        buying_power=summary.buying_power,
        available_funds=summary.available_funds,
        excess_liquidity=_first(summary.excess_liquidity, row.excess_liquidity if row else None),
        init_margin=summary.init_margin,
        maint_margin=summary.maint_margin,
        sma=summary.sma,
        gross_position_value=summary.gross_position_value,
        market_value=_first(
            row.market_value if row else None, base.stock_market_value if base else None
        ),
        daily_pnl=row.daily_pnl if row else None,
        unrealized_pnl=_first(
            row.unrealized_pnl if row else None, base.unrealized_pnl if base else None
        ),
        realized_pnl=base.realized_pnl if base else None,
    )
