"""Benchmark 7: request economy against the simulator's real pacing.

``ibtui sim`` (pacing on: 10 requests/s per client, the per-endpoint table, the 10-minute penalty
box) runs as a child process through :mod:`benchmarks.sim_nodelay` with ``--count-requests``
(every request counted at the simulator by method, path and answer status) and
``--portfolio-size`` (positions in each account). ibtui's console backend (``ClientBackend``:
``connect()`` with the default ``Pacer``) is polled by the console's own ``Poller`` with the default
``PollSettings`` (quotes every 2 s, positions every 10 s, tickle every 60 s) for ``--duration``
seconds, with no screen (the poller's messages are counted and dropped).

Snapshot calls per tick = snapshot requests the simulator counted between the end of the second
polling round and the end of the first round finished after ``--duration`` seconds / polling
rounds in that span (the first round also asks
again for conids still warming up). Expected: ceil(instruments / 100).
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_tick import wait_until
from benchmarks.common import Result, Stat, base_parser, simulator, write_timed

SNAPSHOT = "/iserver/marketdata/snapshot"


async def poll(base_url: str, config_path: Path, duration: float) -> dict[str, Any]:
    from textual.message import Message

    from ibtui.adapters.broker import backend_from_settings
    from ibtui.config import load_settings
    from ibtui.tui.messages import ErrorRaised
    from ibtui.tui.poller import Poller, PollSettings

    origin = base_url.split("/v1/api", 1)[0]

    async def counts(http: httpx.AsyncClient) -> Counter[str]:
        return Counter((await http.get(f"{origin}/__bench__/counts")).json())

    posted: Counter[str] = Counter()
    errors: list[str] = []

    def post(message: Message) -> None:
        posted[type(message).__name__] += 1
        if isinstance(message, ErrorRaised):
            errors.append(message.message)

    backend = backend_from_settings(load_settings(config_path, require_credentials=True))
    async with httpx.AsyncClient() as http:
        accounts = await backend.accounts()
        paper = next(a for a in accounts if a.paper)
        poller = Poller(backend, paper.account_id, post, settings=PollSettings())
        task = asyncio.create_task(poller.run())
        try:
            # counts are read just after a round ends (the poller then sleeps for 2 s)
            await wait_until(lambda: poller.rounds >= 2, 120, "two polling rounds")
            before, rounds0, t0 = await counts(http), poller.rounds, time.monotonic()
            await asyncio.sleep(duration)
            last = poller.rounds
            await wait_until(lambda: poller.rounds > last, 120, "the end of a polling round")
            after, rounds1, t1 = await counts(http), poller.rounds, time.monotonic()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await backend.aclose()
    return {
        "before": before,
        "after": after,
        "rounds": rounds1 - rounds0,
        "seconds": t1 - t0,
        "instruments": len(poller.quoted_conids()),
        "posted": posted,
        "errors": errors,
    }


def _sum(counts: Counter[str], method_path: str | None = None, status: int | None = None) -> int:
    total = 0
    for key, n in counts.items():
        method, path, code = key.split(" ")
        if method_path is not None and f"{method} {path}" != method_path:
            continue
        if status is not None and int(code) != status:
            continue
        total += n
    return total


def measure(positions: int, duration: float) -> list[Result]:
    extra = ["--portfolio-size", str(positions), "--count-requests"]
    with (
        tempfile.TemporaryDirectory(prefix="ibtui-bench-") as tmp,
        simulator(Path(tmp) / "state", pacing=True, extra=extra) as sim,
    ):
        data = asyncio.run(poll(sim.base_url, sim.config_path, duration))
    before, after = data["before"], data["after"]
    span = after - before
    rounds = data["rounds"]
    instruments = data["instruments"]
    expected = math.ceil(instruments / 100)
    snapshots = _sum(span, f"GET {SNAPSHOT}")
    per_tick = snapshots / max(1, rounds)
    rejected = _sum(after, status=429)
    requests = _sum(span)
    met = abs(per_tick - expected) < 1e-9 and rejected == 0
    by_route: Counter[str] = Counter()
    for key, n in span.items():
        method, path, code = key.split(" ")
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "portfolio" and parts[2].startswith(("DU", "U")):
            parts[2] = "{account}"
            if len(parts) > 4 and parts[3] == "positions" and parts[4].isdigit():
                parts[4] = "{page}"
        by_route[f"{method} {'/'.join(parts)} → {code}"] += n
    routes = ", ".join(f"{k}: {n}" for k, n in sorted(by_route.items()))
    notes = [f"requests in the measured span by route: {routes}"]
    if data["errors"]:
        notes.append(f"errors the poller reported: {sorted(set(data['errors']))[:5]}")
    return [
        Result(
            id="7",
            title="Request economy at the simulator's real pacing",
            target="snapshot calls per tick = ceil(instruments / 100); zero 429s",
            met=met,
            headline=(
                f"{per_tick:.2f} snapshot calls per tick for {instruments:,} instruments "
                f"(expected {expected}); {rejected} answers 429 over "
                f"{data['seconds']:.0f} s ({rounds} ticks)"
            ),
            stats=[
                Stat.single("snapshot calls per tick", "calls", per_tick),
                Stat.single("429 answers (whole run)", "answers", rejected),
                Stat.single(
                    "requests per second (all endpoints)", "req/s", requests / data["seconds"]
                ),
                Stat.single(
                    "seconds per tick (interval 2 s)", "s", data["seconds"] / max(1, rounds)
                ),
            ],
            notes=notes,
            method=(
                f"{positions:,} positions in the paper account, {data['seconds']:.0f} s measured. "
                + (__doc__ or "").split("\n\n", 1)[1].strip()
            ),
        )
    ]


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--duration", type=float, help="seconds measured (default 600, quick 60)")
    parser.add_argument("--positions", type=int, default=1050, help="positions (default 1050)")
    args = parser.parse_args(argv)
    duration = args.duration or (60.0 if args.quick else 600.0)
    return write_timed(args.json, lambda: measure(args.positions, duration))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
