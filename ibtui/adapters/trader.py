"""The trading screens' :class:`~ibtui.tui.trading.Trader`, implemented over the order service
(``ibtui.trading``): checks, previews, submissions, orders and trades, IBKR's answers turned into
the screens' view-models. The one place both sides meet.

The console makes its trader at start, before the first positions: the order service, the order
models and the screens' view-models are imported when first used, not here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from ibtui.ibkr.models import OrderState, OrderType
from ibtui.trading.draft import MarketQuote, OrderDraft, TicketType
from ibtui.trading.outcomes import CancelStatus, Preview, Question, SubmitOutcome
from ibtui.tui.viewmodels import QuoteView

if TYPE_CHECKING:
    from ibtui.ibkr.client import IbkrClient
    from ibtui.ibkr.models.order_views import LiveOrder, Trade
    from ibtui.trading.journal import Journal
    from ibtui.trading.safety import Check
    from ibtui.trading.service import OrderService
    from ibtui.trading.settings import OrderSettings
    from ibtui.tui.trading import Ask, CancelAllResult, OrderView, PreviewView, TradeView

__all__ = ["CancelFailed", "ClientTrader", "order_view", "trade_view"]


def market_quote(quote: QuoteView | None) -> MarketQuote | None:
    if quote is None:
        return None
    return MarketQuote(last=quote.last, bid=quote.bid, ask=quote.ask)


def _money(value: Decimal | None, currency: str | None, *, signed: bool = False) -> str | None:
    if value is None:
        return None
    text = f"{value:+,.2f}" if signed else f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def preview_from_service(preview: Preview, account_currency: str | None = None) -> PreviewView:
    """The what-if as the ticket shows it. The order's cost and commission are in the order's
    currency; margin and equity are the account's figures, in its base currency
    (``account_currency``; left unlabelled when it is not known)."""
    from ibtui.tui.trading import PreviewView

    c = preview.currency
    base = account_currency
    return PreviewView(
        commission=_money(preview.commission, c),
        amount=_money(preview.amount, c),
        initial_margin_change=_money(preview.initial_margin_change, base, signed=True),
        maintenance_margin_change=_money(preview.maintenance_margin_change, base, signed=True),
        equity_after=_money(preview.equity_after, base),
        warning=preview.warning,
        error=preview.error,
    )


def _epoch(order_time: object) -> float | None:
    timestamp = getattr(order_time, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else None


def order_view(order: LiveOrder, account_id: str = "") -> OrderView:
    from ibtui.tui.trading import OrderView

    ticket_type = TicketType.from_wire(order.order_type)
    if ticket_type is not None:
        kind = ticket_type.value
    elif order.order_type is not None:
        kind = order.order_type.value
    else:
        kind = order.order_type_text or "?"
    stop: Decimal | None
    limit: Decimal | None
    if order.order_type is OrderType.STOP:
        limit, stop = None, order.price if order.aux_price is None else order.aux_price
    elif order.order_type is OrderType.STOP_LIMIT:
        limit, stop = order.price, order.aux_price
    else:
        limit, stop = order.price, None
    return OrderView(
        order_id=order.order_id,
        account_id=order.account or account_id,
        conid=order.conid,
        symbol=order.symbol or str(order.conid),
        side=order.side,
        kind=kind,
        quantity=order.total_size,
        filled=order.filled,
        remaining=order.remaining,
        status=order.status.value
        if order.status is not OrderState.UNKNOWN
        else (order.status_text or "Unknown"),
        working=order.status.is_working,
        limit_price=limit,
        stop_price=stop,
        avg_price=order.avg_price,
        tif=order.tif,
        updated_at=_epoch(order.updated),
        coid=order.order_ref,
    )


def trade_view(trade: Trade) -> TradeView:
    from ibtui.tui.trading import TradeView

    return TradeView(
        execution_id=trade.execution_id,
        symbol=trade.symbol or (str(trade.conid) if trade.conid is not None else "?"),
        side=trade.side,
        quantity=trade.quantity,
        price=trade.price,
        time=_epoch(trade.time),
        commission=trade.commission,
        order_ref=trade.order_ref,
        account_id=trade.account,
    )


class ClientTrader:
    """:class:`~ibtui.tui.trading.Trader` over one :class:`OrderService` per account.

    ``client`` gives the connected client (opening the connection when needed); ``is_paper``
    says whether an account is a paper account (None: unknown, treated as LIVE);
    ``base_currency`` gives an account's base currency (the previews' margin and equity are in it).
    """

    def __init__(
        self,
        client: Callable[[], Awaitable[IbkrClient]],
        journal: Journal,
        settings: OrderSettings,
        *,
        is_paper: Callable[[str], bool | None],
        base_currency: Callable[[str], str | None] | None = None,
        reconcile_delays: Sequence[float] | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._on_change = on_change
        self.journal = journal
        self.settings = settings
        self._is_paper = is_paper
        self._base_currency = base_currency
        self._delays = reconcile_delays
        self._services: dict[str, OrderService] = {}
        self._filled: dict[int, Decimal] = {}  # filled quantity per order id, as last seen
        self._placed_ids: set[int] = set()  # orders sent from here (their fills are news)
        self._placed_coids: set[str] = set()
        self._lock = asyncio.Lock()

    def _as_known(self, draft: OrderDraft) -> OrderDraft:
        """The draft with its account's kind as the broker knows it (unknown: LIVE)."""
        return dataclasses.replace(draft, is_paper=self._is_paper(draft.account_id) is True)

    async def service(self, account_id: str) -> OrderService:
        from ibtui.trading.service import OrderService

        async with self._lock:
            service = self._services.get(account_id)
            if service is None:
                client = await self._client()
                kwargs = {} if self._delays is None else {"reconcile_delays": self._delays}
                service = OrderService(
                    client,
                    account_id,
                    self.journal,
                    self.settings,
                    is_paper=self._is_paper(account_id),
                    **kwargs,  # type: ignore[arg-type]
                )
                self._services[account_id] = service
            return service

    # --- Trader ------------------------------------------------------------------------------
    def check(self, draft: OrderDraft, quote: QuoteView | None) -> Check:
        from ibtui.trading.safety import check

        return check(self._as_known(draft), market_quote(quote), self.settings)

    async def preview(self, draft: OrderDraft) -> PreviewView:
        service = await self.service(draft.account_id)
        base = self._base_currency(draft.account_id) if self._base_currency else None
        return preview_from_service(await service.preview(self._as_known(draft)), base)

    async def submit(
        self,
        draft: OrderDraft,
        ask: Ask,
        *,
        confirmation: str | None = None,
        quote: QuoteView | None = None,
    ) -> SubmitOutcome:
        service = await self.service(draft.account_id)

        answer = _answer(ask)
        outcome = await service.submit(
            self._as_known(draft), answer, market=market_quote(quote), confirmation=confirmation
        )
        if outcome.order_id is not None:
            self._placed_ids.add(outcome.order_id)
        if outcome.coid:  # also an unknown outcome, found later by its cOID
            self._placed_coids.add(outcome.coid)
        self._changed(draft.account_id, outcome)
        return outcome

    def _changed(self, account_id: str, outcome: SubmitOutcome | None = None) -> None:
        """Positions may have moved (an order was placed, changed or cancelled)."""
        if self._on_change is not None and (outcome is None or outcome.accepted):
            self._on_change(account_id)

    async def orders(self, account_id: str) -> Sequence[OrderView]:
        service = await self.service(account_id)
        views = [self._marked(order_view(o, account_id)) for o in await service.orders()]
        filled = {v.order_id: v.filled for v in views if v.filled}
        if any(self._filled.get(oid) != qty for oid, qty in filled.items()):
            self._changed(account_id)  # a fill moved the positions
        self._filled.update(filled)
        return views

    def pushed_order(self, order: LiveOrder) -> OrderView:
        """An order the stream pushed, as :meth:`orders` lists it (marked when sent from here;
        a new fill has the positions read afresh)."""
        view = self._marked(order_view(order))
        if view.filled and self._filled.get(view.order_id) != view.filled:
            self._filled[view.order_id] = view.filled
            self._changed(view.account_id)
        return view

    def _marked(self, view: OrderView) -> OrderView:
        if view.order_id in self._placed_ids or (view.coid and view.coid in self._placed_coids):
            return dataclasses.replace(view, placed_here=True)
        return view

    async def trades(self, account_id: str) -> Sequence[TradeView]:
        service = await self.service(account_id)
        return [trade_view(t) for t in await service.trades() if t.account in (None, account_id)]

    async def cancel(self, account_id: str, order_id: int) -> str:
        outcome = await (await self.service(account_id)).cancel(order_id)
        if outcome.status is CancelStatus.REQUESTED:
            return outcome.message
        raise CancelFailed(outcome.message)

    async def modify(
        self,
        order: OrderView,
        *,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        ask: Ask,
    ) -> SubmitOutcome:
        service = await self.service(order.account_id)

        answer = _answer(ask)
        outcome = await service.modify(
            order.order_id,
            answer=answer,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
        )
        self._changed(order.account_id, outcome)
        return outcome

    async def cancel_all(self, account_id: str) -> CancelAllResult:
        from ibtui.tui.trading import CancelAllResult

        result = await (await self.service(account_id)).cancel_all()
        return CancelAllResult(
            requested=result.requested, failed=tuple(o.message for o in result.failed)
        )


def _answer(ask: Ask) -> Callable[[Question], Awaitable[bool]]:
    """The service's question, asked through the screens' question view."""
    from ibtui.tui.trading import QuestionView

    async def answer(question: Question) -> bool:
        return await ask(QuestionView(question.text, question.message_id))

    return answer


class CancelFailed(Exception):
    """IBKR did not take a cancel request; the message says why."""
