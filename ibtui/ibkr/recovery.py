"""Recovering from the real IBKR's misbehaviour without a restart.

:class:`BrokerageGate` puts every brokerage-session (re-)init of one client behind one lock.
After any init it polls ``/iserver/auth/status`` until the session is authenticated (IBKR says
"no bridge" for a while after ``ssodh/init``), then lists ``/iserver/accounts`` (IBKR refuses
other ``/iserver/*`` calls until it has been asked: "Please query /accounts first"). Requests
that meet a dropped session while an init runs wait for that init instead of starting their
own. Listeners hear "reconnecting" when a session that was open is opened again, and
"connected" when it works again.

:class:`RecoverySettings` holds the pauses and limits: 410 Gone on a valid session is retried
after a pause with the same token, and only a run of them makes a new token; an empty
Diffie-Hellman answer is asked again with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ibtui.ibkr.errors import ProtocolError

if TYPE_CHECKING:
    from ibtui.ibkr.models import AuthStatus, IserverAccounts

__all__ = [
    "BrokerageGate",
    "EmptyDhResponseError",
    "RecoverySettings",
    "SessionListener",
    "is_session_setup",
]

log = logging.getLogger(__name__)

SessionListener = Callable[[bool], None]
"""Called with True when a brokerage session that was open is being opened again, and with
False once it works again."""

_REINITS = 2  # inits again within one open when the status says the session is gone

# /iserver endpoints of the brokerage session's own set-up: they never wait for it.
_SETUP = frozenset({"/iserver/auth/ssodh/init", "/iserver/auth/status", "/iserver/accounts"})


def is_session_setup(endpoint: str) -> bool:
    return endpoint in _SETUP or endpoint == "/iserver/reauthenticate"


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    gone_pause: float = 1.0  # after a 410 Gone, wait this long and retry with the same LST
    gone_limit: int = 3  # this many 410s in a row: a new LST and a new brokerage session
    status_polls: int = 20  # after an init, ask /iserver/auth/status at most this often
    status_every: float = 0.5  # seconds between those polls
    dh_attempts: int = 4  # LST exchanges tried when the Diffie-Hellman answer comes back empty
    dh_backoff: float = 0.5  # seconds before the second try, doubling


class EmptyDhResponseError(ProtocolError):
    """``oauth/live_session_token`` answered without a Diffie-Hellman response, every time."""

    def __init__(self, attempts: int) -> None:
        super().__init__(
            "/oauth/live_session_token",
            f"IBKR sent an empty Diffie-Hellman response {attempts} times in a row (its login "
            "service is not ready); try again in a few minutes",
        )


class BrokerageGate:
    """One brokerage-session init at a time for one client; see the module docstring."""

    def __init__(
        self,
        settings: RecoverySettings,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.epoch = 0  # inits done
        self.ready = False  # the accounts were listed after the last init
        self.accounts: IserverAccounts | None = None  # as listed after the last init
        self._listener: SessionListener | None = None

    def listen(self, listener: SessionListener | None) -> None:
        """Hear about re-inits (one listener: the newest replaces any before it)."""
        self._listener = listener

    def _tell(self, reconnecting: bool) -> None:
        if self._listener is not None:
            self._listener(reconnecting)

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def open(
        self,
        init: Callable[[], Awaitable[AuthStatus]],
        status: Callable[[], Awaitable[AuthStatus]],
        list_accounts: Callable[[], Awaitable[IserverAccounts]],
        *,
        seen: int | None = None,
    ) -> AuthStatus | None:
        """Init the brokerage session, wait until it is authenticated, list the accounts.

        ``seen`` is the :attr:`epoch` the caller saw fail: when another init finished since, the
        caller just goes on (None: init in any case). Returns the last auth status, or None when
        another caller's init made this one unnecessary."""
        async with self._lock:
            if seen is not None and self.epoch != seen:
                return None
            again = self.epoch > 0
            if again:
                log.info("reopening the brokerage session")
                self._tell(True)
            self.ready = False
            state = await init()
            polls = inits = 0
            while not state.authenticated and not state.competing:
                if polls >= self.settings.status_polls:
                    break
                polls += 1
                await self._sleep(self.settings.status_every)
                state = await status()
                if not state.connected and not state.competing and inits < _REINITS:
                    # not warming up but gone (a reset while it opened): waiting cannot help
                    inits += 1
                    log.info("the brokerage session ended while it opened; opening it again")
                    state = await init()
            self.epoch += 1
            if not state.authenticated:
                return state  # competing, or still not ready: the caller's next step tells
            self.accounts = await list_accounts()
            self.ready = True
            if again:
                self._tell(False)
            return state

    async def wait_ready(self, list_accounts: Callable[[], Awaitable[IserverAccounts]]) -> None:
        """Before an ``/iserver`` call: wait for an init under way, and list the accounts if an
        init has not (IBKR wants ``/iserver/accounts`` first after every init)."""
        if self.ready or (self.epoch == 0 and not self._lock.locked()):
            return
        async with self._lock:
            if not self.ready and self.epoch > 0:
                self.accounts = await list_accounts()
                self.ready = True
