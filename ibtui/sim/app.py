"""The ASGI app: ``create_app(sim)`` serves ``/v1/api/...`` in-process (httpx.ASGITransport) or
under uvicorn.

Every API request goes through :class:`Gateway`, in this order: authentication → pacing (and the
history concurrency slot) → scripted faults → the order book catches up with the clock → the
brokerage-session guard for ``/iserver/*`` → the route. ``/oauth/*`` and ``/authorize`` get the
scripted faults, then go straight to the authenticator's routes. The WebSocket, ``/v1/api/ws``, is
:mod:`ibtui.sim.stream`'s (it checks the upgrade itself).
Routing ignores a trailing slash (``/x/`` is ``/x``); the authenticator sees the request exactly as
sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ibtui.sim import routes_market, routes_orders, routes_portfolio, routes_session
from ibtui.sim.faults import Action
from ibtui.sim.pacing import HISTORY_PATH
from ibtui.sim.simulator import Simulator
from ibtui.sim.web import SCOPE_KEY, BadRequest, RequestState, error

__all__ = ["ConnectionDropped", "create_app"]

PREFIX = "/v1/api"
OAUTH_PREFIX = "/v1/api/oauth/"
# /iserver endpoints that work without a brokerage session.
_NO_BRIDGE_NEEDED = {"/iserver/auth/status", "/iserver/auth/ssodh/init", "/iserver/reauthenticate"}


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by the app to break the connection. In-process (ASGITransport) the client sees this
    transport error; under uvicorn the socket is closed after the status line, before any body."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a complete response.")


def normalize(path: str) -> str:
    """``/v1/api/iserver//account/trades/`` → ``/iserver/account/trades``."""
    rest = path[len(PREFIX) :]
    while "//" in rest:
        rest = rest.replace("//", "/")
    if len(rest) > 1 and rest.endswith("/"):
        rest = rest.rstrip("/")
    return rest or "/"


async def _json(
    send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


# What the real IBKR answers in these cases (the texts its clients see).
_FAULT_ANSWERS: dict[int, dict[str, Any]] = {
    401: {"error": "Invalid signature", "statusCode": 401},
    410: {"error": "Gone", "statusCode": 410},
    429: {"error": "Too many requests", "statusCode": 429},
    500: {"error": "Internal Server Error", "statusCode": 500},
    503: {"error": "Service Unavailable", "statusCode": 503},
}
TRICKLE_PIECES = 8


def _trickling(send: Send, pause: float) -> Send:
    """``send`` with each body cut into pieces, ``pause`` seconds before each."""

    async def trickle(message: Message) -> None:
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        step = max(1, -(-len(body) // TRICKLE_PIECES))
        pieces = [body[i : i + step] for i in range(0, len(body), step)] or [b""]
        for i, piece in enumerate(pieces):
            await asyncio.sleep(pause)
            last = i == len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": more or not last})

    return trickle


async def _drop(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise ConnectionDropped()


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # like a client that never disconnects
        return {"type": "http.disconnect"}

    return receive


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            break
    return b"".join(chunks)


class Gateway:
    def __init__(self, app: ASGIApp, sim: Simulator, api: ASGIApp) -> None:
        self.app = app
        self.sim = sim
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith(PREFIX + "/"):
            if normalize(scope["path"]) == "/ws":
                from ibtui.sim.stream import serve_stream  # only once a client streams

                await serve_stream(self.sim, scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sim = self.sim
        path: str = scope["path"]
        method: str = scope["method"]
        if not path.startswith(PREFIX + "/") or path.startswith(OAUTH_PREFIX):
            plan = sim.faults.plan(method, path)
            if plan.trickle > 0:
                send = _trickling(send, plan.trickle)
            if await self._fault(plan, send):
                return
            if plan.empty_dh:
                await self._run(self.app, scope, receive, _emptied_dh(send), plan.drop_response)
                return
            await self._run(self.app, scope, receive, send, plan.drop_response)
            return

        body = await _read_body(receive)
        request = Request(scope, _replay(body))
        verdict = await sim.authenticator.authenticate(request)
        if isinstance(verdict, Response):
            await verdict(scope, _replay(body), send)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        route = normalize(path)
        plan = sim.faults.plan(method, path)
        if plan.error in (401, 410):  # refused with the session, before pacing counts it
            await self._fault(plan, send)
            return
        if not sim.pacing.admit(ip, method, route):
            await _json(send, 429, {"error": "Too many requests"})
            return
        history = route == HISTORY_PATH
        if history and not sim.pacing.enter_history(ip):
            await _json(send, 429, {"error": "Too many requests"})
            return
        try:
            if plan.trickle > 0:
                send = _trickling(send, plan.trickle)
            if await self._fault(plan, send):
                return
            now = sim.advance()
            session = sim.sessions.touch(verdict.access_token, now)
            warming = session.warming_up(route)  # the "nobridge" fault after an ssodh/init
            if route.startswith("/iserver/") and (
                warming
                or (
                    route not in _NO_BRIDGE_NEEDED
                    and not session.usable(now, sim.config.bridge_warmup_seconds)
                )
            ):
                await _json(send, 400, {"error": "Bad Request: no bridge", "statusCode": 400})
                return
            if session.brokerage is not None and sim.faults.withdraws_questions(method, path):
                session.brokerage.replies.withdraw()  # the order path's faults (ORDER_KINDS)
            carried = sim.faults.carried_answer(method, path)
            if carried is not None:
                send = _answered_instead(send, carried)
            child = dict(scope)
            child["path"] = route
            child["raw_path"] = route.encode()
            child["root_path"] = ""
            child[SCOPE_KEY] = RequestState(sim, verdict, session, now)
            await self._run(self.api, child, _replay(body), send, plan.drop_response)
        finally:
            if history:
                sim.pacing.leave_history(ip)

    async def _fault(self, plan: Action, send: Send) -> bool:
        """Carry out the scripted fault, if any; True when the request has been answered."""
        if plan.delay > 0:
            await asyncio.sleep(plan.delay)
        if plan.drop:
            await _drop(send)
        if plan.hang > 0:
            await asyncio.sleep(plan.hang)
            await _json(send, 503, {"error": "Service Unavailable", "statusCode": 503})
            return True
        if plan.error is not None:
            headers: list[tuple[bytes, bytes]] = []
            if plan.retry_after is not None:
                headers.append((b"retry-after", f"{plan.retry_after:g}".encode()))
            await _json(send, plan.error, _FAULT_ANSWERS[plan.error], headers)
            return True
        return False

    async def _run(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, drop_response: bool
    ) -> None:
        if not drop_response:
            await app(scope, receive, send)
            return

        async def swallow(message: Message) -> None:
            return None

        await app(scope, receive, swallow)
        await _drop(send)


def _emptied_dh(send: Send) -> Send:
    """``send`` with the LST answer's ``diffie_hellman_response`` made empty (IBKR's own sample
    says to retry then)."""

    async def emptied(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [h for h in message["headers"] if h[0] != b"content-length"]
            message = {**message, "headers": kept}
        elif message["type"] == "http.response.body" and message.get("body"):
            data = json.loads(message["body"])
            if isinstance(data, dict) and "diffie_hellman_response" in data:
                data["diffie_hellman_response"] = ""
            message = {**message, "body": json.dumps(data).encode()}
        await send(message)

    return emptied


def _answered_instead(send: Send, status: int) -> Send:
    """``send`` with the route's answer swallowed and ``status`` answered instead, once the route
    is done: the request is carried out (an order placed), the client hears a failure."""

    async def instead(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            text = {429: "Too many requests", 500: "Internal Server Error"}
            said = text.get(status, "Service Unavailable")
            await _json(send, status, {"error": said, "statusCode": status})

    return instead


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await _json(send, 404, {"error": "Not Found", "statusCode": 404})


def _handle_bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return error(exc.message, exc.status)


def create_app(sim: Simulator) -> Starlette:
    """The simulator as an ASGI app serving ``/v1/api/...``."""
    routes = [
        *routes_session.routes(),
        *routes_portfolio.routes(),
        *routes_market.routes(),
        *routes_orders.routes(),
    ]
    api_app = Starlette(routes=routes, exception_handlers={BadRequest: _handle_bad_request})
    api_app.router.redirect_slashes = False
    api_app.router.default = _not_found
    app = Starlette(
        routes=sim.authenticator.routes(),
        middleware=[Middleware(Gateway, sim=sim, api=api_app)],
    )
    app.state.sim = sim
    return app
