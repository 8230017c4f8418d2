"""The audit journal as the order service writes it: one line per step, for one account.

A line the service cannot go on without (the intent, the validation, the request) is
``required``: when it cannot be written :class:`JournalUnavailable` stops the order before it is
sent. Any other failed write is kept in :attr:`Recorder.error` and the order goes on.
"""

from __future__ import annotations

from ibtui.ibkr.errors import IbkrError, OrderRejectedError
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

__all__ = ["JournalUnavailable", "Recorder", "draft_fields", "rejection", "result_fields"]


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


def rejection(exc: IbkrError) -> str:
    if isinstance(exc, OrderRejectedError):
        return f"rejected by IBKR: {exc.text}"
    return f"not placed: {exc}"
