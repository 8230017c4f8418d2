"""Opening order tickets (:func:`~ibtui.tui.tickets.ticket_for` builds them): for the position
under the positions screen's cursor, and for an instrument a chart, search or watchlist screen
asks for (:class:`~ibtui.tui.market.TicketRequested`), in the instrument's currency: a held
position's, else IBKR's contract details', looked up in the app's worker."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from textual.screen import Screen

from ibtui.tui.controllers import exclusive
from ibtui.tui.market import MarketDataError, TicketRequested
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.tickets import ticket_for

if TYPE_CHECKING:
    from ibtui.trading import SubmitOutcome
    from ibtui.tui.app import IbtuiApp

__all__ = ["TicketFlow"]


class TicketFlow:
    """``app``'s order tickets; a sent order is notified (:meth:`done`)."""

    def __init__(self, app: IbtuiApp) -> None:
        self.app = app

    def for_position(self, screen: Screen[object], side: str) -> None:
        """An order ticket for the position under the cursor: ``BUY``, ``SELL`` or ``CLOSE``
        (the side and quantity that close the position), when ``screen`` is the positions screen."""
        app = self.app
        if app.trader is None or not isinstance(screen, PositionsScreen):
            return
        view = screen.selected_position()
        if view is None:
            app.notify("No position selected.", severity="warning", markup=False)
            return
        if view.closed and side == "CLOSE":
            app.notify(f"{view.symbol} was closed today: nothing left to close.", markup=False)
            return
        ticket = ticket_for(
            app.trader,
            screen.account,
            conid=view.conid,
            symbol=view.symbol,
            description=view.description,
            side=side,
            held=view,
            quote=screen.quotes.get(view.conid),
            last=view.last,
            cursor_blink=app.cursor_blink,
            watchlist=app.watchlist,
        )
        app.push_screen(ticket, self.done)

    def requested(self, message: TicketRequested) -> None:
        """An order ticket for an instrument on the chart, search or watchlist screen, in the
        instrument's currency: a held position's, else IBKR's contract details'."""
        app = self.app
        if app.trader is None or app.session.account is None:
            app.notify(
                "Trading is not available in this session.", severity="warning", markup=False
            )
            return
        if app.market is not None and not app.session.held(message.conid):
            work = partial(self._ticket_in_its_currency, message)
            exclusive(app, work, "ticket_in_its_currency", "ticket-currency", exit_on_error=False)
        else:
            self._open_ticket(message, None)

    async def _ticket_in_its_currency(self, message: TicketRequested) -> None:
        market = self.app.market
        assert market is not None
        try:
            currency = await asyncio.wait_for(market.currency(message.conid), 10.0)
        except (MarketDataError, TimeoutError) as exc:
            currency = None
            self.app.notify(
                f"The currency of {message.symbol} is not known ({exc or 'no answer'}); the "
                "ticket shows amounts without it. The preview shows IBKR's.",
                severity="warning",
                timeout=6,
                markup=False,
            )
        self._open_ticket(message, currency or "")

    def _open_ticket(self, message: TicketRequested, currency: str | None) -> None:
        app = self.app
        if app.trader is None or app.session.account is None:
            return
        held = app.session.held(message.conid)
        ticket = ticket_for(
            app.trader,
            app.session.account,
            conid=message.conid,
            symbol=message.symbol,
            description=message.description,
            side=message.side,
            held=held[0] if held else None,
            quote=message.quote,
            currency=currency,
            cursor_blink=app.cursor_blink,
            watchlist=app.watchlist,
        )
        app.push_screen(ticket, self.done)

    def done(self, result: SubmitOutcome | None) -> None:
        if result is not None:
            self.app.notify(result.message, title="Order sent", timeout=8, markup=False)
