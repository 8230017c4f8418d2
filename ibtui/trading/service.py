"""The order service: what the ticket and the orders screen call to move money.

:class:`OrderService` wraps an :class:`~ibtui.ibkr.client.IbkrClient` for one account and adds
what IBKR does not: validation and precaution limits before anything is sent, the typed
confirmation for live accounts, IBKR's questions shown to the trader (or answered by the
configured policy) with follow-ups chained, one submission at a time (a double key press sends
once), reconciliation by ``cOID`` when an order's fate is unknown (and no second send of the
same draft until it is known), cancel, modify, a kill switch, and an audit journal line for
every step. Results are frozen dataclasses with ``Decimal`` money; no raw JSON leaves here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import Decimal
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
    CancelResult,
    LiveOrder,
    OrderError,
    OrderState,
    PlaceResult,
    ReplyRequired,
    ServerPrompt,
    TimeInForce,
    Trade,
    WhatIf,
    make_coid,
    plain_text,
)
from ibtui.ibkr.models.order_views import DisplayAmount, OrderStatus, WhatIfChange
from ibtui.trading.draft import MarketQuote, OrderDraft, TicketType
from ibtui.trading.journal import Journal
from ibtui.trading.outcomes import (
    Answer,
    AnsweredQuestion,
    CancelOutcome,
    CancelStatus,
    KillSwitchResult,
    Preview,
    Question,
    SubmitOutcome,
    SubmitStatus,
    UnresolvedOrder,
)
from ibtui.trading.safety import (
    Check,
    DraftError,
    FieldError,
    ParsedDraft,
    Precaution,
    build_order,
    check,
    live_confirmation_ok,
    parse_draft,
    precautions,
    question_policy,
    validate,
)
from ibtui.trading.settings import OrderSettings

__all__ = [
    "Answer",
    "AnsweredQuestion",
    "CancelOutcome",
    "CancelStatus",
    "KillSwitchResult",
    "OrderService",
    "Preview",
    "Question",
    "SubmitOutcome",
    "SubmitStatus",
    "UnresolvedOrder",
]

DEFAULT_RECONCILE_DELAYS = (0.0, 1.0, 2.0)
MAX_QUESTIONS = 20  # follow-up questions of one order before ibtui gives up (ibind: 20 too)
CANCELLED_BY_YOU = "cancelled by you: nothing was placed"
CHECK_ORDERS = "unknown: check the orders screen"


class _JournalUnavailable(Exception):
    pass


def _value(amount: DisplayAmount | None) -> Decimal | None:
    return None if amount is None else amount.value


def _parts(change: WhatIfChange | None) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    if change is None:
        return None, None, None
    return _value(change.current), _value(change.change), _value(change.after)


def _preview(order: str, w: WhatIf) -> Preview:
    currency = next(
        (a.currency for a in (w.amount, w.commission, w.total) if a is not None and a.currency),
        None,
    )
    im = _parts(w.initial_margin)
    mm = _parts(w.maintenance_margin)
    eq = _parts(w.equity)
    position_after = w.position.after if w.position is not None else None
    return Preview(
        order=order,
        currency=currency,
        amount=_value(w.amount),
        commission=_value(w.commission),
        total=_value(w.total),
        initial_margin_current=im[0],
        initial_margin_change=im[1],
        initial_margin_after=im[2],
        maintenance_margin_current=mm[0],
        maintenance_margin_change=mm[1],
        maintenance_margin_after=mm[2],
        equity_current=eq[0],
        equity_change=eq[1],
        equity_after=eq[2],
        position_after=_value(position_after),
        warning=w.warn,
        error=w.error,
    )


def _result_fields(result: PlaceResult) -> dict[str, object]:
    """A placement/reply/modify answer as journal fields."""
    match result:
        case Accepted(orders=acks):
            return {
                "result": "accepted",
                "order_id": acks[0].order_id,
                "status": acks[0].status,
                "orders": [{"order_id": a.order_id, "status": a.status} for a in acks],
            }
        case ReplyRequired():
            return {
                "result": "question",
                "reply_id": result.reply_id,
                "message_ids": list(result.message_ids),
                "messages": [plain_text(m) for m in result.messages],
            }
        case OrderError(text=text):
            return {"result": "error", "text": text}
        case ServerPrompt():
            return {
                "result": "prompt",
                "text": plain_text(result.text),
                "message_id": result.message_id,
                "options": list(result.options),
                "order_id": result.order_id,
            }


def _draft_fields(draft: OrderDraft) -> dict[str, object]:
    return {
        "order": draft.describe(),
        "symbol": draft.symbol,
        "conid": draft.conid,
        "side": draft.side,
        "quantity": draft.quantity,
        "order_type": draft.order_type,
        "limit_price": draft.limit_price,
        "stop_price": draft.stop_price,
        "tif": draft.tif,
        "outside_rth": draft.outside_rth,
        "is_paper": draft.is_paper,
    }


class OrderService:
    """Orders for one account. One submission (or modification) at a time: a second call while
    one is in flight returns BUSY at once and sends nothing; cancels and the kill switch are
    never held up by it.

    ``is_paper`` is what the service knows of the account: when it is False (or a draft says
    its account is live) sending needs the typed confirmation. ``reconcile_delays`` are the
    pauses before each look at the live orders when an order's fate is unknown.
    """

    def __init__(
        self,
        client: IbkrClient,
        account_id: str,
        journal: Journal,
        settings: OrderSettings,
        *,
        is_paper: bool | None = None,
        coid_prefix: str = "ibtui",
        reconcile_delays: Sequence[float] = DEFAULT_RECONCILE_DELAYS,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not reconcile_delays:
            raise ValueError("reconcile_delays needs at least one entry")
        self.client = client
        self.account_id = account_id
        self.journal = journal
        self.settings = settings
        self.is_paper = is_paper
        self._coid_prefix = coid_prefix
        self._delays = tuple(reconcile_delays)
        self._sleep = sleep
        self._busy = False
        self._unknown: dict[ParsedDraft, UnresolvedOrder] = {}
        self._refs: dict[int, str] = {}  # order id -> cOID, from placements and order lists
        self._seen: dict[int, tuple[OrderState, Decimal | None]] = {}
        self._cancel_requested: set[int] = set()
        self._off_list: dict[int, LiveOrder] = {}  # seen before, no longer in IBKR's list
        self._last_rows: dict[int, LiveOrder] = {}  # order id -> its row at the last look
        self._complete_list = True  # the last list was IBKR's real one, not its pre-flight
        self._posting = False  # an order POST (place, confirming reply) is on the wire
        self.journal_error: OSError | None = None  # the last failed journal write, if any

    def __repr__(self) -> str:
        return f"OrderService(account_id={self.account_id!r})"

    # --- state the screens show --------------------------------------------------------------

    @property
    def in_flight(self) -> bool:
        """A submission or modification is under way (the ticket disables its send key)."""
        return self._busy

    @property
    def unresolved(self) -> tuple[UnresolvedOrder, ...]:
        """Sends whose outcome is still unknown."""
        return tuple(self._unknown.values())

    def check(self, draft: OrderDraft, market: MarketQuote | None = None) -> Check:
        """Field errors and precautions for the draft (pure; call it as the trader types)."""
        return check(draft, market, self.settings)

    def _wrong_account(self, draft: OrderDraft) -> FieldError:
        return FieldError(
            "account", f"this ticket is for {draft.account_id}, not {self.account_id}"
        )

    def needs_live_confirmation(self, draft: OrderDraft) -> bool:
        """True when sending this draft needs the account's last four characters typed."""
        return draft.is_paper is False or self.is_paper is False

    # --- journal -------------------------------------------------------------------------------

    async def _note(
        self, event: str, coid: str | None = None, *, required: bool = False, **fields: object
    ) -> None:
        try:
            await self.journal.arecord(event, account=self.account_id, coid=coid, **fields)
        except OSError as exc:
            self.journal_error = exc
            if required:
                raise _JournalUnavailable(str(exc)) from exc

    # --- preview -------------------------------------------------------------------------------

    async def preview(self, draft: OrderDraft, *, market: MarketQuote | None = None) -> Preview:
        """IBKR's what-if for the draft (nothing is placed). Raises :class:`DraftError` for an
        invalid draft and :class:`~ibtui.ibkr.errors.IbkrError` when IBKR cannot be asked."""
        if draft.account_id != self.account_id:
            raise DraftError((self._wrong_account(draft),))
        parsed = parse_draft(draft, market)
        order = build_order(parsed, make_coid(self._coid_prefix))
        try:
            whatif = await self.client.whatif(self.account_id, order)
        except IbkrError as exc:
            await self._note("preview", order.coid, order=draft.describe(), failed=str(exc))
            raise
        preview = _preview(draft.describe(), whatif)
        await self._note("preview", order.coid, preview=preview)
        return preview

    # --- submit --------------------------------------------------------------------------------

    async def submit(
        self,
        draft: OrderDraft,
        answer: Answer,
        *,
        market: MarketQuote | None = None,
        confirmation: str | None = None,
    ) -> SubmitOutcome:
        """Send the draft once. ``market`` is the quote the ticket shows (for the stop-side rule
        and the precaution limits); ``confirmation`` is what the trader typed for a live
        account. Never raises for IBKR's or the network's failures: they are outcomes."""
        if self._busy:
            await self._note("validation", order=draft.describe(), result="busy")
            return SubmitOutcome(
                SubmitStatus.BUSY, "another order is being sent: this one was not sent"
            )
        self._busy = True
        try:
            return await self._submit(draft, answer, market, confirmation)
        except _JournalUnavailable as exc:
            return SubmitOutcome(
                SubmitStatus.NOT_SENT, f"not sent: the journal cannot be written ({exc})"
            )
        finally:
            self._busy = False
            self._posting = False

    async def _submit(
        self,
        draft: OrderDraft,
        answer: Answer,
        market: MarketQuote | None,
        confirmation: str | None,
    ) -> SubmitOutcome:
        coid = make_coid(self._coid_prefix)
        await self._note("intent", coid, required=True, **_draft_fields(draft))
        errors = list(validate(draft, market))
        if not errors and draft.account_id != self.account_id:
            errors.append(self._wrong_account(draft))
        cautions = precautions(draft, market.last if market else None, self.settings)
        live = self.needs_live_confirmation(draft)
        confirmed_live = not live or live_confirmation_ok(self.account_id, confirmation)
        blocked = [p for p in cautions if p.blocking]
        await self._note(
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
        earlier = self._unknown.get(parsed)
        if earlier is not None:
            await self._note(
                "validation",
                coid,
                result="refused",
                reason=f"an earlier send of this order ({earlier.coid}) has an unknown outcome",
            )
            return await self._retry_of_unknown(parsed, earlier)
        order = build_order(parsed, coid)
        await self._note("submit", coid, required=True, order=order.to_json())
        try:
            self._posting = True
            result = await self.client.place_order(self.account_id, order)
        except OrderOutcomeUnknownError as exc:
            return await self._unknown_outcome(parsed, coid, exc.reason, ())
        except ProtocolError as exc:  # an answer we cannot read: the order may exist
            return await self._unknown_outcome(parsed, coid, f"unreadable answer: {exc}", ())
        except asyncio.CancelledError:
            self._abandoned(parsed, coid)
            raise
        except IbkrError as exc:
            await self._note("response", coid, result="error", text=str(exc))
            return SubmitOutcome(SubmitStatus.REJECTED, _reason(exc), coid=coid)
        finally:
            self._posting = False
        try:
            outcome = await self._drive(
                result, answer, coid=coid, order=draft.describe(), action="place"
            )
        except asyncio.CancelledError:
            if self._posting:  # cancelled while confirming: IBKR may have placed it
                self._abandoned(parsed, coid)
            self._posting = False
            raise
        if outcome.status is SubmitStatus.UNKNOWN and outcome.order_id is None:
            return await self._unknown_outcome(parsed, coid, outcome.message, outcome.answers)
        if outcome.order_id is not None:
            self._refs[outcome.order_id] = coid
            if outcome.order_status is not None:
                self._seen.setdefault(outcome.order_id, (outcome.order_status, None))
        return _with_precautions(outcome, cautions)

    def _abandoned(self, parsed: ParsedDraft, coid: str) -> None:
        """The submission was cancelled (the screen went away) while IBKR may have the order:
        hold the draft as unknown, like a lost answer."""
        order = _describe_parsed(parsed)
        self._unknown[parsed] = UnresolvedOrder(coid, order)
        self._note_now("unknown_outcome", coid, reason="the submission was abandoned", order=order)

    async def _drive(
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
        for _ in range(MAX_QUESTIONS + 1):
            fields = {"order_id": order_id, **_result_fields(result)}
            await self._note(response_event, coid, required=False, **fields)
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
                    pass
            verdict = await self._ask_all(result, answer, coid, order, action, answers)
            if verdict is not None:  # declined: tell IBKR, place nothing
                await self._decline(result.reply_id, coid, order_id, response_event)
                return SubmitOutcome(
                    SubmitStatus.CANCELLED, verdict, coid=coid, answers=tuple(answers)
                )
            try:
                self._posting = True
                result = await self.client.reply(result.reply_id, confirmed=True)
                self._posting = False
            except (OrderOutcomeUnknownError, ProtocolError) as exc:
                self._posting = False
                reason = exc.reason if isinstance(exc, OrderOutcomeUnknownError) else str(exc)
                await self._note(response_event, coid, order_id=order_id, result="unknown")
                return SubmitOutcome(
                    SubmitStatus.UNKNOWN, reason, coid=coid, answers=tuple(answers)
                )
            except IbkrError as exc:
                self._posting = False
                await self._note(response_event, coid, result="error", text=str(exc))
                return SubmitOutcome(
                    SubmitStatus.REJECTED, _reason(exc), coid=coid, answers=tuple(answers)
                )
        assert isinstance(result, ReplyRequired)
        await self._decline(result.reply_id, coid, order_id, response_event)
        return SubmitOutcome(
            SubmitStatus.REJECTED,
            f"IBKR asked more than {MAX_QUESTIONS} questions; the order was not confirmed",
            coid=coid,
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
            await self._note(
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
                    self._note_now(
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
            await self._note(
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

    def _note_now(self, event: str, coid: str | None, **fields: object) -> None:
        try:
            self.journal.record(event, account=self.account_id, coid=coid, **fields)
        except OSError as exc:
            self.journal_error = exc

    async def _decline(
        self, reply_id: str, coid: str, order_id: int | None, response_event: str
    ) -> None:
        """Answer the reply with confirmed=false so IBKR drops the pending order."""
        try:
            result = await self.client.reply(reply_id, confirmed=False)
        except IbkrError as exc:
            await self._note(
                response_event,
                coid,
                order_id=order_id,
                declined=True,
                result="error",
                text=str(exc),
            )
            return
        await self._note(
            response_event,
            coid,
            required=False,
            declined=True,
            **{"order_id": order_id, **_result_fields(result)},
        )

    # --- unknown outcomes ------------------------------------------------------------------------

    async def _unknown_outcome(
        self,
        parsed: ParsedDraft,
        coid: str,
        reason: str,
        answers: tuple[AnsweredQuestion, ...],
    ) -> SubmitOutcome:
        order = _describe_parsed(parsed)
        self._unknown[parsed] = UnresolvedOrder(coid, order)  # held until its fate is known
        await self._note("unknown_outcome", coid, reason=reason, order=order)
        found = await self._find(coid)
        if found is not None:
            return await self._found(coid, found, answers, reason)
        await self._note("reconciled", coid, found=False, result="still unknown")
        return SubmitOutcome(
            SubmitStatus.UNKNOWN,
            f"{CHECK_ORDERS} ({reason}); this order will not be sent again until its fate is known",
            coid=coid,
            answers=answers,
        )

    async def _found(
        self,
        coid: str,
        live: LiveOrder,
        answers: tuple[AnsweredQuestion, ...],
        reason: str,
    ) -> SubmitOutcome:
        self._refs[live.order_id] = coid
        for key, entry in list(self._unknown.items()):
            if entry.coid == coid:
                del self._unknown[key]
        await self._note(
            "reconciled",
            coid,
            found=True,
            order_id=live.order_id,
            status=live.status,
            result="found by cOID",
        )
        return SubmitOutcome(
            SubmitStatus.ACCEPTED,
            f"accepted: order {live.order_id} {live.status.value} (found by its cOID after: "
            f"{reason})",
            coid=coid,
            order_id=live.order_id,
            order_status=live.status,
            answers=answers,
        )

    async def _find(self, coid: str) -> LiveOrder | None:
        """Look for the order with this cOID in the live orders, a few times."""
        with contextlib.suppress(IbkrError):  # IBKR answers [] and refreshes its cache
            await self.client.live_orders(force=True)
        for delay in self._delays:
            if delay > 0:
                await self._sleep(delay)
            try:
                live = await self.client.live_orders()
            except IbkrError:
                continue
            for order in live.orders:
                if order.order_ref == coid:
                    return order
        return None

    async def _retry_of_unknown(
        self, parsed: ParsedDraft, earlier: UnresolvedOrder
    ) -> SubmitOutcome:
        """The same draft again while an earlier send is unknown: look again, never resend."""
        outcome = await self.reconcile(earlier.coid)
        if outcome.accepted:
            return SubmitOutcome(
                SubmitStatus.ACCEPTED,
                f"already placed as order {outcome.order_id} (found by its cOID): not sent again",
                coid=earlier.coid,
                order_id=outcome.order_id,
                order_status=outcome.order_status,
            )
        return outcome

    async def reconcile(self, coid: str) -> SubmitOutcome:
        """Look again for an order whose outcome is unknown. Found: ACCEPTED (and the draft may
        be sent again as a new order); not found: still UNKNOWN."""
        entry = next((e for e in self._unknown.values() if e.coid == coid), None)
        found = await self._find(coid)
        if found is not None:
            return await self._found(coid, found, (), "a second look")
        await self._note("reconciled", coid, found=False, result="still unknown")
        order = entry.order if entry is not None else "this order"
        return SubmitOutcome(
            SubmitStatus.UNKNOWN,
            f"{CHECK_ORDERS}: {order} was not found in the live orders; it will not be sent "
            "again until you release it",
            coid=coid,
        )

    async def release(self, coid: str) -> bool:
        """The trader checked the orders screen: the order with this cOID is not there, so the
        draft may be sent again (as a new order, with a new cOID). False if nothing was held."""
        keys = [k for k, e in self._unknown.items() if e.coid == coid]
        for key in keys:
            del self._unknown[key]
        if keys:
            await self._note("reconciled", coid, found=False, result="released by you")
        return bool(keys)

    # --- cancel, modify, kill switch ---------------------------------------------------------

    async def cancel(self, order_id: int) -> CancelOutcome:
        """Ask IBKR to cancel one order (the order reaches Cancelled a moment later)."""
        coid = self._refs.get(order_id)
        await self._note("cancel_request", coid, order_id=order_id)
        try:
            result = await self.client.cancel_order(self.account_id, order_id)
        except OrderOutcomeUnknownError as exc:
            outcome = CancelOutcome(
                order_id, CancelStatus.UNKNOWN, f"{CHECK_ORDERS} ({exc.reason})"
            )
        except IbkrError as exc:
            outcome = CancelOutcome(order_id, CancelStatus.REJECTED, _reason(exc))
        else:
            if isinstance(result, CancelResult):
                text = result.message or "cancel requested"
                self._cancel_requested.add(order_id)
                outcome = CancelOutcome(order_id, CancelStatus.REQUESTED, text)
            else:
                outcome = CancelOutcome(
                    order_id, CancelStatus.REJECTED, f"rejected by IBKR: {result.text}"
                )
        await self._note(
            "cancel_response",
            coid,
            order_id=order_id,
            status=outcome.status,
            message=outcome.message,
        )
        return outcome

    async def cancel_all(self) -> KillSwitchResult:
        """The kill switch: cancel every working order of the account, one by one.

        Orders already known to be working are cancelled at once; then a fresh order list
        (IBKR paces it) catches any others. If that list cannot be had, IBKR is asked to
        cancel all open orders (order id -1)."""
        await self._note("kill_switch", phase="start")
        known = [
            oid
            for oid, (state, _) in self._seen.items()
            if _working(state) and oid not in self._cancel_requested
        ]
        outcomes = {oid: await self.cancel(oid) for oid in known}
        try:
            rows = await self._fresh_orders()
        except IbkrError as exc:
            await self._note("kill_switch", phase="list failed", error=str(exc))
            everything = await self.cancel(-1)  # IBKR: order id -1 cancels all open orders
            message = (
                f"could not list the orders ({exc}); asked IBKR to cancel all open orders: "
                f"{everything.message}"
            )
            result = KillSwitchResult((*outcomes.values(), everything), message)
            await self._note("kill_switch", phase="done", message=message)
            return result
        await self._observe(rows)
        finished = {o.order_id for o in rows if not o.status.is_working}
        for oid in [oid for oid, o in outcomes.items() if not o.requested and oid in finished]:
            del outcomes[oid]  # it filled or was cancelled meanwhile: nothing left to cancel
        for row in rows:
            if _working(row.status) and row.order_id not in outcomes:
                outcomes[row.order_id] = await self.cancel(row.order_id)
        result = KillSwitchResult(tuple(outcomes.values()), _kill_message(outcomes.values()))
        await self._note(
            "kill_switch",
            phase="done",
            requested=list(result.requested),
            failed=[{"order_id": o.order_id, "message": o.message} for o in result.failed],
            message=result.message,
        )
        return result

    async def modify(
        self,
        order_id: int,
        *,
        answer: Answer,
        quantity: Decimal | str | None = None,
        limit_price: Decimal | str | None = None,
        stop_price: Decimal | str | None = None,
        market: MarketQuote | None = None,
    ) -> SubmitOutcome:
        """Change a working order's quantity and/or prices (None keeps a value). IBKR wants
        every field of the original again: they are read from the order's status first. The
        same checks, questions and journal as a submission; BUSY while one is in flight."""
        if self._busy:
            await self._note("modify_request", order_id=order_id, result="busy")
            return SubmitOutcome(
                SubmitStatus.BUSY, "another order is being sent: this change was not sent"
            )
        self._busy = True
        try:
            return await self._modify(order_id, answer, quantity, limit_price, stop_price, market)
        except _JournalUnavailable as exc:
            return SubmitOutcome(
                SubmitStatus.NOT_SENT, f"not sent: the journal cannot be written ({exc})"
            )
        finally:
            self._busy = False
            self._posting = False

    async def _modify(
        self,
        order_id: int,
        answer: Answer,
        quantity: Decimal | str | None,
        limit_price: Decimal | str | None,
        stop_price: Decimal | str | None,
        market: MarketQuote | None,
    ) -> SubmitOutcome:
        if order_id not in self._refs:  # IBKR wants the original cOID again: learn it
            with contextlib.suppress(IbkrError):
                await self._observe(await self._orders_once())
        coid = self._refs.get(order_id)
        changes = {"quantity": quantity, "limit_price": limit_price, "stop_price": stop_price}
        await self._note("modify_request", coid, required=True, order_id=order_id, changes=changes)
        try:
            status = await self.client.order_status(order_id)
        except IbkrError as exc:
            await self._note(
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
            await self._note(
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
            is_paper=self.is_paper is not False,
            currency=status.currency or "USD",
        )
        errors = validate(draft, market)
        cautions = precautions(draft, market.last if market else None, self.settings)
        blocked = [p for p in cautions if p.blocking]
        await self._note(
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
        wire_coid = coid or make_coid(self._coid_prefix)
        order = build_order(parse_draft(draft, market), wire_coid)
        await self._note(
            "modify_request", coid, required=True, order_id=order_id, order=order.to_json()
        )
        try:
            result = await self.client.modify_order(self.account_id, order_id, order)
        except (OrderOutcomeUnknownError, ProtocolError) as exc:
            reason = exc.reason if isinstance(exc, OrderOutcomeUnknownError) else str(exc)
            await self._note("unknown_outcome", coid, order_id=order_id, reason=reason)
            return SubmitOutcome(
                SubmitStatus.UNKNOWN,
                f"{CHECK_ORDERS}: the change may or may not have reached IBKR ({reason})",
                coid=coid,
                order_id=order_id,
            )
        except IbkrError as exc:
            await self._note(
                "modify_response", coid, order_id=order_id, result="error", text=str(exc)
            )
            return SubmitOutcome(SubmitStatus.REJECTED, _reason(exc), coid=coid, order_id=order_id)
        outcome = await self._drive(
            result,
            answer,
            coid=wire_coid,
            order=draft.describe(),
            action="modify",
            order_id=order_id,
        )
        return SubmitOutcome(
            outcome.status,
            outcome.message,
            coid=coid,
            order_id=outcome.order_id or order_id,
            order_status=outcome.order_status,
            precautions=tuple(cautions),
            answers=outcome.answers,
        )

    # --- lists ---------------------------------------------------------------------------------

    async def orders(self, *, refresh: bool = False) -> tuple[LiveOrder, ...]:
        """The account's working and recent orders (IBKR paces this list at 1 per 5 s).

        ``refresh`` clears IBKR's cache first (two requests). Status changes since the last
        look are journaled, and an order whose send was unknown is reconciled when it shows up.
        """
        rows = await self._fresh_orders() if refresh else await self._orders_once()
        rows += await self._dropped_out(rows)
        await self._observe(rows)
        return rows

    async def _dropped_out(self, rows: Sequence[LiveOrder]) -> tuple[LiveOrder, ...]:
        """Orders seen before that IBKR's list leaves out.

        The list holds only the current brokerage session's finished orders (API.md §8.1): after
        a competing login or the nightly reset, the orders that finished before it drop out. One
        last seen finished stays as it was last seen; one last seen working (it filled or was
        cancelled just before, unseen) is asked for by its status. Either stays in the answer
        from then on, so the blotter and the journal end with its final state."""
        listed = {row.order_id for row in rows}
        if self._complete_list:
            for oid, (state, _) in list(self._seen.items()):
                if oid in listed:
                    continue
                if not state.is_working:
                    last = self._last_rows.get(oid)
                    if last is not None:
                        self._off_list.setdefault(oid, last)
                    continue
                try:
                    status = await self.client.order_status(oid)
                except IbkrError:
                    continue  # asked again at the next look
                if status.account in (None, self.account_id):
                    self._off_list[oid] = _row_from_status(status, self._refs.get(oid))
        return tuple(row for oid, row in self._off_list.items() if oid not in listed)

    async def trades(self) -> tuple[Trade, ...]:
        """The account's executions (IBKR: today's; paced at 1 per 5 s)."""
        return tuple(t for t in await self.client.trades() if t.account in (None, self.account_id))

    async def _orders_once(self) -> tuple[LiveOrder, ...]:
        live = await self.client.live_orders()
        if live.snapshot is False and not live.orders:  # IBKR's pre-flight answer: ask again
            live = await self.client.live_orders()
        self._complete_list = not (live.snapshot is False and not live.orders)
        return self._mine(live.orders)

    async def _fresh_orders(self) -> tuple[LiveOrder, ...]:
        await self.client.live_orders(force=True)
        return await self._orders_once()

    def _mine(self, orders: Sequence[LiveOrder]) -> tuple[LiveOrder, ...]:
        return tuple(o for o in orders if o.account in (None, self.account_id))

    async def _observe(self, rows: Sequence[LiveOrder]) -> None:
        waiting = {e.coid for e in self._unknown.values()}
        for row in rows:
            self._last_rows[row.order_id] = row
            if row.order_ref:
                self._refs.setdefault(row.order_id, row.order_ref)
            if row.order_ref in waiting:
                assert row.order_ref is not None
                await self._found(row.order_ref, row, (), "seen in the orders list")
            state = (row.status, row.filled)
            if self._seen.get(row.order_id) != state:
                self._seen[row.order_id] = state
                await self._note(
                    "status",
                    row.order_ref,
                    order_id=row.order_id,
                    symbol=row.symbol,
                    side=row.side,
                    status=row.status,
                    filled=row.filled,
                    remaining=row.remaining,
                    avg_price=row.avg_price,
                )


def _row_from_status(status: OrderStatus, coid: str | None) -> LiveOrder:
    """An order-list row built from an order's status (for an order the list no longer has)."""
    return LiveOrder(
        order_id=status.order_id,
        account=status.account,
        conid=status.conid,
        symbol=status.symbol,
        description=status.description,
        sec_type=None,
        exchange=status.exchange,
        currency=status.currency,
        side=status.side,
        order_type=status.order_type,
        order_type_text=status.order_type_text,
        price=status.limit_price,
        aux_price=status.stop_price,
        avg_price=status.avg_price,
        total_size=status.total_size,
        filled=status.filled,
        remaining=status.remaining,
        status=status.status,
        status_text=status.status_text,
        tif=status.tif,
        outside_rth=status.outside_rth,
        order_ref=coid,
        parent_id=None,
        order_desc=status.description,
        updated=status.order_time,
    )


def _working(state: OrderState) -> bool:
    """Still cancellable: working and not already being cancelled."""
    return state.is_working and state is not OrderState.PENDING_CANCEL


def _kill_message(outcomes: Iterable[CancelOutcome]) -> str:
    done = list(outcomes)
    ok = sum(1 for o in done if o.requested)
    if not done:
        return "no working orders to cancel"
    message = f"cancel requested for {ok} working order{'s' if ok != 1 else ''}"
    if len(done) > ok:
        message += f"; {len(done) - ok} failed"
    return message


def _reason(exc: IbkrError) -> str:
    if isinstance(exc, OrderRejectedError):
        return f"rejected by IBKR: {exc.text}"
    return f"not placed: {exc}"


def _describe_parsed(parsed: ParsedDraft) -> str:
    return OrderDraft(
        account_id=parsed.account_id,
        conid=parsed.conid,
        symbol=parsed.symbol,
        side=parsed.side,
        quantity=parsed.quantity,
        order_type=parsed.order_type,
        limit_price=parsed.limit_price,
        stop_price=parsed.stop_price,
        tif=parsed.tif,
        outside_rth=parsed.outside_rth,
    ).describe()


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
