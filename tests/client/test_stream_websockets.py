"""The stream's real socket over the ``websockets`` library (``connect_websockets``), against a
tiny WebSocket server on a loopback port: what it hands on, and its failures in one line with
no access token in them (nor in any log)."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response

from ibtui.ibkr.stream_socket import (
    MAX_MESSAGE,
    STREAM_USER_AGENT,
    SocketClosed,
    connect_websockets,
    socket_failure,
    stream_url,
)

TOKEN = "a1b2c3d4e5f6secrettoken"
HEADERS = {"Cookie": "api=session1", "User-Agent": STREAM_USER_AGENT}

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def loopback_server(
    handler: Handler, process_request: Callable[..., Any] | None = None
) -> AsyncIterator[str]:
    """A WebSocket server on 127.0.0.1; yields the stream's URL for it (token in the query)."""
    quiet = logging.getLogger("tests.loopback_server")
    quiet.setLevel(logging.WARNING)
    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request, logger=quiet
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield stream_url(f"http://127.0.0.1:{port}/v1/api/", TOKEN)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_frames_and_the_upgrade_are_as_ibkr_expects() -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen["path"] = ws.request.path
        seen["headers"] = ws.request.headers
        await ws.send('{"topic":"system"}')
        await ws.send(b'{"topic":"sts"}')
        seen["got"] = await ws.recv()
        await ws.close(1001, "going away")

    async with (
        httpx.AsyncClient() as http,
        loopback_server(handler) as url,
        connect_websockets(http)(url, HEADERS) as ws,
    ):
        assert await ws.receive() == '{"topic":"system"}'
        got = await ws.receive()
        assert got == b'{"topic":"sts"}' and type(got) is bytes
        await ws.send_text("tic")
        with pytest.raises(SocketClosed) as closed:
            await ws.receive()
    assert socket_failure(closed.value) == "the server closed the connection (code 1001)"
    assert seen["path"] == f"/v1/api/ws?oauth_token={TOKEN}"
    headers: Headers = seen["headers"]
    assert headers["Cookie"] == "api=session1"
    assert headers.get_all("User-Agent") == [STREAM_USER_AGENT]
    assert "Sec-WebSocket-Extensions" not in headers  # no compression
    assert seen["got"] == "tic"


async def test_a_frame_up_to_the_limit_is_read() -> None:
    big = "x" * (MAX_MESSAGE - 10)

    async def handler(ws: ServerConnection) -> None:
        await ws.send(big)
        await ws.wait_closed()

    async with (
        httpx.AsyncClient() as http,
        loopback_server(handler) as url,
        connect_websockets(http)(url, HEADERS) as ws,
    ):
        assert await ws.receive() == big


async def test_a_refused_upgrade_says_its_status_and_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(ws: ServerConnection) -> None:  # pragma: no cover (never upgraded)
        await ws.close()

    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(401, f"no such token {TOKEN}\n")

    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient() as http, loopback_server(handler, refuse) as url:
        with pytest.raises(InvalidStatus) as refused:
            async with connect_websockets(http)(url, HEADERS):
                pass  # pragma: no cover
    said = socket_failure(refused.value, "the connection failed")
    assert said == "the server refused the connection (HTTP 401)"
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("tests.")]
    assert not any(TOKEN in line for line in logged), logged


async def test_a_close_says_its_code() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(1011, "internal error")

    async with (
        httpx.AsyncClient() as http,
        loopback_server(handler) as url,
        connect_websockets(http)(url, HEADERS) as ws,
    ):
        with pytest.raises(ConnectionError) as closed:
            await ws.receive()
    said = socket_failure(closed.value, "the connection dropped")
    assert said == "the server closed the connection (code 1011)"


async def test_a_closed_port_says_the_connection_was_refused() -> None:
    url = stream_url(f"http://127.0.0.1:{closed_port()}/v1/api/", TOKEN)
    async with httpx.AsyncClient() as http:
        with pytest.raises(OSError) as refused:
            async with connect_websockets(http)(url, HEADERS):
                pass  # pragma: no cover
    said = socket_failure(refused.value, "the connection failed")
    assert said.startswith("the connection failed (")
    assert "Connect call failed" in said or "refused" in said.lower()
    assert TOKEN not in said


async def test_no_answer_to_the_upgrade_times_out_on_the_clients_timeouts() -> None:
    with socket.socket() as listener:  # accepts the connection (backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = stream_url(f"http://127.0.0.1:{port}/v1/api/", TOKEN)
        async with httpx.AsyncClient(timeout=httpx.Timeout(0.2, connect=0.1)) as http:
            with pytest.raises(TimeoutError) as late:
                async with connect_websockets(http)(url, HEADERS):
                    pass  # pragma: no cover
    said = socket_failure(late.value, "the connection failed")
    assert said.startswith("the connection failed (TimeoutError")
    assert TOKEN not in said


def test_a_url_in_a_failure_has_its_token_masked() -> None:
    from websockets.exceptions import InvalidURI

    said = socket_failure(InvalidURI(f"wss://host/ws?oauth_token={TOKEN}", "bad port"))
    assert said == "InvalidURI: bad port"
    said = socket_failure(OSError(f"cannot reach wss://h/ws?oauth_token={TOKEN}&x=1"), "failed")
    assert TOKEN not in said and "oauth_token=<access token>&x=1" in said


async def test_a_drop_without_a_close_frame_says_so() -> None:
    async def handler(ws: ServerConnection) -> None:
        ws.transport.abort()  # the TCP connection ends, no close frame

    async with (
        httpx.AsyncClient() as http,
        loopback_server(handler) as url,
        connect_websockets(http)(url, HEADERS) as ws,
    ):
        with pytest.raises(ConnectionError) as dropped:
            await ws.receive()
    said = socket_failure(dropped.value, "the connection dropped")
    assert said == "the connection dropped (no close frame)"


async def test_a_frame_over_the_limit_closes_the_socket_on_our_side() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("x" * (MAX_MESSAGE + 1))
        await ws.wait_closed()

    async with (
        httpx.AsyncClient() as http,
        loopback_server(handler) as url,
        connect_websockets(http)(url, HEADERS) as ws,
    ):
        with pytest.raises(ConnectionError) as closed:
            await ws.receive()
    said = socket_failure(closed.value, "the connection dropped")
    assert said.startswith("the connection dropped (ConnectionError: closed on our side (code 1009")
