"""``ibtui sim`` with TCP_NODELAY on its listening socket (accepted sockets inherit it on Linux),
and two options for the benchmarks.

``ibtui.sim.serve.bind_loopback`` creates its socket with ``proto=0``, so asyncio's transports
skip their usual ``TCP_NODELAY`` (``asyncio.base_events._set_nodelay`` checks
``proto == IPPROTO_TCP``). uvicorn writes the status line and headers, then the body, in two
writes: with Nagle's algorithm on, the body waits for the client's delayed ACK, and every response
on loopback takes about 40 ms whatever the client does. The benchmarks measure the clients, not
that stall, so they start the simulator through this wrapper; the report says so.

    python -m benchmarks.sim_nodelay [--portfolio-size N] [--count-requests] [ibtui sim arguments]

``--portfolio-size N`` gives each account N positions (the simulator's ``SimConfig``; the
command line has no such option). ``--count-requests`` counts every request by method, path and
answer status, served as JSON at ``GET /__bench__/counts`` (no authentication, loopback only).
"""

from __future__ import annotations

import json
import socket
import sys
from collections import Counter
from typing import Any

from ibtui.cli.sim import parse_args
from ibtui.sim import serve

_bind = serve.bind_loopback
COUNTS_PATH = "/__bench__/counts"


def bind_loopback_nodelay(host: str, port: int) -> socket.socket:
    sock = _bind(host, port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class CountingApp:
    """ASGI wrapper: counts ``"METHOD /path STATUS"`` and serves the counts."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == COUNTS_PATH:
            body = json.dumps(dict(self.counts)).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.counts[f"{scope['method']} {path.removeprefix('/v1/api')} {status}"] += 1


def main(argv: list[str]) -> int:
    portfolio_size: int | None = None
    counting = False
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--portfolio-size":
            portfolio_size = int(next(args))
        elif arg == "--count-requests":
            counting = True
        else:
            rest.append(arg)

    def factory(oauth: Any, options: serve.ServeOptions) -> Any:
        from ibtui.sim.app import create_app
        from ibtui.sim.config import SimConfig
        from ibtui.sim.simulator import Simulator

        config = SimConfig(
            seed=options.seed,
            pacing_enabled=options.pacing,
            lst_lifetime_seconds=options.lst_lifetime,
            portfolio_size=portfolio_size,
        )
        app = create_app(Simulator(config, authenticator=oauth))
        return CountingApp(app) if counting else app

    serve.bind_loopback = bind_loopback_nodelay  # type: ignore[assignment]
    options = parse_args(rest)
    try:
        return serve.serve(options, factory)
    except serve.ServeError as exc:
        print(f"ibtui sim: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
