"""Reconciliation by cOID: when an order's fate is unknown (no answer, an unreadable one, a
submission abandoned half-way) the draft is held, IBKR's live orders are searched for the cOID
it was sent with, and the same draft is never sent again until the order is found or the trader
releases it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.models import LiveOrder
from ibtui.trading.blotter import Blotter
from ibtui.trading.draft import OrderDraft
from ibtui.trading.outcomes import (
    CHECK_ORDERS,
    AnsweredQuestion,
    SubmitOutcome,
    SubmitStatus,
    UnresolvedOrder,
    state_word,
)
from ibtui.trading.record import Recorder
from ibtui.trading.safety import ParsedDraft

__all__ = ["DEFAULT_RECONCILE_DELAYS", "Reconciler"]

DEFAULT_RECONCILE_DELAYS = (0.0, 1.0, 2.0)


class Reconciler:
    """The sends of one account whose outcome is unknown, and the search for them.

    ``delays`` are the pauses before each look at the live orders.
    """

    def __init__(
        self,
        client: IbkrClient,
        recorder: Recorder,
        blotter: Blotter,
        *,
        delays: Sequence[float] = DEFAULT_RECONCILE_DELAYS,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not delays:
            raise ValueError("reconcile_delays needs at least one entry")
        self.client = client
        self.recorder = recorder
        self.blotter = blotter
        self._delays = tuple(delays)
        self._sleep = sleep
        self.unknown: dict[ParsedDraft, UnresolvedOrder] = {}

    def waiting(self) -> set[str]:
        """The cOIDs being looked for."""
        return {e.coid for e in self.unknown.values()}

    def abandoned(self, parsed: ParsedDraft, coid: str) -> None:
        """The submission was cancelled (the screen went away) while IBKR may have the order:
        hold the draft as unknown, like a lost answer."""
        order = describe_parsed(parsed)
        self.unknown[parsed] = UnresolvedOrder(coid, order)
        self.recorder.note_now(
            "unknown_outcome", coid, reason="the submission was abandoned", order=order
        )

    async def unknown_outcome(
        self,
        parsed: ParsedDraft,
        coid: str,
        reason: str,
        answers: tuple[AnsweredQuestion, ...],
    ) -> SubmitOutcome:
        order = describe_parsed(parsed)
        self.unknown[parsed] = UnresolvedOrder(coid, order)  # held until its fate is known
        self.client.question_gate.release()  # no question is open any more: the console goes on
        await self.recorder.note("unknown_outcome", coid, reason=reason, order=order)
        found = await self.find(coid)
        if found is not None:
            return await self.found(coid, found, answers, reason)
        await self.recorder.note("reconciled", coid, found=False, result="still unknown")
        return SubmitOutcome(
            SubmitStatus.UNKNOWN,
            f"{CHECK_ORDERS} ({reason}); this order will not be sent again until its fate is known",
            coid=coid,
            answers=answers,
        )

    async def found(
        self,
        coid: str,
        live: LiveOrder,
        answers: tuple[AnsweredQuestion, ...],
        reason: str,
    ) -> SubmitOutcome:
        self.blotter.refs[live.order_id] = coid
        self._forget(coid)
        await self.recorder.note(
            "reconciled",
            coid,
            found=True,
            order_id=live.order_id,
            status=live.status,
            result="found by cOID",
        )
        return SubmitOutcome(
            SubmitStatus.ACCEPTED,
            f"{state_word(live.status)}: order {live.order_id} {live.status.value} (found by its "
            f"cOID after: {reason})",
            coid=coid,
            order_id=live.order_id,
            order_status=live.status,
            answers=answers,
        )

    async def find(self, coid: str) -> LiveOrder | None:
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

    async def retry_of_unknown(
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
        entry = next((e for e in self.unknown.values() if e.coid == coid), None)
        found = await self.find(coid)
        if found is not None:
            return await self.found(coid, found, (), "a second look")
        await self.recorder.note("reconciled", coid, found=False, result="still unknown")
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
        held = self._forget(coid)
        if held:
            await self.recorder.note("reconciled", coid, found=False, result="released by you")
        return held

    def _forget(self, coid: str) -> bool:
        """No longer hold the drafts sent with this cOID; False if none was held."""
        keys = [k for k, e in self.unknown.items() if e.coid == coid]
        for key in keys:
            del self.unknown[key]
        return bool(keys)


def describe_parsed(parsed: ParsedDraft) -> str:
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
