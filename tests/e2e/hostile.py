"""A hostile IBKR: the simulator's answers rewritten to carry terminal escapes and markup.

:func:`rewrite` changes one decoded answer; :class:`HostileApp` applies it to the simulator as an
ASGI middleware (for ``ibtui sim`` in a child process, :data:`SERVER`) and
:class:`HostileTransport` to the in-process simulator's httpx transport (for the console). The
mode is switched at run time: ``POST /hostile/<mode>`` on the server, ``transport.mode`` in
process.

Modes:

* ``text``: symbols, descriptions, names, aliases, currencies, IBKR's order questions and order
  statuses carry an OSC 52 (clipboard), a CSI 2J (clear the screen), a C1 CSI and a BEL, plus Rich
  markup with a ``@click`` action;
* ``error``: the positions answer a 400 whose error text carries the same;
* ``infinite``: a position's quantity is ``"1e400"``;
* ``off``: the simulator as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

OSC52 = "\x1b]52;c;SGFja2Vk\x07"  # puts "Hacked" on the clipboard
CLEAR = "X\x1b[2JX"  # clears the screen
C1_CSI = "Y\x9b2JY"  # the same with the one-character CSI
BEL = "Z\x07Z"
MARKUP = "[b]MK[/b][@click=app.quit]QUIT[/]"
PAYLOAD = f"{OSC52}{CLEAR}{C1_CSI}{BEL}"

SYMBOL = f"EV{PAYLOAD}IL{MARKUP}"
DESCRIPTION = f"EVIL CORP{PAYLOAD}"
ERROR = f"bad request{PAYLOAD}{MARKUP}"
QUESTION = f"Hostile question{PAYLOAD}{MARKUP}"
STATUS = f"Sub{PAYLOAD}mitted"

# Each control character of the payload, raw, in its context: none may reach a terminal
# (ibtui's own escape codes never look like these)
RAW = [b"\x1b]5", b"Vk\x07", b"X\x1b[2J", b"\xc2\x9b", b"Z\x07"]
# ... and the same text cleaned (U+FFFD where each control character was), shown instead
SHOWN = [b"\xef\xbf\xbd]52;c;SGFja2Vk\xef\xbf\xbd", b"X\xef\xbf\xbd[2JX", b"Y\xef\xbf\xbd2JY"]
CLEANED = {ord(c): "\ufffd" for c in "\x1b\x9b\x07"}

Json = Any
_POSITIONS = re.compile(r"/v1/api/portfolio/[^/]+/positions/\d+$")


def rewrite(mode: str, method: str, path: str, status: int, data: Json) -> tuple[int, Json]:
    """The hostile version of one answer (``status`` and decoded JSON ``data``)."""
    if mode == "error" and _POSITIONS.search(path):
        return 400, {"error": ERROR, "statusCode": 400}
    if mode == "infinite" and _POSITIONS.search(path) and isinstance(data, list) and data:
        data[0]["position"] = "1e400"
    if mode != "text":
        return status, data
    if path.endswith("/portfolio/accounts") and isinstance(data, list):
        for account in data:
            account["accountAlias"] = f"Alias{PAYLOAD}{MARKUP}"
            account["accountTitle"] = f"Title{PAYLOAD}"
    elif _POSITIONS.search(path) and isinstance(data, list):
        for position in data:
            if position.get("conid") == 265598:  # AAPL
                position.update(ticker=SYMBOL, contractDesc=SYMBOL, fullName=DESCRIPTION)
                position["name"] = DESCRIPTION
                position["currency"] = f"US{BEL}D"
    elif path.endswith("/iserver/account/orders") and isinstance(data, dict):
        for order in data.get("orders") or []:
            order["status"] = STATUS
    elif method == "POST" and isinstance(data, list):  # placement and reply answers
        for item in data:
            if isinstance(item, dict) and isinstance(item.get("message"), list):
                item["message"] = [f"{QUESTION}\n{m}" for m in item["message"]]
    return status, data


def _body(status: int, data: Json) -> bytes:
    return json.dumps(data).encode()


class HostileTransport(httpx.AsyncBaseTransport):
    """The in-process simulator's transport with :func:`rewrite` applied to its JSON answers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, mode: str = "text") -> None:
        self.inner = inner
        self.mode = mode

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.mode == "off" or "json" not in response.headers.get("content-type", ""):
            return response
        raw = await response.aread()
        status, data = rewrite(
            self.mode, request.method, request.url.path, response.status_code, json.loads(raw)
        )
        headers = {"content-type": "application/json"}
        return httpx.Response(status, headers=headers, content=_body(status, data))


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class HostileApp:
    """The simulator behind :func:`rewrite`; ``POST /hostile/<mode>`` switches the mode."""

    def __init__(self, app: App, mode: str = "off") -> None:
        self.app = app
        self.mode = mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/hostile/"):
            self.mode = path.removeprefix("/hostile/")
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if self.mode == "off":
            await self.app(scope, receive, send)
            return
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        status, body = started["status"], b"".join(chunks)
        headers = [(k, v) for k, v in started.get("headers", []) if k.lower() != b"content-length"]
        if any(k.lower() == b"content-type" and b"json" in v for k, v in headers) and body:
            status, data = rewrite(self.mode, scope["method"], path, status, json.loads(body))
            body = _body(status, data)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# ``ibtui sim`` with the hostile middleware (for tests.e2e.sim_process.sim_process(code=...))
SERVER = """
import sys
from ibtui.cli.sim import parse_args
from ibtui.sim.serve import serve, simulator_app
from tests.e2e.hostile import HostileApp


def factory(oauth, options):
    return HostileApp(simulator_app(oauth, options))

sys.exit(serve(parse_args(sys.argv[1:]), factory))
"""
