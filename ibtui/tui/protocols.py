"""What the console needs from the outside world, as small protocols the lead's wiring adapts to.

The screens never import the IBKR client: a :class:`LoginFlow` runs the third-party OAuth login,
and the poller talks to a :class:`Broker`. Both are implemented over ``ibtui.ibkr`` by adapters;
tests may implement them with view-models they build themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, SessionState

__all__ = [
    "Broker",
    "LinkUsedUp",
    "LoginFlow",
    "LoginPrompt",
    "LoginStep",
    "PacedQuotes",
    "Progress",
]


class LoginStep(StrEnum):
    """The visible steps after the verifier is entered, in order."""

    ACCESS_TOKEN = "access token"  # noqa: S105 (a step name)
    LIVE_SESSION_TOKEN = "live session token"  # noqa: S105 (a step name)
    BROKERAGE_SESSION = "brokerage session"


Progress = Callable[[LoginStep], None]


class LinkUsedUp(Exception):
    """The verifier was refused and the authorize link is spent (IBKR's request tokens are single
    use): the login goes on with a new link. ``str()`` is shown to the user."""


@dataclass(frozen=True, slots=True)
class LoginPrompt:
    """Where the user authorizes ibtui, and an optional hint (the simulator's verifier)."""

    authorize_url: str
    hint: str | None = None


class LoginFlow(Protocol):
    """The out-of-band (``oauth_callback=oob``) third-party login.

    ``start`` gets a request token and returns its authorize URL; it may be called again for a
    fresh link. ``complete`` exchanges the verifier for an access token, then acquires the live
    session token and opens the brokerage session, calling ``progress(step)`` as each step
    *starts*. Failures raise an exception whose ``str()`` is shown to the user as is (so it must
    be readable and free of secrets); the screen stays usable and the user may retry. A refused
    verifier raises :class:`LinkUsedUp`: the retry needs a new link.
    """

    async def start(self) -> LoginPrompt: ...

    async def complete(self, verifier: str, progress: Progress) -> None: ...


@runtime_checkable
class SessionWatch(Protocol):
    """A :class:`Broker` that also tells, as it happens, when it reopens a brokerage session it
    lost (IBKR's nightly reset): ``RECONNECTING``, then ``CONNECTED``. One listener at a time."""

    def watch_session(self, listener: Callable[[SessionState], None] | None) -> None: ...


@runtime_checkable
class PacedQuotes(Protocol):
    """A :class:`Broker` whose quotes are paced: ``snapshot_rate`` is how many snapshot requests
    a second its client lets through (IBKR's limits as the client's pacer holds them), None when
    nothing limits them. The poller plans its rounds within it."""

    def snapshot_rate(self) -> float | None: ...


class Broker(Protocol):
    """The data the console polls, already converted to view-models.

    ``quotes`` takes at most 100 conids; a conid seen for the first time may be missing from the
    answer (IBKR's warm-up snapshot), which is not an error. A quote's ``updated_at`` is when it
    was received; one left None is stamped by the poller when the answer is handed to it.
    ``keep_alive`` tickles the session and reports its state; ``take_back`` (the trader asked)
    takes the brokerage session back from a competing login even if it was taken back moments
    ago. ``lst_expires_at`` is epoch seconds (None before the first token).
    """

    async def accounts(self) -> Sequence[AccountView]: ...

    async def select_account(self, account_id: str) -> None: ...

    async def positions(self, account_id: str) -> Sequence[PositionView]: ...

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]: ...

    async def keep_alive(self, *, take_back: bool = False) -> SessionState: ...

    def lst_expires_at(self) -> float | None: ...
