"""The simulated IBKR Web API on a loopback socket (``ibtui sim``, whose options are
:mod:`ibtui.cli.sim`'s).

Binds ``127.0.0.1`` (or another loopback address) first, so that ``--port 0`` can pick a free
port and the consumer folder written by :func:`ibtui.sim.provision.write_state_dir` names the real
one; then prints how to point ibtui or ibind at it and serves with uvicorn until SIGINT/SIGTERM.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import uvicorn
from starlette.types import ASGIApp

from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.provision import (
    ConsumerSetup,
    ProvisionError,
    ibind_environment,
    write_state_dir,
)

__all__ = [
    "ServeError",
    "ServeOptions",
    "bind_loopback",
    "instructions",
    "serve",
]

_SECRET_VARIABLES = frozenset({"IBIND_OAUTH1A_ACCESS_TOKEN_SECRET"})


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    state_dir: Path
    seed: int
    lst_lifetime: float
    pacing: bool
    key_bits: int
    faults: str = ""  # a --faults specification (ibtui.sim.faults.parse_faults)
    portfolio_size: int | None = None  # positions per account (None: the hand-made portfolio)


def bind_loopback(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn; ``port`` 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio turns TCP_NODELAY on for the accepted connections only
    # then; without it every answer (headers, then body) waited ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited on Linux
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)  # connections queue up until uvicorn accepts them
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _origin(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def instructions(setup: ConsumerSetup) -> str:
    """What to tell the user: the URL, the ibtui command line and ibind's settings."""
    origin = setup.base_url.split("/v1/api", 1)[0]
    env = ibind_environment(setup)
    lines = [
        f"ibtui sim: simulated IBKR Web API listening on {setup.base_url}",
        f"state folder: {setup.state_dir} (consumer key {setup.consumer_key}, "
        "first-party access token issued)",
        "",
        "ibtui:",
        f"  ibtui --config {setup.config_path}",
        "",
        f"ibind (all of these are in {setup.ibind_env_path}; load them with: "
        f". {setup.ibind_env_path}):",
    ]
    for name, value in env.items():
        shown = f"<see {setup.ibind_env_path.name}>" if name in _SECRET_VARIABLES else value
        lines.append(f"  {name}={shown}")
    lines += [
        "",
        f"third-party login page: {origin}/authorize?oauth_token=<request token> "
        "(demo login: demo / demo)",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)


AppFactory = Callable[[OAuthServer, ServeOptions], ASGIApp]


def simulator_app(oauth: OAuthServer, options: ServeOptions) -> ASGIApp:
    """The full simulator (market, broker, pacing, faults) with ``oauth`` as its authenticator."""
    # Imported here: the market and broker are only needed once the server really starts.
    from ibtui.sim.app import create_app
    from ibtui.sim.config import SimConfig
    from ibtui.sim.simulator import Simulator

    config = SimConfig(
        seed=options.seed,
        pacing_enabled=options.pacing,
        lst_lifetime_seconds=options.lst_lifetime,
        portfolio_size=options.portfolio_size,
    )
    sim = Simulator(config, authenticator=oauth)
    if options.faults:
        sim.faults.add_spec(options.faults)
    return create_app(sim)


class _StopSignals:
    """SIGINT/SIGTERM stop the server instead of killing the process.

    uvicorn handles both while it serves and afterwards re-raises each into the handlers it
    found, which are these; one arriving before uvicorn took over stops it before it serves.
    """

    def __init__(self, server: uvicorn.Server) -> None:
        self._server = server
        self.received: list[int] = []

    def __enter__(self) -> _StopSignals:
        self._saved = {s: signal.signal(s, self._record) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _record(self, sig: int, frame: FrameType | None) -> None:
        self.received.append(sig)
        self._server.should_exit = True


class ServeError(Exception):
    """The server cannot start; the message says why (no secrets)."""


def serve(
    options: ServeOptions,
    app_factory: AppFactory = simulator_app,
    out: TextIO = sys.stdout,
) -> int:
    """Bind, provision ``options.state_dir``, print the instructions, serve until a signal."""
    try:
        sock = bind_loopback(options.host, options.port)
    except OSError as exc:
        raise ServeError(f"cannot listen on {options.host}:{options.port}: {exc.strerror}") from exc
    try:
        port = sock.getsockname()[1]
        origin = _origin(options.host, port)
        oauth = OAuthServer(
            clock=time.time, lst_lifetime=options.lst_lifetime, listen_origins=[origin]
        )
        if options.host == "127.0.0.1":
            oauth.add_listen_origin(f"http://localhost:{port}")
        try:
            setup = write_state_dir(
                options.state_dir, f"{origin}/v1/api/", oauth, key_bits=options.key_bits
            )
        except OSError as exc:
            raise ServeError(
                f"cannot write the state folder {options.state_dir}: {exc.strerror}"
            ) from exc
        except ProvisionError as exc:
            raise ServeError(str(exc)) from exc
        app = app_factory(oauth, options)
        # wsproto (which httpx-ws brings) serves the WebSocket, /v1/api/ws
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="auto", ws="wsproto"
        )
        server = uvicorn.Server(config)
        with _StopSignals(server) as stops:
            print(instructions(setup), file=out, flush=True)
            server.run(sockets=[sock])
    finally:
        sock.close()
    names = ", ".join(signal.Signals(s).name for s in stops.received) or "shutdown"
    print(f"ibtui sim: stopped ({names})", file=out, flush=True)
    return 0
