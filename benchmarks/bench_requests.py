"""Benchmarks 1 and 2: ibtui's signed requests and LST handshake against ibind's, same server.

Benchmark 1's figure is the client's CPU per signed request (this process's CPU, the
simulator's excluded), with parity as its target: about half of ibtui's is its HTTP stack
(httpx, httpcore, h11 and anyio; ibind's is requests and urllib3), not the code that signs,
paces, sends and reads; the time per request, the simulator's answer included, is reported
beside it.

``ibtui sim --port 0 --no-pacing`` runs as a child process on 127.0.0.1. Both clients live in this
process and take turns in rounds (ibtui, ibind, then ibind, ibtui, ...), so drifting load on the
shared machine falls on both. Each round starts with a Live Session Token handshake of that client
(the simulator keeps one LST per access token, and both clients use the token it provisioned), timed
with ``time.process_time`` (this process's CPU: the client's share, not the server's), followed by
``round`` sequential signed ``GET /portfolio/accounts``, each timed with ``perf_counter``.

* ibtui: ``connect()`` + ``IbkrClient.portfolio_accounts()`` (typed result), pacing off
  (``Pacer(global_limit=None, rules=())``), its own event loop kept across rounds.
* ibind 0.2.2: ``IbkrClient().portfolio_accounts()`` configured from the simulator's ``ibind.env``,
  console and file logging off, no tickler, no brokerage-session init, no /logout on close.
  Its handshake is what ``oauth_init`` does: ``generate_live_session_token()`` and
  ``validate_live_session_token()``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Result,
    Stat,
    base_parser,
    cpu_seconds,
    fmt,
    load_env_file,
    simulator,
    write_timed,
)

ENDPOINT = "GET /portfolio/accounts"


def _ibind_environment(env_file: Path, logs: Path) -> None:
    os.environ.update(load_env_file(env_file))
    os.environ.update(
        {
            "IBIND_LOG_TO_CONSOLE": "false",
            "IBIND_LOG_TO_FILE": "false",
            "IBIND_LOGS_DIR": str(logs),
            "IBIND_AUTO_REGISTER_SHUTDOWN": "false",
            "IBIND_INIT_BROKERAGE_SESSION": "false",
            "IBIND_MAINTAIN_OAUTH": "false",
            "IBIND_SHUTDOWN_OAUTH": "false",
        }
    )


def measure(n: int, round_size: int, min_handshakes: int) -> list[Result]:
    from ibtui.config import load_settings
    from ibtui.config.credentials import load_credentials
    from ibtui.ibkr.auth import LstSigner
    from ibtui.ibkr.client import IbkrClient
    from ibtui.ibkr.connect import connect
    from ibtui.ibkr.pacing import Pacer
    from ibtui.ibkr.session import AccessCredentials, Consumer, LiveSession

    samples: dict[str, list[float]] = {"ibtui": [], "ibind": []}
    round_cpu: dict[str, list[float]] = {"ibtui": [], "ibind": []}  # CPU seconds per request
    server_cpu: list[float] = []  # the simulator's CPU seconds per request, per round
    hs_cpu: dict[str, list[float]] = {"ibtui": [], "ibind": []}
    hs_wall: dict[str, list[float]] = {"ibtui": [], "ibind": []}
    problems: list[str] = []

    with (
        tempfile.TemporaryDirectory(prefix="ibtui-bench-") as tmp,
        simulator(Path(tmp) / "state", pacing=False) as sim,
    ):
        _ibind_environment(sim.ibind_env_path, Path(tmp))
        from ibind import IbkrClient as IbindClient
        from ibind.oauth.oauth1a import validate_live_session_token

        settings = load_settings(sim.config_path, require_credentials=True)
        creds = load_credentials(settings.ibkr, settings.token_file)
        assert creds.access_token is not None and creds.access_token_secret is not None
        consumer = Consumer(
            creds.consumer_key, creds.realm, creds.signature_key, creds.encryption_key, creds.dh
        )
        access = AccessCredentials(creds.access_token, creds.access_token_secret)
        base_url = settings.ibkr.base_url

        loop = asyncio.new_event_loop()
        conn = connect(base_url, consumer, access, pacer=Pacer(global_limit=None, rules=()))
        http = conn.http
        client: IbkrClient = conn.client
        current: dict[str, Any] = {}

        async def ibtui_handshake() -> tuple[float, float]:
            session = LiveSession(http, base_url, consumer, access)
            wall, cpu = time.perf_counter(), time.process_time()
            await session.current_lst()
            http.auth = LstSigner(
                consumer_key=consumer.consumer_key,
                realm=consumer.realm,
                access_token=access.access_token,
                tokens=session,
            )
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            current["session"] = session
            return cpu, wall

        async def ibtui_round(count: int) -> list[float]:
            times = []
            for _ in range(count):
                start = time.perf_counter()
                await client.portfolio_accounts()
                times.append(time.perf_counter() - start)
            return times

        ibind = IbindClient()  # its own handshake and validation run here (not timed)

        def ibind_handshake() -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            ibind.generate_live_session_token()
            ok = validate_live_session_token(
                live_session_token=ibind.live_session_token,
                live_session_token_signature=ibind.live_session_token_signature,
                consumer_key=ibind.oauth_config.consumer_key,
            )
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if not ok:
                raise RuntimeError("ibind's LST did not validate")
            return cpu, wall

        def ibind_round(count: int) -> list[float]:
            times = []
            for _ in range(count):
                start = time.perf_counter()
                ibind.portfolio_accounts()
                times.append(time.perf_counter() - start)
            return times

        def handshake(who: str) -> None:
            if who == "ibtui":
                cpu, wall = loop.run_until_complete(ibtui_handshake())
            else:
                cpu, wall = ibind_handshake()
            hs_cpu[who].append(cpu)
            hs_wall[who].append(wall)

        def requests(who: str, count: int) -> list[float]:
            server = cpu_seconds(sim.process.pid)
            cpu = time.process_time()
            if who == "ibtui":
                times = loop.run_until_complete(ibtui_round(count))
                renewals = current["session"].renewals
                if renewals != 1:
                    problems.append(f"ibtui renewed its LST {renewals - 1} extra time(s)")
            else:
                times = ibind_round(count)
            round_cpu[who].append((time.process_time() - cpu) / count)
            after = cpu_seconds(sim.process.pid)
            if server is not None and after is not None:
                server_cpu.append((after - server) / count)
            return times

        # warm-up: imports, connection set-up, first-call caches (not counted)
        for who in ("ibtui", "ibind"):
            handshake(who)
            requests(who, 20)
        for values in (*hs_cpu.values(), *hs_wall.values(), *round_cpu.values()):
            values.clear()
        server_cpu.clear()

        rounds = max(1, n // round_size)
        for index in range(max(rounds, min_handshakes)):
            order = ("ibtui", "ibind") if index % 2 == 0 else ("ibind", "ibtui")
            for who in order:
                gc.collect()
                handshake(who)
                if index < rounds:
                    samples[who].extend(requests(who, round_size))

        loop.run_until_complete(conn.aclose())
        loop.close()
        ibind.close()

    ibtui_req = Stat.of("ibtui: time per request", "ms", samples["ibtui"], 1e3)
    ibind_req = Stat.of("ibind: time per request", "ms", samples["ibind"], 1e3)
    ratio = ibtui_req.median / ibind_req.median
    cpu_ibtui = Stat.of("ibtui: client CPU per request", "ms", round_cpu["ibtui"], 1e3)
    cpu_ibind = Stat.of("ibind: client CPU per request", "ms", round_cpu["ibind"], 1e3)
    cpu_ratio = cpu_ibtui.median / cpu_ibind.median
    request_result = Result(
        id="1",
        title="Client CPU per signed request vs ibind",
        target="ibtui's median client CPU per signed request ≤ 1.0× ibind's (parity)",
        met=cpu_ratio <= 1.0,
        headline=(
            f"ibtui {fmt(cpu_ibtui.median)} ms vs ibind {fmt(cpu_ibind.median)} ms of client "
            f"CPU per signed request: {cpu_ratio:.2f}× (time per request, the simulator's "
            f"answer included: {fmt(ibtui_req.median)} vs {fmt(ibind_req.median)} ms, "
            f"{ratio:.2f}×)"
        ),
        stats=[
            cpu_ibtui,
            cpu_ibind,
            ibtui_req,
            ibind_req,
            Stat.of("simulator CPU per request (either client)", "ms", server_cpu, 1e3),
        ],
        method=(
            f"{n} sequential signed {ENDPOINT} per client against one `ibtui sim --no-pacing` "
            f"child process on 127.0.0.1, in alternating rounds of {round_size} (ibtui first in "
            "even rounds, ibind first in odd ones), each request timed with perf_counter; "
            "client CPU per request = this process's process_time over a round / requests "
            "(the simulator's CPU is in its own process and excluded; it is read from "
            "/proc/PID/stat per round, in 10 ms ticks)."
        ),
        notes=problems,
    )
    hs_ibtui = Stat.of("ibtui: LST handshake CPU", "ms", hs_cpu["ibtui"], 1e3)
    hs_ibind = Stat.of("ibind: LST handshake CPU", "ms", hs_cpu["ibind"], 1e3)
    hs_ratio = hs_ibtui.median / hs_ibind.median
    handshake_result = Result(
        id="2",
        title="LST handshake CPU time vs ibind",
        target="ibtui median ≤ 1.0× ibind's median CPU time",
        met=hs_ratio <= 1.0,
        headline=(
            f"ibtui {fmt(hs_ibtui.median)} ms vs ibind {fmt(hs_ibind.median)} ms of CPU per "
            f"handshake: {hs_ratio:.2f}×"
        ),
        stats=[
            hs_ibtui,
            hs_ibind,
            Stat.of("ibtui: LST handshake wall time", "ms", hs_wall["ibtui"], 1e3),
            Stat.of("ibind: LST handshake wall time", "ms", hs_wall["ibind"], 1e3),
        ],
        method=(
            "One handshake per client at the start of each round above (alternating order), "
            "timed with time.process_time in this process: decrypting the access token secret, "
            "the Diffie-Hellman challenge, the RSA-SHA256 signature, the POST to "
            "/oauth/live_session_token, the LST computation and its validation (ibind also reads "
            "its PEM key files each time, as it does in use). 2048-bit RSA keys, the simulator's "
            "DH prime."
        ),
    )
    return [request_result, handshake_result]


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--requests", type=int, help="requests per client (default 2000, 200)")
    args = parser.parse_args(argv)
    n = args.requests or (200 if args.quick else 2000)
    round_size = 50 if n < 1000 else 100
    return write_timed(
        args.json, lambda: measure(n, round_size, min_handshakes=7 if args.quick else 21)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
