"""Assemble a ready :class:`IbkrClient`: HTTP client, LST session, signer and pacer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from ibtui import __version__
from ibtui.ibkr.auth import LstSigner
from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.deadline import REQUEST_DEADLINE, DeadlineTransport
from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.http_client import DEFAULT_TIMEOUT, new_http_client
from ibtui.ibkr.models import AuthStatus, IserverAccounts
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.recovery import RecoverySettings
from ibtui.ibkr.session import AccessCredentials, Consumer, LiveSession
from ibtui.logfile import redact_in_logs

__all__ = ["Connection", "KeepAlive", "Recovery", "connect"]

_log = logging.getLogger(__name__)
RECLAIM_EVERY = 300.0  # take the session back from a competing login at most this often


class Recovery(StrEnum):
    """What :meth:`Connection.keep_alive` had to do to keep the brokerage session open."""

    NONE = "none"
    REOPENED = "reopened"  # no bridge / not authenticated (nightly reset, dropped session)
    RECLAIMED = "reclaimed"  # taken back from a competing login
    COMPETING = "competing"  # another login holds it and was reclaimed too recently to fight


@dataclass(frozen=True, slots=True)
class KeepAlive:
    status: AuthStatus | None
    recovery: Recovery

    @property
    def healthy(self) -> bool:
        return self.status is not None and self.status.healthy


@dataclass(slots=True)
class Connection:
    """An open connection: the client, its LST session and the underlying HTTP client."""

    http: httpx.AsyncClient
    session: LiveSession
    client: IbkrClient
    clock: Callable[[], float] = time.monotonic
    reclaim_every: float = RECLAIM_EVERY
    _last_reclaim: float | None = field(default=None, repr=False)

    async def start(self) -> tuple[AuthStatus, IserverAccounts]:
        """IBKR's start-up order: LST, brokerage session, then ``/iserver/accounts``."""
        await self.session.current_lst()
        status, accounts = await self.client.open_brokerage()
        return status, accounts if accounts is not None else await self.client.iserver_accounts()

    async def keep_alive(self, *, take_back: bool = False) -> KeepAlive:
        """Tickle (IBKR wants one a minute), and open the brokerage session again when it is
        gone: after IBKR's nightly reset or a lost bridge it is re-initialised at once; when a
        competing login (TWS, the mobile app) took it, it is taken back, but not twice within
        ``reclaim_every`` seconds, so two platforms never fight over it in a loop.
        ``take_back`` (the trader asked for it) takes it back whenever it was last taken."""
        status = (await self.client.tickle()).auth_status
        if status is not None and status.healthy:
            return KeepAlive(status, Recovery.NONE)
        if status is not None and status.competing:
            now = self.clock()
            if not take_back and (self.reclaim_in() or 0.0) > 0:
                return KeepAlive(status, Recovery.COMPETING)
            previous, self._last_reclaim = self._last_reclaim, now
            recovery = Recovery.RECLAIMED
            _log.info("another login held the brokerage session; taking it back")
        else:
            recovery = Recovery.REOPENED
            _log.info("the brokerage session was gone (no bridge); opening it again")
        # One init for all: the gate polls the status until authenticated and lists the
        # accounts; requests that met the dropped session meanwhile wait for it.
        try:
            status, _ = await self.client.open_brokerage(compete=True)
        except IbkrError:
            if recovery is Recovery.RECLAIMED:
                # The take-back failed (a 503 from IBKR's backend, no answer, a dropped
                # connection): it does not count, so the next keep-alive tries again instead of
                # one 5 minutes later. Should IBKR have carried it out after all, the next status
                # says so; two platforms fight only over take-backs that worked.
                self._last_reclaim = previous
            raise
        return KeepAlive(status, recovery)

    def reclaim_in(self) -> float | None:
        """Seconds until :meth:`keep_alive` may take a competing login's session back on its
        own (None: it never had to; 0: it may now)."""
        if self._last_reclaim is None:
            return None
        return max(0.0, self._last_reclaim + self.reclaim_every - self.clock())

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def connect(
    base_url: str,
    consumer: Consumer,
    access: AccessCredentials,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    pacer: Pacer | None = None,
    renew_margin: float = 600.0,
    recovery: RecoverySettings | None = None,
    request_deadline: float = REQUEST_DEADLINE,
) -> Connection:
    """A connection to ``base_url``; TLS certificates are always verified (httpx's default),
    answers are capped (:data:`~ibtui.ibkr.http_client.BODY_LIMIT`) and every request gets
    ``request_deadline`` seconds for its answer and whole body."""
    redact_in_logs(access.access_token_secret)
    http = new_http_client(
        transport=DeadlineTransport(transport or httpx.AsyncHTTPTransport(), request_deadline),
        timeout=DEFAULT_TIMEOUT,
        headers={"User-Agent": f"ibtui/{__version__}", "Accept": "application/json"},
    )
    session = LiveSession(
        http, base_url, consumer, access, clock=clock, renew_margin=renew_margin, recovery=recovery
    )
    http.auth = LstSigner(
        consumer_key=consumer.consumer_key,
        realm=consumer.realm,
        access_token=access.access_token,
        tokens=session,
    )
    return Connection(
        http, session, IbkrClient(http, base_url, pacer=pacer, recovery=recovery, tokens=session)
    )
