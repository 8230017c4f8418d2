"""Assemble a ready :class:`IbkrClient`: HTTP client, LST session, signer and pacer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ibtui import __version__
from ibtui.ibkr.auth import LstSigner
from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.models import AuthStatus, IserverAccounts
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.session import AccessCredentials, Consumer, LiveSession

__all__ = ["Connection", "connect"]

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=10.0)


@dataclass(slots=True)
class Connection:
    """An open connection: the client, its LST session and the underlying HTTP client."""

    http: httpx.AsyncClient
    session: LiveSession
    client: IbkrClient

    async def start(self) -> tuple[AuthStatus, IserverAccounts]:
        """IBKR's start-up order: LST, brokerage session, then ``/iserver/accounts``."""
        await self.session.current_lst()
        status = await self.client.init_brokerage()
        return status, await self.client.iserver_accounts()

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
) -> Connection:
    """A connection to ``base_url``; TLS certificates are always verified (httpx's default)."""
    http = httpx.AsyncClient(
        transport=transport,
        timeout=DEFAULT_TIMEOUT,
        headers={"User-Agent": f"ibtui/{__version__}", "Accept": "application/json"},
    )
    session = LiveSession(http, base_url, consumer, access, clock=clock, renew_margin=renew_margin)
    http.auth = LstSigner(
        consumer_key=consumer.consumer_key,
        realm=consumer.realm,
        access_token=access.access_token,
        tokens=session,
    )
    return Connection(http, session, IbkrClient(http, base_url, pacer=pacer))
