"""Changing a working order: IBKR wants every field of the original again, so they are read
from the order's status, the changes laid over them, and the result checked, journaled and sent
like a new order (IBKR's questions included). A change whose fate is unknown (no answer, a 429 or
5xx, a question gone) is never sent again: the order is read back, and the change is in effect
when it shows the quantity and prices sent."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from ibtui.ibkr.errors import (
    IbkrError,
    OrderOutcomeUnknownError,
    OrderRejectedError,
    ProtocolError,
)
from ibtui.ibkr.models import OrderRequest, OrderStatus, TimeInForce, make_coid
from ibtui.trading.draft import MarketQuote, OrderDraft, TicketType
from ibtui.trading.outcomes import (
    CHECK_ORDERS,
    Answer,
    AnsweredQuestion,
    SubmitOutcome,
    SubmitStatus,
    state_word,
)
from ibtui.trading.record import not_placed, rejection
from ibtui.trading.safety import build_order, parse_draft, precautions, validate
from ibtui.trading.submit import Submitter

__all__ = ["Modifier"]


class Modifier:
    """Changes one account's working orders, through the :class:`Submitter`'s question flow."""

    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter
        self.client = submitter.client
        self.account_id = submitter.account_id
        self.recorder = submitter.recorder
        self.blotter = submitter.blotter

    async def modify(
        self,
        order_id: int,
        answer: Answer,
        quantity: Decimal | str | None,
        limit_price: Decimal | str | None,
        stop_price: Decimal | str | None,
        market: MarketQuote | None,
    ) -> SubmitOutcome:
        if order_id not in self.blotter.refs:  # IBKR wants the original cOID again: learn it
            with contextlib.suppress(IbkrError):
                await self.blotter.observe(await self.blotter.orders_once())
        coid = self.blotter.refs.get(order_id)
        changes = {"quantity": quantity, "limit_price": limit_price, "stop_price": stop_price}
        await self.recorder.note(
            "modify_request", coid, required=True, order_id=order_id, changes=changes
        )
        try:
            status = await self.client.order_status(order_id)
        except IbkrError as exc:
            await self.recorder.note(
                "modify_response", coid, order_id=order_id, result="error", text=str(exc)
            )
            return SubmitOutcome(SubmitStatus.REJECTED, f"cannot read order {order_id}: {exc}")
        kind = TicketType.from_wire(status.order_type)
        tif = next((t for t in TimeInForce if t.value == (status.tif or "").upper()), None)
        problem = None
        if not status.editable or status.status.is_done:
            problem = f"order {order_id} is {status.status.value}: it can no longer be changed"
        elif kind is None or tif is None:
            problem = f"order {order_id} ({status.order_type_text}) cannot be changed from ibtui"
        elif status.account is not None and status.account != self.account_id:
            problem = f"order {order_id} belongs to {status.account}, not {self.account_id}"
        if problem is not None or kind is None or tif is None:
            text = problem or "cannot be changed"
            await self.recorder.note(
                "modify_response", coid, order_id=order_id, result="refused", text=text
            )
            return SubmitOutcome(SubmitStatus.NOT_SENT, f"not sent: {text}", order_id=order_id)
        old_stop = status.stop_price
        old_limit = status.limit_price
        if kind is TicketType.STP and old_stop is None:
            old_stop, old_limit = old_limit, None  # the trigger travels as "price" for STP
        draft = OrderDraft(
            account_id=self.account_id,
            conid=status.conid,
            symbol=status.symbol or str(status.conid),
            side=status.side,
            quantity=quantity if quantity is not None else (status.total_size or ""),
            order_type=kind,
            limit_price=limit_price if limit_price is not None else old_limit,
            stop_price=stop_price if stop_price is not None else old_stop,
            tif=tif,
            outside_rth=status.outside_rth,
            is_paper=self.submitter.is_paper is not False,
            currency=status.currency or "USD",
        )
        errors = validate(draft, market)
        cautions = precautions(draft, market.last if market else None, self.submitter.settings)
        blocked = [p for p in cautions if p.blocking]
        await self.recorder.note(
            "validation",
            coid,
            required=True,
            order_id=order_id,
            errors=errors,
            precautions=cautions,
            result="ok" if not errors and not blocked else "refused",
        )
        if errors or blocked:
            reasons = [e.message for e in errors] + [p.message for p in blocked]
            return SubmitOutcome(
                SubmitStatus.NOT_SENT,
                "not sent: " + "; ".join(reasons),
                order_id=order_id,
                errors=tuple(errors),
                precautions=tuple(cautions),
            )
        wire_coid = coid or make_coid(self.submitter.coid_prefix)
        order = build_order(parse_draft(draft, market), wire_coid)
        await self.recorder.note(
            "modify_request", coid, required=True, order_id=order_id, order=order.to_json()
        )
        # nothing else goes out until IBKR's questions about the change are answered
        async with self.client.question_gate.hold():
            outcome = await self._send(order_id, order, coid, answer, draft.describe())
        return SubmitOutcome(
            outcome.status,
            outcome.message,
            coid=coid,
            order_id=outcome.order_id or order_id,
            order_status=outcome.order_status,
            precautions=tuple(cautions),
            answers=outcome.answers,
        )

    async def _send(
        self, order_id: int, order: OrderRequest, coid: str | None, answer: Answer, what: str
    ) -> SubmitOutcome:
        try:
            result = await self.client.modify_order(self.account_id, order_id, order)
        except (OrderOutcomeUnknownError, ProtocolError) as exc:
            reason = exc.reason if isinstance(exc, OrderOutcomeUnknownError) else str(exc)
            await self.recorder.note("unknown_outcome", coid, order_id=order_id, reason=reason)
            return await self._resolve(order_id, order, coid, reason, ())
        except OrderRejectedError as exc:
            await self.recorder.note(
                "modify_response", coid, order_id=order_id, result="error", text=str(exc)
            )
            return SubmitOutcome(
                SubmitStatus.REJECTED, rejection(exc), coid=coid, order_id=order_id
            )
        except IbkrError as exc:  # refused before IBKR took the change: the session, the gateway
            message = not_placed(exc, order_id=order_id)
            await self.recorder.note(
                "modify_response",
                coid,
                order_id=order_id,
                result="not_placed",
                text=message,
                error=str(exc),
            )
            return SubmitOutcome(SubmitStatus.NOT_PLACED, message, coid=coid, order_id=order_id)
        outcome = await self.submitter.drive(
            result, answer, coid=order.coid, order=what, action="modify", order_id=order_id
        )
        if outcome.status is SubmitStatus.UNKNOWN:
            await self.recorder.note(
                "unknown_outcome", coid, order_id=order_id, reason=outcome.message
            )
            return await self._resolve(order_id, order, coid, outcome.message, outcome.answers)
        return outcome

    async def _resolve(
        self,
        order_id: int,
        order: OrderRequest,
        coid: str | None,
        reason: str,
        answers: tuple[AnsweredQuestion, ...],
    ) -> SubmitOutcome:
        """A change whose fate is unknown: read the order back; the change is in effect when its
        quantity and prices are the ones sent. Never sent again."""
        self.client.question_gate.release()  # no question is open any more: the console goes on
        try:
            status = await self.client.order_status(order_id)
        except IbkrError:
            status = None
        if status is not None and _in_effect(status, order):
            await self.recorder.note(
                "reconciled",
                coid,
                found=True,
                order_id=order_id,
                status=status.status,
                result="change in effect",
            )
            return SubmitOutcome(
                SubmitStatus.ACCEPTED,
                f"modified: order {order_id} {state_word(status.status)} ({status.status.value}; "
                f"the change was found in effect after: {reason})",
                coid=coid,
                order_id=order_id,
                order_status=status.status,
                answers=answers,
            )
        await self.recorder.note(
            "reconciled", coid, found=False, order_id=order_id, result="still unknown"
        )
        return SubmitOutcome(
            SubmitStatus.UNKNOWN,
            f"{CHECK_ORDERS}: the change may or may not have reached IBKR ({reason})",
            coid=coid,
            order_id=order_id,
            answers=answers,
        )


def _in_effect(status: OrderStatus, order: OrderRequest) -> bool:
    """The order shows the quantity and prices of the change."""
    if status.total_size is None or status.total_size != order.quantity:
        return False
    shown = {p for p in (status.limit_price, status.stop_price) if p is not None}
    return all(p in shown for p in (order.price, order.aux_price) if p is not None)
