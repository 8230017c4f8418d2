"""Order confirmation questions ("reply messages") and the chain of reply ids."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the first order (see routes_orders)
    from ibtui.sim.orders import Ticket

__all__ = ["PendingReply", "Question", "ReplyBook", "questions_for"]


@dataclass(frozen=True)
class Question:
    message_id: str
    text: str


def _order_text(t: Ticket, price: Decimal) -> str:
    from ibtui.sim.orders import fmt_price, fmt_qty

    inst = t.instrument
    where = f"{inst.symbol} {inst.listing_exchange}"
    return f'"{t.side} {fmt_qty(t.quantity)} {where} @ {fmt_price(price)}"'


def questions_for(
    tickets: list[Ticket],
    last_prices: dict[int, Decimal],
    has_market_data: set[int],
    pct_limit: Decimal,
    value_limit_usd: Decimal,
    usd_per_unit: dict[str, Decimal],
    stop_question: bool,
) -> list[Question]:
    """The questions IBKR would ask before accepting these orders (o163, o354, o451, o10331)."""
    out: list[Question] = []
    seen: set[str] = set()

    def ask(q: Question) -> None:
        if q.message_id not in seen:
            seen.add(q.message_id)
            out.append(q)

    for t in tickets:
        conid = t.instrument.conid
        last = last_prices[conid]
        ref = t.price if t.price is not None else (t.aux_price if t.aux_price is not None else last)
        if t.price is not None and last > 0 and abs(t.price - last) / last * 100 > pct_limit:
            ask(
                Question(
                    "o163",
                    f"The following order {_order_text(t, t.price)} price exceeds \n"
                    f"the Percentage constraint of {pct_limit}%.\n"
                    "Are you sure you want to submit this order?",
                )
            )
        if conid not in has_market_data:
            ask(
                Question(
                    "o354",
                    "You are submitting an order without market data. We strongly recommend "
                    "against this as it may result in erroneous and unexpected trades.\n"
                    "Are you sure you want to submit this order?",
                )
            )
        value = t.quantity * ref * usd_per_unit.get(t.instrument.currency, Decimal(1))
        if value > value_limit_usd:
            ask(
                Question(
                    "o451",
                    f"The following order {_order_text(t, ref)} value estimate of "
                    f"{value:,.2f} USD exceeds \n"
                    f"the Total Value Limit of {value_limit_usd:,.0f} USD.\n"
                    "Are you sure you want to submit this order?",
                )
            )
        if stop_question and t.order_type in ("STP", "STOP_LIMIT"):
            ask(
                Question(
                    "o10331",
                    "You are about to submit a stop order. Please be aware of the various stop "
                    "order types available and the risks associated with each one.\n"
                    "Are you sure you want to submit this order?",
                )
            )
    return out


@dataclass
class PendingReply:
    """An order request waiting on answers: ``action`` runs once every question is confirmed."""

    kind: str  # "place" | "modify"
    account_id: str
    tickets: list[Ticket]
    questions: list[Question]  # still to be asked after the current one
    expires_at: float
    order_id: int | None = None  # modify


class ReplyBook:
    """Outstanding reply ids of one brokerage session (UUIDs from a seeded generator)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._pending: dict[str, PendingReply] = {}
        self._withdrawn: set[str] = set()  # questions another request withdrew (fault reply503)

    def ask(self, pending: PendingReply, question: Question) -> list[dict[str, Any]]:
        rid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._pending[rid] = pending
        return [
            {
                "id": rid,
                "message": [question.text],
                "isSuppressed": False,
                "messageIds": [question.message_id],
            }
        ]

    def take(self, reply_id: str, now: float) -> PendingReply | None:
        """The pending request for ``reply_id`` (each id answers once; expired ids are gone)."""
        self._expire(now)
        return self._pending.pop(reply_id, None)

    def withdraw(self) -> None:
        """Another request came between the open questions and their replies: IBKR drops them
        (their replies answer 503, see :meth:`was_withdrawn`; nothing is placed)."""
        self._withdrawn.update(self._pending)
        self._pending.clear()

    def was_withdrawn(self, reply_id: str) -> bool:
        """True (once) when ``reply_id`` was withdrawn by :meth:`withdraw`."""
        if reply_id in self._withdrawn:
            self._withdrawn.discard(reply_id)
            return True
        return False

    def _expire(self, now: float) -> None:
        for rid in [r for r, p in self._pending.items() if p.expires_at < now]:
            del self._pending[rid]

    def clear(self) -> None:
        self._pending.clear()
        self._withdrawn.clear()
