"""The client's models as the console's view-models (pure functions, no I/O).

Used by the :class:`~ibtui.tui.protocols.Broker` adapter over ``IbkrClient``. Exchange rates come
from the account ledger (``exchangerate`` per currency, base currency per unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from ibtui.ibkr.models import Account, Position, Quote
from ibtui.slots import constructor as fast_constructor
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView

if TYPE_CHECKING:  # the ledger's model is imported when a ledger is first read
    from ibtui.ibkr.models import LedgerEntry

__all__ = ["account_view", "fx_rates", "position_view", "quote_view"]

_ONE = Decimal(1)


def account_view(account: Account) -> AccountView:
    return AccountView(
        account_id=account.id,
        alias=account.alias,
        account_type=account.type,
        base_currency=account.currency,
        paper=account.paper,
        title=account.title or account.display_name,
    )


def fx_rates(ledger: Mapping[str, LedgerEntry]) -> dict[str, Decimal]:
    """Base-currency value of one unit of each ledger currency (the ``BASE`` roll-up excluded)."""
    return {
        currency: entry.exchange_rate
        for currency, entry in ledger.items()
        if currency != "BASE" and entry.exchange_rate is not None and entry.exchange_rate > 0
    }


def position_view(
    position: Position, base_currency: str | None, rates: Mapping[str, Decimal] | None = None
) -> PositionView:
    """A position row; its price is the positions endpoint's (``price_at`` None: not live)."""
    currency = position.currency or base_currency or ""
    multiplier = position.multiplier or _ONE
    avg = position.avg_price
    if avg is None and position.avg_cost is not None:
        avg = position.avg_cost / multiplier
    if currency == base_currency:
        rate: Decimal | None = _ONE
    else:
        rate = (rates or {}).get(currency)
    return PositionView(
        account_id=position.account,
        conid=position.conid,
        symbol=position.symbol,
        quantity=position.quantity,
        currency=currency,
        description=position.description
        if position.description != position.symbol
        else (position.name or position.description),
        asset_class=position.asset_class or "",
        last=position.market_price,
        market_value=position.market_value,
        avg_cost=avg,
        unrealized_pnl=position.unrealized_pnl,
        realized_pnl=position.realized_pnl,
        multiplier=multiplier,
        fx_rate=rate,
    )


def quote_view(quote: Quote, received_at: float | None = None) -> QuoteView:
    """A snapshot row received at ``received_at``; a warm-up row (no values yet) has ``last``
    None."""
    updated = quote.updated
    return _new_quote_view(  # every field, in QuoteView's order
        quote.conid,
        quote.last,
        quote.change,
        quote.change_pct,
        received_at,
        quote.is_close,
        quote.halted,
        quote.bid,
        quote.ask,
        quote.volume,
        updated.timestamp() if updated is not None else None,
        quote.daily_pnl,
    )


# a poll makes one per quote: the frozen class's __init__ would cost twice as much
_new_quote_view = fast_constructor(QuoteView)
