"""The trading screens' :class:`~ibtui.tui.trading.Trader`, implemented over the order service
(``ibtui.trading``): drafts, checks, previews, submissions, orders and trades converted between the
screens' view-models and the service's types. The one place both sides meet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

from ibtui.config import OrderSettings
from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.models import OrderType, Side
from ibtui.ibkr.models.enums import OrderState
from ibtui.ibkr.models.enums import TimeInForce as WireTif
from ibtui.ibkr.models.order_views import LiveOrder, Trade
from ibtui.trading import safety
from ibtui.trading.draft import MarketQuote, TicketType
from ibtui.trading.draft import OrderDraft as TradingDraft
from ibtui.trading.journal import Journal
from ibtui.trading.service import CancelStatus, OrderService, Preview, Question, SubmitOutcome
from ibtui.trading.service import SubmitStatus as ServiceStatus
from ibtui.tui.trading import (
    Ask,
    CancelAllResult,
    FieldProblem,
    OrderDraft,
    OrderKind,
    OrderSide,
    OrderView,
    PrecautionView,
    PreviewView,
    QuestionView,
    SubmitResult,
    SubmitStatus,
    TicketCheck,
    TimeInForce,
    TradeView,
)
from ibtui.tui.viewmodels import QuoteView

__all__ = ["CancelFailed", "ClientTrader", "order_view", "trade_view"]

_KIND = {
    OrderKind.MARKET: TicketType.MKT,
    OrderKind.LIMIT: TicketType.LMT,
    OrderKind.STOP: TicketType.STP,
    OrderKind.STOP_LIMIT: TicketType.STP_LMT,
}
# the service's field names -> the ticket's
_FIELDS = {
    "quantity": "quantity",
    "limit_price": "limit",
    "stop_price": "stop",
    "order_type": "kind",
    "side": "side",
}
_STATUS = {
    ServiceStatus.ACCEPTED: SubmitStatus.ACCEPTED,
    ServiceStatus.REJECTED: SubmitStatus.REJECTED,
    ServiceStatus.CANCELLED: SubmitStatus.DECLINED,
    ServiceStatus.UNKNOWN: SubmitStatus.UNKNOWN,
    ServiceStatus.BUSY: SubmitStatus.BUSY,
    ServiceStatus.NOT_SENT: SubmitStatus.NOT_SENT,
}
_WIRE_TO_KIND_TEXT = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
}
_TIF = {TimeInForce.DAY: WireTif.DAY, TimeInForce.GTC: WireTif.GTC, TimeInForce.IOC: WireTif.IOC}


def trading_draft(draft: OrderDraft, *, is_paper: bool) -> TradingDraft:
    return TradingDraft(
        account_id=draft.account_id,
        conid=draft.conid,
        symbol=draft.symbol,
        side=Side(draft.side.value),
        quantity=draft.quantity,
        order_type=_KIND[draft.kind],
        limit_price=draft.limit_price if draft.kind.needs_limit else None,
        stop_price=draft.stop_price if draft.kind.needs_stop else None,
        tif=_TIF[draft.tif],
        outside_rth=draft.outside_rth,
        is_paper=is_paper,
        currency=draft.currency,
    )


def market_quote(quote: QuoteView | None) -> MarketQuote | None:
    if quote is None:
        return None
    return MarketQuote(last=quote.last, bid=quote.bid, ask=quote.ask)


def _money(value: Decimal | None, currency: str | None, *, signed: bool = False) -> str | None:
    if value is None:
        return None
    text = f"{value:+,.2f}" if signed else f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def preview_from_service(preview: Preview) -> PreviewView:
    c = preview.currency
    return PreviewView(
        commission=_money(preview.commission, c),
        amount=_money(preview.amount, c),
        initial_margin_change=_money(preview.initial_margin_change, c, signed=True),
        maintenance_margin_change=_money(preview.maintenance_margin_change, c, signed=True),
        equity_after=_money(preview.equity_after, c),
        warning=preview.warning,
        error=preview.error,
    )


def submit_result(outcome: SubmitOutcome) -> SubmitResult:
    return SubmitResult(
        _STATUS[outcome.status], outcome.message, order_id=outcome.order_id, coid=outcome.coid
    )


def _epoch(order_time: object) -> float | None:
    timestamp = getattr(order_time, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else None


def order_view(order: LiveOrder, account_id: str = "") -> OrderView:
    kind = (
        _WIRE_TO_KIND_TEXT.get(order.order_type, order.order_type.value)
        if order.order_type is not None
        else (order.order_type_text or "?")
    )
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
        side=OrderSide(order.side.value),
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
    return TradeView(
        execution_id=trade.execution_id,
        symbol=trade.symbol or (str(trade.conid) if trade.conid is not None else "?"),
        side=OrderSide(trade.side.value),
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
    says whether an account is a paper account (None: unknown, treated as LIVE).
    """

    def __init__(
        self,
        client: Callable[[], Awaitable[IbkrClient]],
        journal: Journal,
        settings: OrderSettings,
        *,
        is_paper: Callable[[str], bool | None],
        reconcile_delays: Sequence[float] | None = None,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._on_change = on_change
        self.journal = journal
        self.settings = settings
        self._is_paper = is_paper
        self._delays = reconcile_delays
        self._services: dict[str, OrderService] = {}
        self._filled: dict[int, Decimal] = {}  # filled quantity per order id, as last seen
        self._lock = asyncio.Lock()

    def _paper(self, account_id: str) -> bool:
        return self._is_paper(account_id) is True

    async def service(self, account_id: str) -> OrderService:
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
    def check(self, draft: OrderDraft, quote: QuoteView | None) -> TicketCheck:
        checked = safety.check(
            trading_draft(draft, is_paper=self._paper(draft.account_id)),
            market_quote(quote),
            self.settings,
        )
        return TicketCheck(
            tuple(FieldProblem(_FIELDS.get(e.field, "kind"), e.message) for e in checked.errors),
            tuple(PrecautionView(p.message, p.blocking) for p in checked.precautions),
        )

    async def preview(self, draft: OrderDraft) -> PreviewView:
        service = await self.service(draft.account_id)
        paper = self._paper(draft.account_id)
        return preview_from_service(await service.preview(trading_draft(draft, is_paper=paper)))

    async def submit(
        self,
        draft: OrderDraft,
        ask: Ask,
        *,
        confirmation: str | None = None,
        quote: QuoteView | None = None,
    ) -> SubmitResult:
        service = await self.service(draft.account_id)

        async def answer(question: Question) -> bool:
            return await ask(QuestionView(question.text, question.message_id))

        outcome = await service.submit(
            trading_draft(draft, is_paper=self._paper(draft.account_id)),
            answer,
            market=market_quote(quote),
            confirmation=confirmation,
        )
        self._changed(draft.account_id, outcome)
        return submit_result(outcome)

    def _changed(self, account_id: str, outcome: SubmitOutcome | None = None) -> None:
        """Positions may have moved (an order was placed, changed or cancelled)."""
        if self._on_change is not None and (outcome is None or outcome.accepted):
            self._on_change(account_id)

    async def orders(self, account_id: str) -> Sequence[OrderView]:
        service = await self.service(account_id)
        views = [order_view(o, account_id) for o in await service.orders()]
        filled = {v.order_id: v.filled for v in views if v.filled}
        if any(self._filled.get(oid) != qty for oid, qty in filled.items()):
            self._changed(account_id)  # a fill moved the positions
        self._filled.update(filled)
        return views

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
    ) -> SubmitResult:
        service = await self.service(order.account_id)

        async def answer(question: Question) -> bool:
            return await ask(QuestionView(question.text, question.message_id))

        outcome = await service.modify(
            order.order_id,
            answer=answer,
            quantity=quantity,
            limit_price=limit_price,
            stop_price=stop_price,
        )
        self._changed(order.account_id, outcome)
        return submit_result(outcome)

    async def cancel_all(self, account_id: str) -> CancelAllResult:
        result = await (await self.service(account_id)).cancel_all()
        return CancelAllResult(
            requested=result.requested, failed=tuple(o.message for o in result.failed)
        )


class CancelFailed(Exception):
    """IBKR did not take a cancel request; the message says why."""
