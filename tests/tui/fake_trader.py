"""The one scripted :class:`~ibtui.tui.trading.Trader` of the screen tests: the ticket's checks,
previews and submissions, the orders screen's lists, cancels, modifications and kill switch.
Every call is recorded; IBKR's questions (``questions``) are asked by ``submit`` and ``modify``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ibtui.ibkr.models import OrderState
from ibtui.trading import (
    Check,
    FieldError,
    OrderDraft,
    Precaution,
    SubmitOutcome,
    SubmitStatus,
)
from ibtui.tui.trading import (
    Ask,
    CancelAllResult,
    OrderView,
    PreviewView,
    QuestionView,
    TradeView,
)
from ibtui.tui.viewmodels import QuoteView


@dataclass
class FakeTrader:
    questions: list[QuestionView] = field(default_factory=list)
    outcome: SubmitOutcome | None = None  # what submit answers (default: accepted)
    precautions: tuple[Precaution, ...] = ()
    gate: asyncio.Event | None = None  # submit waits for it when set
    order_list: list[OrderView] = field(default_factory=list)  # what orders() answers
    order_lists: list[list[OrderView]] = field(default_factory=list)  # the next answers, in turn
    trade_list: list[TradeView] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)  # raised by orders(), in turn
    trade_failures: list[Exception] = field(default_factory=list)
    cancel_answer: str = "Request was submitted"
    cancel_error: Exception | None = None
    previews: list[OrderDraft] = field(default_factory=list)
    submitted: list[OrderDraft] = field(default_factory=list)
    answers: list[bool] = field(default_factory=list)
    confirmations: list[str | None] = field(default_factory=list)
    order_calls: list[str] = field(default_factory=list)
    trade_calls: list[str] = field(default_factory=list)
    cancels: list[tuple[str, int]] = field(default_factory=list)
    modifies: list[dict[str, Any]] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)

    # --- the Trader protocol ---------------------------------------------------------------------
    def check(self, draft: OrderDraft, quote: QuoteView | None) -> Check:
        problems: list[FieldError] = []
        last = quote.last if quote is not None else None
        stop = draft.stop_price
        if (
            isinstance(stop, Decimal)
            and last is not None
            and draft.side.value == "BUY"
            and stop <= last
        ):
            problems.append(FieldError("stop_price", f"a buy stop must be above {last}"))
        return Check(tuple(problems), self.precautions)

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
    ) -> SubmitOutcome:
        self.submitted.append(draft)
        self.confirmations.append(confirmation)
        if self.gate is not None:
            await self.gate.wait()
        if not await self._ask_all(ask):
            return SubmitOutcome(SubmitStatus.CANCELLED, "you declined IBKR's question")
        return self.outcome or SubmitOutcome(
            SubmitStatus.ACCEPTED, f"{draft.describe()}: order 1487203301", order_id=1487203301
        )

    async def orders(self, account_id: str) -> Sequence[OrderView]:
        self.order_calls.append(account_id)
        if self.failures:
            raise self.failures.pop(0)
        if self.order_lists:  # the last scripted answer stays
            self.order_list = self.order_lists.pop(0)
        return list(self.order_list)

    async def trades(self, account_id: str) -> Sequence[TradeView]:
        self.trade_calls.append(account_id)
        if self.trade_failures:
            raise self.trade_failures.pop(0)
        return list(self.trade_list)

    async def cancel(self, account_id: str, order_id: int) -> str:
        self.cancels.append((account_id, order_id))
        if self.cancel_error is not None:
            raise self.cancel_error
        return self.cancel_answer

    async def modify(
        self,
        order: OrderView,
        *,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        ask: Ask,
    ) -> SubmitOutcome:
        self.modifies.append(
            {
                "order_id": order.order_id,
                "quantity": quantity,
                "limit_price": limit_price,
                "stop_price": stop_price,
            }
        )
        if not await self._ask_all(ask):
            return SubmitOutcome(
                SubmitStatus.CANCELLED, "you declined IBKR's question", order_id=order.order_id
            )
        return SubmitOutcome(  # the order service's wording
            SubmitStatus.ACCEPTED,
            f"modified: order {order.order_id} Submitted",
            order_id=order.order_id,
            coid=order.coid,
            order_status=OrderState.SUBMITTED,
        )

    async def cancel_all(self, account_id: str) -> CancelAllResult:
        self.kills.append(account_id)
        working = tuple(o.order_id for o in self.order_list if o.working)
        return CancelAllResult(requested=working)

    # --- scripting -------------------------------------------------------------------------------
    async def _ask_all(self, ask: Ask) -> bool:
        """Each scripted question in turn; False at the first one answered no."""
        for question in self.questions:
            answer = await ask(question)
            self.answers.append(answer)
            if not answer:
                return False
        return True

    def change(self, order_id: int, **changes: Any) -> None:
        """The next polls show order ``order_id`` with these fields changed."""
        self.order_list = [
            replace(o, **changes) if o.order_id == order_id else o for o in self.order_list
        ]
