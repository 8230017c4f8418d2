"""A scripted :class:`~ibtui.tui.trading.Trader` for the ticket tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ibtui.tui.trading import (
    Ask,
    CancelAllResult,
    FieldProblem,
    OrderDraft,
    OrderView,
    PrecautionView,
    PreviewView,
    QuestionView,
    SubmitResult,
    SubmitStatus,
    TicketCheck,
    TradeView,
)
from ibtui.tui.viewmodels import QuoteView


@dataclass
class FakeTrader:
    questions: list[QuestionView] = field(default_factory=list)
    outcome: SubmitResult | None = None
    precautions: tuple[PrecautionView, ...] = ()
    gate: asyncio.Event | None = None  # submit waits for it when set
    previews: list[OrderDraft] = field(default_factory=list)
    submitted: list[OrderDraft] = field(default_factory=list)
    answers: list[bool] = field(default_factory=list)
    confirmations: list[str | None] = field(default_factory=list)
    order_lists: list[list[OrderView]] = field(default_factory=list)  # one per orders() call

    def check(self, draft: OrderDraft, quote: QuoteView | None) -> TicketCheck:
        problems: list[FieldProblem] = []
        last = quote.last if quote is not None else None
        stop = draft.stop_price
        if stop is not None and last is not None and draft.side.value == "BUY" and stop <= last:
            problems.append(FieldProblem("stop", f"a buy stop must be above {last}"))
        return TicketCheck(tuple(problems), self.precautions)

    async def preview(self, draft: OrderDraft) -> PreviewView:
        self.previews.append(draft)
        return PreviewView(
            commission="1.00 USD",
            amount="2,150.00 USD",
            initial_margin_change="+537.50 USD",
            maintenance_margin_change="+488.00 USD",
            equity_after="132,080.77 USD",
        )

    async def submit(
        self,
        draft: OrderDraft,
        ask: Ask,
        *,
        confirmation: str | None = None,
        quote: QuoteView | None = None,
    ) -> SubmitResult:
        self.submitted.append(draft)
        self.confirmations.append(confirmation)
        if self.gate is not None:
            await self.gate.wait()
        for question in self.questions:
            answer = await ask(question)
            self.answers.append(answer)
            if not answer:
                return SubmitResult(SubmitStatus.DECLINED, "you declined IBKR's question")
        return self.outcome or SubmitResult(
            SubmitStatus.ACCEPTED, f"{draft.describe()}: order 1487203301", order_id=1487203301
        )

    async def orders(self, account_id: str) -> Sequence[OrderView]:
        if len(self.order_lists) > 1:
            return self.order_lists.pop(0)
        return self.order_lists[0] if self.order_lists else []

    async def trades(self, account_id: str) -> Sequence[TradeView]:
        return []

    async def cancel(self, account_id: str, order_id: int) -> str:
        return "Request was submitted"

    async def modify(
        self,
        order: OrderView,
        *,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        ask: Ask,
    ) -> SubmitResult:
        return SubmitResult(SubmitStatus.ACCEPTED, "modified", order_id=order.order_id)

    async def cancel_all(self, account_id: str) -> CancelAllResult:
        return CancelAllResult()
