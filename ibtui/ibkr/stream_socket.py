"""The WebSocket under :class:`~ibtui.ibkr.stream.MarketStream`: its URL, the two libraries that
open it and what their failures mean in one line.

* :func:`connect_websockets`: a real socket (``wss://`` to IBKR, ``ws://`` to ``ibtui sim`` on a
  loopback port) over the ``websockets`` library's asyncio client, with the TLS, proxy and
  timeout settings of the client's ``httpx.AsyncClient``. The stream's default: its cost per
  frame is well under httpx-ws's (``benchmarks/bench_frames.py``).
* :func:`connect_httpx_ws`: httpx-ws on an ``httpx.AsyncClient``, for the in-process simulator
  (``ibtui demo`` and the tests serve the stream from an ASGI app through httpx-ws's
  ``ASGIWebSocketTransport``, which no socket library can reach).

Both libraries are imported when a socket opens, not with this module.

A :data:`Connector` opens one socket (``async with connect(url, headers) as socket``); the stream
only sends text and receives frames through :class:`StreamSocket`, so its tests script one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

if TYPE_CHECKING:
    import ssl

__all__ = [
    "MAX_MESSAGE",
    "STREAM_USER_AGENT",
    "Connector",
    "HttpFactory",
    "SocketClosed",
    "StreamSocket",
    "connect_httpx_ws",
    "connect_websockets",
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


class SocketClosed(ConnectionError):
    """The socket closed: by the server with a close ``code``, or dropped (``None``: no close
    frame came)."""

    def __init__(self, code: int | None) -> None:
        super().__init__("no close frame" if code is None else f"closed by the server ({code})")
        self.code = code


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
                raise SocketClosed(event.code)


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


class _WebsocketsSocket:
    def __init__(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        self._ws = ws
        self._recv = ws.recv  # once a frame: bound once
        self._closed = ConnectionClosed

    async def send_text(self, text: str) -> None:
        await self._ws.send(text)

    async def receive(self) -> str | bytes:
        try:
            data: str | bytes = await self._recv()
        except self._closed as exc:
            if exc.rcvd is None and exc.sent is not None:  # we closed it: a frame over max_size
                reason = one_line(f"code {exc.sent.code}: {exc.sent.reason}")
                raise ConnectionError(f"closed on our side ({reason})") from None
            raise SocketClosed(None if exc.rcvd is None else exc.rcvd.code) from None
        return data


# websockets' own logger would show the upgrade's request line (the access token is in its
# query) at DEBUG, and every frame: it gets one of its own that says warnings and errors only,
# whatever level ibtui's loggers are set to
_WEBSOCKETS_LOG = logging.getLogger("ibtui.ibkr.stream_socket.websockets")
_WEBSOCKETS_LOG.setLevel(logging.WARNING)


def connect_websockets(http: httpx.AsyncClient) -> Connector:
    """A connector over the ``websockets`` library, set up as ``http`` makes its requests: TLS
    verified against the same certificates (``httpx.create_ssl_context``: certifi, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when the client trusts the environment), the proxy of
    the environment (``HTTPS_PROXY``, ``NO_PROXY``) when it trusts it, and an opening deadline of
    its connect and read timeouts (the connection, then the upgrade's answer). No compression
    and no pings of the library's own: IBKR's heartbeats go out on the stream's clock. The
    upgrade is unsigned, like ibind's."""
    tls: list[ssl.SSLContext] = []  # built at the first wss:// socket (certifi's file is read)

    def tls_context() -> ssl.SSLContext:
        if not tls:
            tls.append(httpx.create_ssl_context(trust_env=http.trust_env))
        return tls[0]

    timeout = http.timeout
    opening = (
        None if timeout.connect is None or timeout.read is None else timeout.connect + timeout.read
    )

    @contextlib.asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[StreamSocket]:
        from websockets.asyncio.client import connect as ws_connect

        extra = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
        agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
        options: dict[str, Any] = {}
        if url.startswith("wss:"):
            options["ssl"] = tls_context()
        async with ws_connect(
            url,
            additional_headers=extra,
            user_agent_header=agent,
            compression=None,
            max_size=MAX_MESSAGE,
            ping_interval=None,  # IBKR's own heartbeats, on our clock
            open_timeout=opening,
            close_timeout=1.0,  # a stalled server's socket is left soon, for a new one
            proxy=True if http.trust_env else None,
            logger=_WEBSOCKETS_LOG,
            **options,
        ) as ws:
            yield _WebsocketsSocket(ws)

    return connect


def socket_failure(exc: BaseException, what: str = "") -> str:
    """What ended a socket, in one line (``what`` first for a failure the library does not
    name: "the connection dropped (...)"). Never the URL: its query holds the access token."""
    if isinstance(exc, BaseExceptionGroup):
        exc = first_failure(exc)
    name = type(exc).__name__
    code = getattr(exc, "code", None)
    if name in ("WebSocketDisconnect", "SocketClosed") and isinstance(code, int):
        return f"the server closed the connection (code {int(code)})"
    rcvd = getattr(exc, "rcvd", None)
    if name.startswith("ConnectionClosed") and rcvd is not None:  # websockets'
        return f"the server closed the connection (code {int(rcvd.code)})"
    if name == "SocketClosed" or name.startswith("ConnectionClosed"):
        return f"{what or 'the connection dropped'} (no close frame)"
    response = getattr(exc, "response", None)
    if name == "WebSocketUpgradeError" and isinstance(response, httpx.Response):
        return f"the server refused the connection (HTTP {response.status_code})"
    status = getattr(response, "status_code", None)
    if name == "InvalidStatus" and isinstance(status, int):  # websockets'
        return f"the server refused the connection (HTTP {status})"
    if name in ("InvalidURI", "InvalidProxy"):  # their text holds the URL
        text = f"{name}: {one_line(str(getattr(exc, 'msg', '')))}"
        return f"{what} ({text})" if what else text
    if isinstance(exc, TimeoutError) and not str(exc):
        text = "timed out"
        return f"{what} ({text})" if what else text
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


_TOKEN_IN_URL = re.compile(r"(oauth_token=)[^&#\s'\"]+")


def describe(exc: BaseException) -> str:
    """``Type: message`` in one line; an access token in a URL of the message is masked."""
    text = _TOKEN_IN_URL.sub(r"\1<access token>", one_line(str(exc)))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
