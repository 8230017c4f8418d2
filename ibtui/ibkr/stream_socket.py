"""The WebSocket under :class:`~ibtui.ibkr.stream.MarketStream`: its URL, the one socket
library it uses (httpx-ws, on the client's own ``httpx.AsyncClient``) and what its failures mean
in one line.

A :data:`Connector` opens one socket (``async with connect(url, headers) as socket``); the stream
only sends text and receives frames through :class:`StreamSocket`, so its tests script one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import httpx

__all__ = [
    "MAX_MESSAGE",
    "STREAM_USER_AGENT",
    "Connector",
    "HttpFactory",
    "StreamSocket",
    "connect_httpx_ws",
    "socket_failure",
    "stream_url",
]

STREAM_USER_AGENT = "ClientPortalGW/1"  # what ibind sends on OAuth sockets (API.md §10.1)
MAX_MESSAGE = 4 * 2**20  # bytes of one frame (the account list, a burst of orders)


class StreamSocket(Protocol):
    """One open WebSocket as the stream uses it."""

    async def send_text(self, text: str) -> None: ...

    async def receive(self) -> str | bytes:
        """The next frame's payload; raises ConnectionError (or another) once it is closed."""
        ...


Connector = Callable[[str, Mapping[str, str]], contextlib.AbstractAsyncContextManager[StreamSocket]]


def stream_url(base_url: str, access_token: str) -> str:
    """``https://api.ibkr.com/v1/api/`` → ``wss://api.ibkr.com/v1/api/ws?oauth_token=…``."""
    url = httpx.URL(base_url.rstrip("/") + "/ws")
    scheme = {"https": "wss", "http": "ws"}.get(url.scheme, url.scheme)
    return str(url.copy_with(scheme=scheme, params={"oauth_token": access_token}))


class _HttpxWsSocket:
    def __init__(self, ws: Any) -> None:
        import wsproto.events

        self._ws = ws
        self._text = wsproto.events.TextMessage  # the frames IBKR sends, told apart first
        self._messages = (wsproto.events.TextMessage, wsproto.events.BytesMessage)
        self._close = wsproto.events.CloseConnection

    async def send_text(self, text: str) -> None:
        await self._ws.send_text(text)

    async def receive(self) -> str | bytes:
        while True:
            event = await self._ws.receive()
            if type(event) is self._text:
                return event.data
            if isinstance(event, self._messages):
                data = event.data
                return bytes(data) if isinstance(data, bytearray) else data
            if isinstance(event, self._close):
                raise ConnectionError(f"closed by the server ({event.code})")


HttpFactory = Callable[[], contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


def connect_httpx_ws(http: httpx.AsyncClient | HttpFactory) -> Connector:
    """A connector over httpx-ws: on ``http`` (the client's own, over a socket), or on a client
    that ``http()`` opens for each connection and closes after it (the in-process simulator's:
    ``ibtui.sim.demo.DemoEnvironment.stream_http``, an ``ASGIWebSocketTransport`` whose task
    group lives as long as the socket). The upgrade is unsigned, like ibind's."""

    @contextlib.asynccontextmanager
    async def client() -> AsyncIterator[httpx.AsyncClient]:
        if isinstance(http, httpx.AsyncClient):
            yield http
        else:
            async with http() as opened:
                yield opened

    @contextlib.asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[StreamSocket]:
        from httpx_ws import AsyncWebSocketSession, aconnect_ws

        session: AsyncWebSocketSession
        async with (
            client() as opened,
            aconnect_ws(
                url,
                opened,
                headers=dict(headers),
                auth=httpx.Auth(),  # the upgrade carries no OAuth signature (API.md §10.1)
                max_message_size_bytes=MAX_MESSAGE,
                keepalive_ping_interval_seconds=None,  # IBKR's own heartbeats, on our clock
            ) as session,
        ):
            yield _HttpxWsSocket(session)

    return connect


def socket_failure(exc: BaseException, what: str = "") -> str:
    """What ended a socket, in one line (``what`` first for a failure the library does not
    name: "the connection dropped (...)")."""
    if isinstance(exc, BaseExceptionGroup):
        exc = first_failure(exc)
    code = getattr(exc, "code", None)
    if type(exc).__name__ == "WebSocketDisconnect" and isinstance(code, int):
        return f"the server closed the connection (code {int(code)})"
    response = getattr(exc, "response", None)
    if type(exc).__name__ == "WebSocketUpgradeError" and isinstance(response, httpx.Response):
        return f"the server refused the connection (HTTP {response.status_code})"
    return f"{what} ({describe(exc)})" if what else describe(exc)


def first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that ended a socket's tasks (the others were cancelled because of it)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            exc = first_failure(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line[:200]


def describe(exc: BaseException) -> str:
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
