"""Messages the background workers post to the screens.

Price ticks coalesce: when a :class:`QuotesUpdated` is still queued as the next one arrives, Textual
drops the older message after :meth:`QuotesUpdated.can_replace` has folded its quotes into the
newer one — a slow terminal processes one merged batch instead of a backlog of ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message

from ibtui.tui.viewmodels import AccountView, PositionView, QuotePlan, QuoteView, SessionState

__all__ = [
    "AccountsLoaded",
    "ErrorRaised",
    "PositionsUpdated",
    "QuotePlanChanged",
    "QuotesUpdated",
    "SessionStateChanged",
    "TokenLifetime",
]


@dataclass
class QuotesUpdated(Message):
    """New quotes by conid; a queued older batch merges into this one (newer values win).
    ``burst``: a stream's burst, every streamed instrument that moved at once (the feed's batch;
    merged with a poll's, it is no longer one)."""

    quotes: dict[int, QuoteView]
    received_at: float | None = None  # when the newest of these quotes arrived
    burst: bool = False

    def can_replace(self, message: Message) -> bool:
        # Textual asks the *older* queued message whether the next one may supersede it.
        if not isinstance(message, QuotesUpdated):
            return False
        merged = dict(self.quotes)
        merged.update(message.quotes)
        message.quotes = merged
        if message.received_at is None:
            message.received_at = self.received_at
        message.burst = message.burst and self.burst
        return True


@dataclass
class QuotePlanChanged(Message):
    """How fresh the poller can keep the quotes changed (the rows in view, the book's size, the
    pacing): the status bar states it while not every quote is asked every round."""

    plan: QuotePlan | None


@dataclass
class PositionsUpdated(Message):
    """The complete position list of one account (all pages)."""

    account_id: str
    positions: Sequence[PositionView]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PositionsUpdated) and message.account_id == self.account_id


@dataclass
class AccountsLoaded(Message):
    """The accounts the session can see."""

    accounts: Sequence[AccountView]


@dataclass
class SessionStateChanged(Message):
    """The brokerage session changed state (``detail`` is IBKR's or ibtui's explanation)."""

    state: SessionState
    detail: str = ""


@dataclass
class TokenLifetime(Message):
    """When the live session token expires (epoch seconds), after an acquisition or renewal."""

    expires_at: float | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TokenLifetime)


@dataclass
class ErrorRaised(Message):
    """Something failed; ``message`` is fit to show (no secrets), ``retry_in`` the back-off."""

    message: str
    retry_in: float | None = None
