"""Sending an order: the checks again, the typed confirmation for a live account, the journal's
intent line before anything leaves, then IBKR's questions, each shown to the trader (or answered
by the configured policy), with follow-ups chained until IBKR accepts or rejects the order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from itertools import zip_longest
from typing import Literal

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.errors import (
    IbkrError,
    OrderOutcomeUnknownError,
    OrderRejectedError,
    ProtocolError,
)
from ibtui.ibkr.models import (
    Accepted,
    OrderError,
    PlaceResult,
    ReplyRequired,
    ServerPrompt,
    make_coid,
    plain_text,
)
from ibtui.trading.blotter import Blotter
from ibtui.trading.draft import MarketQuote, OrderDraft
from ibtui.trading.outcomes import (
    Answer,
    AnsweredQuestion,
    Question,
    SubmitOutcome,
    SubmitStatus,
)
from ibtui.trading.reconcile import Reconciler
from ibtui.trading.record import Recorder, draft_fields, not_placed, rejection, result_fields
from ibtui.trading.safety import (
    FieldError,
    ParsedDraft,
    Precaution,
    build_order,
    live_confirmation_ok,
    parse_draft,
    precautions,
    question_policy,
    validate,
)
from ibtui.trading.settings import OrderSettings

__all__ = ["CANCELLED_BY_YOU", "MAX_QUESTIONS", "Submitter", "carried_out_maybe"]

MAX_QUESTIONS = 20  # follow-up questions of one order before ibtui gives up (ibind: 20 too)
CANCELLED_BY_YOU = "cancelled by you: nothing was placed"
# IBKR's refusals that say nothing of this send's fate: the cOID is taken (an earlier send of it
# was carried out), the question is gone (withdrawn by another request, expired, or used by an
# earlier reply that was carried out). The order is looked up by its cOID, never sent again.
_UNKNOWN_REFUSALS = ("is already registered", "reply id not found")


def carried_out_maybe(text: str) -> bool:
    """True for IBKR's refusals that leave the order's fate unknown (see above)."""
    lowered = text.lower()
    return any(refusal in lowered for refusal in _UNKNOWN_REFUSALS)


class Submitter:
    """Sends one account's orders and follows IBKR's answers to the end (modifications too).

    ``posting`` is True while an order POST (a placement or a confirming reply) is on the wire:
    a submission cancelled then may have reached IBKR.
    """

    def __init__(
        self,
        client: IbkrClient,
        account_id: str,
        recorder: Recorder,
        blotter: Blotter,
        reconciler: Reconciler,
        settings: OrderSettings,
        *,
        is_paper: bool | None,
        coid_prefix: str,
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.recorder = recorder
        self.blotter = blotter
        self.reconciler = reconciler
        self.settings = settings
        self.is_paper = is_paper
        self.coid_prefix = coid_prefix
        self.posting = False

    def wrong_account(self, draft: OrderDraft) -> FieldError:
        return FieldError(
            "account", f"this ticket is for {draft.account_id}, not {self.account_id}"
        )

    def needs_live_confirmation(self, draft: OrderDraft) -> bool:
        """True when sending this draft needs the account's last four characters typed."""
        return draft.is_paper is False or self.is_paper is False

    async def submit(
        self,
        draft: OrderDraft,
        answer: Answer,
        market: MarketQuote | None,
        confirmation: str | None,
    ) -> SubmitOutcome:
        coid = make_coid(self.coid_prefix)
        await self.recorder.note("intent", coid, required=True, **draft_fields(draft))
        errors = list(validate(draft, market))
        if not errors and draft.account_id != self.account_id:
            errors.append(self.wrong_account(draft))
        cautions = precautions(draft, market.last if market else None, self.settings)
        live = self.needs_live_confirmation(draft)
        confirmed_live = not live or live_confirmation_ok(self.account_id, confirmation)
        blocked = [p for p in cautions if p.blocking]
        await self.recorder.note(
            "validation",
            coid,
            required=True,
            errors=errors,
            precautions=cautions,
            live=live,
            live_confirmed=confirmed_live if live else None,
            result="ok" if not errors and not blocked and confirmed_live else "refused",
        )
        if errors:
            return SubmitOutcome(
                SubmitStatus.NOT_SENT,
                "not sent: " + "; ".join(e.message for e in errors),
                coid=None,
                errors=tuple(errors),
                precautions=tuple(cautions),
            )
        if blocked:
            return SubmitOutcome(
                SubmitStatus.NOT_SENT,
                "not sent: " + "; ".join(p.message for p in blocked),
                precautions=tuple(cautions),
            )
        if not confirmed_live:
            return SubmitOutcome(
                SubmitStatus.NOT_SENT,
                f"not sent: {self.account_id} is a LIVE account; type its last four characters "
                "to send",
                precautions=tuple(cautions),
            )
        parsed = parse_draft(draft, market)
        earlier = self.reconciler.unknown.get(parsed)
        if earlier is not None:
            await self.recorder.note(
                "validation",
                coid,
                result="refused",
                reason=f"an earlier send of this order ({earlier.coid}) has an unknown outcome",
            )
            return await self.reconciler.retry_of_unknown(parsed, earlier)
        # From the order POST until its last question is answered the session sends nothing
        # else: another request in between can withdraw IBKR's question (see ibtui.ibkr.gate).
        async with self.client.question_gate.hold():
            return await self._place(draft, parsed, coid, answer, cautions)

    async def _place(
        self,
        draft: OrderDraft,
        parsed: ParsedDraft,
        coid: str,
        answer: Answer,
        cautions: Sequence[Precaution],
    ) -> SubmitOutcome:
        order = build_order(parsed, coid)
        await self.recorder.note("submit", coid, required=True, order=order.to_json())
        try:
            self.posting = True
            result = await self.client.place_order(self.account_id, order)
        except OrderOutcomeUnknownError as exc:
            return await self.reconciler.unknown_outcome(parsed, coid, exc.reason, ())
        except ProtocolError as exc:  # an answer we cannot read: the order may exist
            return await self.reconciler.unknown_outcome(
                parsed, coid, f"unreadable answer: {exc}", ()
            )
        except asyncio.CancelledError:
            self.reconciler.abandoned(parsed, coid)
            raise
        except OrderRejectedError as exc:
            await self.recorder.note("response", coid, result="error", text=str(exc))
            if carried_out_maybe(exc.text):
                return await self.reconciler.unknown_outcome(parsed, coid, exc.text, ())
            return SubmitOutcome(SubmitStatus.REJECTED, rejection(exc), coid=coid)
        except IbkrError as exc:  # refused before IBKR took it: the session, the gateway
            return await self._not_placed(exc, coid, "response", None, ())
        finally:
            self.posting = False
        try:
            outcome = await self.drive(
                result, answer, coid=coid, order=draft.describe(), action="place"
            )
        except asyncio.CancelledError:
            if self.posting:  # cancelled while confirming: IBKR may have placed it
                self.reconciler.abandoned(parsed, coid)
            self.posting = False
            raise
        if outcome.status is SubmitStatus.UNKNOWN and outcome.order_id is None:
            return await self.reconciler.unknown_outcome(
                parsed, coid, outcome.message, outcome.answers
            )
        if outcome.order_id is not None:
            self.blotter.refs[outcome.order_id] = coid
            if outcome.order_status is not None:
                self.blotter.seen.setdefault(outcome.order_id, (outcome.order_status, None))
        return _with_precautions(outcome, cautions)

    async def drive(
        self,
        result: PlaceResult,
        answer: Answer,
        *,
        coid: str,
        order: str,
        action: Literal["place", "modify"],
        order_id: int | None = None,
    ) -> SubmitOutcome:
        """Follow IBKR's answers to the end: questions asked (or answered by policy) and
        replied to, follow-ups chained. An UNKNOWN outcome here has no order id."""
        response_event = "response" if action == "place" else "modify_response"
        answers: list[AnsweredQuestion] = []
        gate = self.client.question_gate
        for _ in range(MAX_QUESTIONS + 1):
            fields = {"order_id": order_id, **result_fields(result)}
            await self.recorder.note(response_event, coid, required=False, **fields)
            match result:
                case Accepted(orders=acks):
                    ack = acks[0]
                    return SubmitOutcome(
                        SubmitStatus.ACCEPTED,
                        f"{'modified' if action == 'modify' else 'accepted'}: order "
                        f"{ack.order_id} {ack.status_text or ack.status.value}",
                        coid=coid,
                        order_id=ack.order_id,
                        order_status=ack.status,
                        answers=tuple(answers),
                    )
                case OrderError(text=text) if carried_out_maybe(text):
                    await self.recorder.note(
                        response_event, coid, order_id=order_id, result="unknown"
                    )
                    return SubmitOutcome(
                        SubmitStatus.UNKNOWN, text, coid=coid, answers=tuple(answers)
                    )
                case OrderError(text=text):
                    return SubmitOutcome(
                        SubmitStatus.REJECTED,
                        f"rejected by IBKR: {text}",
                        coid=coid,
                        answers=tuple(answers),
                    )
                case ServerPrompt():
                    return SubmitOutcome(
                        SubmitStatus.UNKNOWN,
                        f"IBKR asked something ibtui cannot answer ({plain_text(result.text)})",
                        coid=coid,
                        answers=tuple(answers),
                    )
                case ReplyRequired():
                    gate.rearm()  # each question holds the session for its own while
            verdict = await self._ask_all(result, answer, coid, order, action, answers)
            if verdict is None and gate.expired:
                verdict = (
                    f"IBKR's question was open over {gate.limit:g} s and has expired (the "
                    "console went on meanwhile): nothing was placed; send the order again"
                )
                await self.recorder.note(response_event, coid, order_id=order_id, expired=True)
            if verdict is not None:  # declined: tell IBKR, place nothing
                await self._decline(result.reply_id, coid, order_id, response_event)
                return SubmitOutcome(
                    SubmitStatus.CANCELLED, verdict, coid=coid, answers=tuple(answers)
                )
            try:
                self.posting = True
                result = await self.client.reply(result.reply_id, confirmed=True)
                self.posting = False
            except (OrderOutcomeUnknownError, ProtocolError) as exc:
                self.posting = False
                reason = exc.reason if isinstance(exc, OrderOutcomeUnknownError) else str(exc)
                await self.recorder.note(response_event, coid, order_id=order_id, result="unknown")
                return SubmitOutcome(
                    SubmitStatus.UNKNOWN, reason, coid=coid, answers=tuple(answers)
                )
            except OrderRejectedError as exc:
                self.posting = False
                await self.recorder.note(response_event, coid, result="error", text=str(exc))
                if carried_out_maybe(exc.text):
                    return SubmitOutcome(
                        SubmitStatus.UNKNOWN, exc.text, coid=coid, answers=tuple(answers)
                    )
                return SubmitOutcome(
                    SubmitStatus.REJECTED, rejection(exc), coid=coid, answers=tuple(answers)
                )
            except IbkrError as exc:  # the reply refused before IBKR took it
                self.posting = False
                return await self._not_placed(exc, coid, response_event, order_id, answers)
        assert isinstance(result, ReplyRequired)
        await self._decline(result.reply_id, coid, order_id, response_event)
        return SubmitOutcome(
            SubmitStatus.REJECTED,
            f"IBKR asked more than {MAX_QUESTIONS} questions; the order was not confirmed",
            coid=coid,
            answers=tuple(answers),
        )

    async def _not_placed(
        self,
        exc: IbkrError,
        coid: str,
        response_event: str,
        order_id: int | None,
        answers: Sequence[AnsweredQuestion],
    ) -> SubmitOutcome:
        """The session or the gateway refused the order POST (or the reply confirming it) before
        IBKR took it: nothing was placed, and the journal says so in the words the trader sees
        (with the client's error as it was)."""
        message = not_placed(exc, order_id=order_id)
        await self.recorder.note(
            response_event,
            coid,
            order_id=order_id,
            result="not_placed",
            text=message,
            error=str(exc),
        )
        return SubmitOutcome(
            SubmitStatus.NOT_PLACED,
            message,
            coid=coid,
            order_id=order_id,
            answers=tuple(answers),
        )

    async def _ask_all(
        self,
        reply: ReplyRequired,
        answer: Answer,
        coid: str,
        order: str,
        action: Literal["place", "modify"],
        answers: list[AnsweredQuestion],
    ) -> str | None:
        """Each message of one reply, asked in turn; None when all are confirmed, else the
        reason the order is not confirmed."""
        for text, message_id in zip_longest(reply.messages, reply.message_ids):
            if text is None:
                continue
            question = Question(
                text=plain_text(text),
                message_id=message_id,
                order=order,
                coid=coid,
                step=len(answers) + 1,
                action=action,
            )
            await self.recorder.note(
                "question",
                coid,
                message_id=message_id,
                text=question.text,
                step=question.step,
                reply_id=reply.reply_id,
            )
            policy = question_policy(message_id, self.settings)
            by: Literal["you", "policy"] = "policy"
            failure: str | None = None
            if policy == "confirm":
                confirmed = True
            elif policy == "reject":
                confirmed = False
            else:
                by = "you"
                try:
                    confirmed = await answer(question) is True
                except asyncio.CancelledError:
                    self.recorder.note_now(
                        "answer",
                        coid,
                        message_id=message_id,
                        confirmed=False,
                        by=by,
                        error="the question was abandoned",
                    )
                    raise
                except Exception as exc:  # a failing dialog is a "no", never a "yes"
                    confirmed, failure = False, f"{type(exc).__name__}: {exc}"
            await self.recorder.note(
                "answer",
                coid,
                message_id=message_id,
                confirmed=confirmed,
                by=by,
                step=question.step,
                error=failure,
            )
            answers.append(AnsweredQuestion(question, confirmed, by))
            if not confirmed:
                if by == "policy":
                    return f"rejected by your question policy for {message_id}: nothing was placed"
                return CANCELLED_BY_YOU
        return None

    async def _decline(
        self, reply_id: str, coid: str, order_id: int | None, response_event: str
    ) -> None:
        """Answer the reply with confirmed=false so IBKR drops the pending order."""
        try:
            result = await self.client.reply(reply_id, confirmed=False)
        except IbkrError as exc:
            await self.recorder.note(
                response_event,
                coid,
                order_id=order_id,
                declined=True,
                result="error",
                text=str(exc),
            )
            return
        await self.recorder.note(
            response_event,
            coid,
            required=False,
            declined=True,
            **{"order_id": order_id, **result_fields(result)},
        )


def _with_precautions(outcome: SubmitOutcome, cautions: Sequence[Precaution]) -> SubmitOutcome:
    if not cautions:
        return outcome
    return SubmitOutcome(
        outcome.status,
        outcome.message,
        coid=outcome.coid,
        order_id=outcome.order_id,
        order_status=outcome.order_status,
        errors=outcome.errors,
        precautions=tuple(cautions),
        answers=outcome.answers,
    )
