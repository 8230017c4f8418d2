"""The audit journal as the order service writes it: one line per step, for one account.

A line the service cannot go on without (the intent, the validation, the request) is
``required``: when it cannot be written :class:`JournalUnavailable` stops the order before it is
sent. Any other failed write is kept in :attr:`Recorder.error` and the order goes on.
"""

from __future__ import annotations

from ibtui.ibkr.errors import (
    CompetingSessionError,
    IbkrError,
    NoBridgeError,
    OrderRejectedError,
    SessionExpiredError,
)
from ibtui.ibkr.models import (
    Accepted,
    OrderError,
    PlaceResult,
    ReplyRequired,
    ServerPrompt,
    plain_text,
)
from ibtui.trading.draft import OrderDraft
from ibtui.trading.journal import Journal

__all__ = [
    "JournalUnavailable",
    "Recorder",
    "draft_fields",
    "not_placed",
    "rejection",
    "result_fields",
]


class JournalUnavailable(Exception):
    """A required journal line could not be written: nothing is sent."""


class Recorder:
    """Journal lines for one account's orders."""

    def __init__(self, journal: Journal, account_id: str) -> None:
        self.journal = journal
        self.account_id = account_id
        self.error: OSError | None = None  # the last failed write, if any

    async def note(
        self, event: str, coid: str | None = None, *, required: bool = False, **fields: object
    ) -> None:
        try:
            await self.journal.arecord(event, account=self.account_id, coid=coid, **fields)
        except OSError as exc:
            self.error = exc
            if required:
                raise JournalUnavailable(str(exc)) from exc

    def note_now(self, event: str, coid: str | None, **fields: object) -> None:
        """A line written at once (where awaiting is not possible: a task being cancelled)."""
        try:
            self.journal.record(event, account=self.account_id, coid=coid, **fields)
        except OSError as exc:
            self.error = exc


def result_fields(result: PlaceResult) -> dict[str, object]:
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


def draft_fields(draft: OrderDraft) -> dict[str, object]:
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


def rejection(exc: OrderRejectedError) -> str:
    """IBKR took the order (or the change) and refused it: its reason."""
    return f"rejected by IBKR: {exc.text}"


def not_placed(exc: IbkrError, *, order_id: int | None = None) -> str:
    """The line for an order the session or the gateway refused before IBKR took it (with
    ``order_id``: a change of that order): what happened, that nothing reached the market, and
    what the trader can do. Never "rejected": IBKR did not see the order."""
    again = "send it again" if order_id is None else "make the change again"
    if isinstance(exc, SessionExpiredError) and exc.status == 410:
        reason = "IBKR says this session is gone (410)"
        advice = f"{again} when the session is back"
    elif isinstance(exc, SessionExpiredError):
        reason = "IBKR no longer accepts this session (expired or logged out)"
        advice = f"{again} when the session is back; if this keeps happening, run `ibtui login`"
    elif isinstance(exc, CompetingSessionError):
        reason = (
            "another IBKR login (TWS, IBKR Mobile, Client Portal or another ibtui) holds the "
            "brokerage session"
        )
        advice = (
            f"take the session back from the console or log out of the other platform, then {again}"
        )
    elif isinstance(exc, NoBridgeError):
        reason = "IBKR has no brokerage session open (no bridge)"
        advice = (
            f"ibtui reopens it: {again} in a moment (if this persists, another IBKR login may "
            "hold the session)"
        )
    else:
        reason = str(exc).rstrip(". ")
        advice = f"{again} once that is resolved"
    if order_id is None:
        return f"Not placed: {reason}. Nothing was sent to the market; {advice}."
    return f"Not changed: {reason}. Order {order_id} stays as it was; {advice}."
