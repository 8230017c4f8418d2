"""Benchmark 6: memory of the console with 5,000 positions and 50 watchlist rows.

A child process runs the headless app (``IbtuiApp.run_test(size=(120, 40))``) on a
:class:`~benchmarks.fakes.FakeBroker` with 5,000 positions whose every price moves on every
polling round, default ``PollSettings`` (quotes every 2 s), and a ``Watchlist`` of 50 instruments
that are not held (the poller quotes them in the same batches). Once a minute the watchlist
screen is opened for 10 s (quotes held back while it mounts) and closed again, so screens come and
go as in use. This process
samples the child's resident set size (``/proc/PID/status`` ``VmRSS``) every ``--every`` seconds
from the moment the grid holds every row; the peak is the child's ``VmHWM`` just before it ends.

Growth: the least-squares slope of RSS over the last half of the run. "No growth" means that
slope × the half's length stays under 2 MB (or 2% of the final RSS, whichever is larger).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import (
    PYTHON,
    REPO,
    Result,
    Stat,
    base_parser,
    fmt,
    peak_rss_bytes,
    rss_bytes,
    slope_per_minute,
    write_timed,
)

MB = 1024 * 1024
WATCHED = 50


async def child(positions: int, duration: float) -> None:
    from benchmarks.bench_tick import loaded_positions_screen, wait_until
    from benchmarks.fakes import FakeBroker, make_positions
    from ibtui.tui import textual_compat
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.market import WatchItem, Watchlist
    from ibtui.tui.screens.watchlist import WatchlistScreen

    watched = [WatchItem(2_000_000 + i, f"W{i:02d}") for i in range(WATCHED)]
    broker = FakeBroker(make_positions(positions), latency=0.005)
    broker.add_instruments([item.conid for item in watched])
    textual_compat.apply_patches()  # as run_app
    app = IbtuiApp(broker, watchlist=Watchlist(watched), freeze_settled=True)  # as run_app
    textual_compat.install(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded_positions_screen(app, positions, limit=600)
        print(json.dumps({"event": "ready", "round": broker.round}), flush=True)
        start = time.monotonic()
        next_watch = start + 30
        while time.monotonic() - start < duration:
            await asyncio.sleep(1.0)
            if time.monotonic() >= next_watch:
                # Quotes are held back while the watchlist screen mounts: one forwarded to it
                # before it is composed crashes the app (NoMatches for its table), see the report.
                broker.gate.clear()
                await asyncio.sleep(0.5)
                app.action_watchlist()
                await wait_until(
                    lambda: isinstance(app.screen, WatchlistScreen) and app.screen.is_mounted,
                    30,
                    "the watchlist screen",
                )
                await pilot.pause()
                broker.gate.set()
                await asyncio.sleep(10.0)
                await app.pop_screen()
                next_watch += 60
        await pilot.pause()
        print(
            json.dumps(
                {
                    "event": "done",
                    "round": broker.round,
                    "peak": peak_rss_bytes(),
                    "rows": app.screen.table.grid.row_count,
                    "watched_polled": sum(1 for _ in app.watchlist.polled()),
                }
            ),
            flush=True,
        )


def measure(positions: int, duration: float, every: float) -> list[Result]:
    process = subprocess.Popen(
        [PYTHON, "-m", "benchmarks.bench_memory", "--child", str(positions), str(duration)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    events: dict[str, dict[str, Any]] = {}
    samples: list[tuple[float, float]] = []
    spawned = time.monotonic()
    line = process.stdout.readline()
    if line:
        events["ready"] = json.loads(line)
    load_seconds = time.monotonic() - spawned
    load_rss = rss_bytes(process.pid)
    start = time.monotonic()
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    while process.poll() is None:
        rss = rss_bytes(process.pid)
        if rss is not None:
            samples.append((time.monotonic() - start, rss / MB))
        if selector.select(timeout=every):
            line = process.stdout.readline()
            if line:
                event = json.loads(line)
                events[event["event"]] = event
            else:
                break
    process.wait()
    if "done" not in events or not samples:
        return [
            Result(
                "6",
                "Memory",
                "peak RSS ≤ 150 MB",
                None,
                f"the app did not finish (events: {list(events)})",
            )
        ]
    done = events["done"]
    peak = done["peak"] / MB
    half = [s for s in samples if s[0] >= samples[-1][0] / 2]
    slope = slope_per_minute(half)
    span_min = (half[-1][0] - half[0][0]) / 60 if len(half) > 1 else 0.0
    growth = slope * span_min
    final = samples[-1][1]
    allowed = max(2.0, 0.02 * final)
    ticks = done["round"] - events["ready"]["round"]
    met = peak <= 150.0 and growth <= allowed
    notes = []
    if 0 < growth <= allowed:
        notes.append(
            f"RSS still rose {fmt(growth)} MB in the last half, under the {fmt(allowed)} MB "
            "allowed; a longer --duration would tell a slow leak from settling."
        )
    rss = [s[1] for s in samples]
    return [
        Result(
            id="6",
            title=f"Memory: {positions:,} positions and {WATCHED} watchlist rows",
            target="peak RSS ≤ 150 MB; no growth over the last half of the run",
            met=met,
            headline=(
                f"peak {fmt(peak)} MB; {fmt(growth)} MB growth over the last "
                f"{span_min:.1f} min ({fmt(slope)} MB/min) after {samples[-1][0] / 60:.1f} min "
                f"(peak {'met' if peak <= 150 else 'NOT met'}, "
                f"growth {'met' if growth <= allowed else 'NOT met'})"
            ),
            stats=[
                Stat.single("peak RSS (VmHWM)", "MB", peak),
                Stat.of("RSS samples over the run", "MB", rss),
                Stat.single("RSS when the grid was full", "MB", (load_rss or 0) / MB),
                Stat.single("RSS at the end", "MB", final),
                Stat.single("RSS slope over the last half", "MB/min", slope),
                Stat.single("spawn → grid full", "s", load_seconds),
                Stat.single("polling rounds in the run", "rounds", ticks),
            ],
            notes=notes,
            method=(
                f"{samples[-1][0]:.0f} s after the grid was full, {len(samples)} samples every "
                f"{every:.0f} s, {done['rows']:,} rows in the grid, {done['watched_polled']} "
                "watched conids polled. " + (__doc__ or "").split("\n\n", 1)[1].strip()
            ),
        )
    ]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        from ibtui.tui.app import console_runtime

        with console_runtime():  # as run_app runs it
            asyncio.run(child(int(argv[1]), float(argv[2])))
        return 0
    parser = base_parser(__doc__ or "")
    parser.add_argument("--duration", type=float, help="seconds (default 600, quick 60)")
    parser.add_argument("--positions", type=int, default=5000)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args(argv)
    duration = args.duration or (60.0 if args.quick else 600.0)
    return write_timed(args.json, lambda: measure(args.positions, duration, args.every))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
