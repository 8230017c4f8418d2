"""The order ticket a key or a screen asks for, prefilled the one way the console does it.

From a position (``b``, ``s``, ``x`` on the positions) or an instrument on the chart, search or
watchlist screens: a ticket whose side closes the position held opens with its quantity (``CLOSE``
is that side), a limit order at the last price, in the position's currency (else the one given).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView

if TYPE_CHECKING:
    from ibtui.tui.market import Watchlist
    from ibtui.tui.screens.ticket import TicketScreen
    from ibtui.tui.trading import Trader

__all__ = ["ticket_for"]


def ticket_for(
    trader: Trader,
    account: AccountView,
    *,
    conid: int,
    symbol: str,
    description: str,
    side: str,
    held: PositionView | None,
    quote: QuoteView | None,
    last: Decimal | None = None,
    currency: str | None = None,
    cursor_blink: bool = True,
    watchlist: Watchlist | None = None,
) -> TicketScreen:
    """A ticket to ``side`` (``BUY``, ``SELL``, or ``CLOSE`` the position ``held``) ``conid``.

    The limit price is the quote's last, else ``last``; the currency is the held position's,
    else ``currency`` (``""``: not known), else USD. A position closed today (quantity 0) holds
    nothing to close. ``watchlist`` keeps the instrument quoted while the ticket is open."""
    from ibtui.trading import Side, TicketType
    from ibtui.tui.screens.ticket import TicketScreen

    if held is not None and held.closed:
        held = None  # closed today: its row stays for the day's P&L, but nothing is held
    closing = None if held is None else Side.SELL if held.quantity > 0 else Side.BUY
    if side == "CLOSE" and closing is None:
        raise ValueError(f"no position in {symbol} to close")
    chosen = closing if side == "CLOSE" and closing is not None else Side(side)
    return TicketScreen(
        trader,
        account,
        conid=conid,
        symbol=symbol,
        description=description,
        side=chosen,
        quantity=abs(held.quantity) if held is not None and chosen is closing else None,
        kind=TicketType.LMT,
        limit_price=quote.last if quote is not None else last,
        currency=held.currency if held is not None else currency if currency is not None else "USD",
        quote=quote,
        cursor_blink=cursor_blink,
        watchlist=watchlist,
    )
