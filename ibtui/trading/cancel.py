"""Cancels: one order, or every working order of the account (the kill switch)."""

from __future__ import annotations

from collections.abc import Iterable

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.errors import IbkrError, OrderOutcomeUnknownError, OrderRejectedError
from ibtui.ibkr.models import CancelResult, OrderState
from ibtui.trading.blotter import Blotter
from ibtui.trading.outcomes import CHECK_ORDERS, CancelOutcome, CancelStatus, KillSwitchResult
from ibtui.trading.record import Recorder, rejection

__all__ = ["Canceller"]


class Canceller:
    """Cancels for one account; never held up by a submission in flight."""

    def __init__(
        self, client: IbkrClient, account_id: str, recorder: Recorder, blotter: Blotter
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.recorder = recorder
        self.blotter = blotter

    async def cancel(self, order_id: int) -> CancelOutcome:
        """Ask IBKR to cancel one order (the order reaches Cancelled a moment later)."""
        coid = self.blotter.refs.get(order_id)
        await self.recorder.note("cancel_request", coid, order_id=order_id)
        try:
            result = await self.client.cancel_order(self.account_id, order_id)
        except OrderOutcomeUnknownError as exc:
            outcome = CancelOutcome(
                order_id, CancelStatus.UNKNOWN, f"{CHECK_ORDERS} ({exc.reason})"
            )
        except OrderRejectedError as exc:
            outcome = CancelOutcome(order_id, CancelStatus.REJECTED, rejection(exc))
        except IbkrError as exc:  # refused before IBKR took it (the session, the gateway)
            outcome = CancelOutcome(order_id, CancelStatus.REJECTED, f"not carried out: {exc}")
        else:
            if isinstance(result, CancelResult):
                text = result.message or "cancel requested"
                self.blotter.cancel_requested.add(order_id)
                outcome = CancelOutcome(order_id, CancelStatus.REQUESTED, text)
            else:
                outcome = CancelOutcome(
                    order_id, CancelStatus.REJECTED, f"rejected by IBKR: {result.text}"
                )
        await self.recorder.note(
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
        await self.recorder.note("kill_switch", phase="start")
        known = [
            oid
            for oid, (state, _) in self.blotter.seen.items()
            if _working(state) and oid not in self.blotter.cancel_requested
        ]
        outcomes = {oid: await self.cancel(oid) for oid in known}
        try:
            rows = await self.blotter.fresh_orders()
        except IbkrError as exc:
            await self.recorder.note("kill_switch", phase="list failed", error=str(exc))
            everything = await self.cancel(-1)  # IBKR: order id -1 cancels all open orders
            message = (
                f"could not list the orders ({exc}); asked IBKR to cancel all open orders: "
                f"{everything.message}"
            )
            result = KillSwitchResult((*outcomes.values(), everything), message)
            await self.recorder.note("kill_switch", phase="done", message=message)
            return result
        await self.blotter.observe(rows)
        finished = {o.order_id for o in rows if not o.status.is_working}
        for oid in [oid for oid, o in outcomes.items() if not o.requested and oid in finished]:
            del outcomes[oid]  # it filled or was cancelled meanwhile: nothing left to cancel
        for row in rows:
            if _working(row.status) and row.order_id not in outcomes:
                outcomes[row.order_id] = await self.cancel(row.order_id)
        result = KillSwitchResult(tuple(outcomes.values()), _kill_message(outcomes.values()))
        await self.recorder.note(
            "kill_switch",
            phase="done",
            requested=list(result.requested),
            failed=[{"order_id": o.order_id, "message": o.message} for o in result.failed],
            message=result.message,
        )
        return result


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
