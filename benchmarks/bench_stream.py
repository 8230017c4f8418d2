"""Benchmark 9: a price from the simulator to the screen, streamed against polled.

The simulator runs as a child process (``ibtui sim``'s server through
:func:`benchmarks.sim_nodelay.bind_loopback_nodelay`, pacing off) with 1,000 positions in each
account and its clock shifted into an open market (as ``ibtui demo`` replays one), so that
prices move. The console runs headless in this process (``IbtuiApp.run_test``, 120×110: about
100 rows of the 1,000 in view) on ``ClientBackend`` over a real loopback socket, as ``run_app``
runs it (its interpreter settings, ``freeze_settled``), in alternating rounds (three of each by
default, the first mode of a round alternating too; a fresh console each round, the same
simulator): with the stream (the rows in view, the first 100 of them streamed, IBKR's default
line allowance; the rest of the book polled in the background, all of it every
``background_poll_seconds``, 10 s) and without (every conid polled, as often as IBKR's pace
allows: the whole book every interval). The poll interval is the default, 2 s.

*Latency*: each time a quote changes the price a row in view shows, from the simulator's tick
to the end of the first frame painted after the positions table applied it ("painted": Textual's
``App._display`` with the update rendered through ibtui's terminal writer, as in benchmark 3).
Three clocks for the tick: the simulator's timestamp on the quote (``_updated``: for a pushed
tick, when its market moved to that price, the start of the step, as an exchange's tick carries
the time it happened, so the time the simulator takes to build and send its burst counts; for a
snapshot, when it answered), when the console's adapter received it, and the moment the
simulator's market moved to that price (the start of the trading second whose price it is, from
the simulator's deterministic market, which this process rebuilds from the same seed).
Streamed: the rows the stream covers; polled: every row in view of the polling run. (A price
that changed twice between two polls is shown, and counted, once.)

*CPU*: ``time.process_time`` of this process (the console; the simulator is another process)
over each round's measured span, per second of wall time; the median of the rounds per mode
(the rounds' figures are listed too), compared side by side.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Result, Stat, base_parser, fmt, stream_simulator, write_results

SIZE = (120, 110)
POSITIONS = 1000


class FrameProbe:
    """Row prices applied to the table, and the frames that paint them."""

    def __init__(self, conids: set[int] | None = None) -> None:
        self.shown: dict[int, Any] = {}  # conid -> last price applied
        # (conid, price, sim timestamp, received), and with the wall time painted
        self.pending: list[tuple[int, Any, float, float]] = []
        self.painted: list[tuple[int, Any, float, float, float]] = []
        self.recording = False
        self.frames = 0

    def applied(self, quotes: Any, in_view: set[int]) -> None:
        for conid, quote in quotes.items():
            last = quote.last
            if last is None or self.shown.get(conid) == last:
                continue
            self.shown[conid] = last
            stamp, received = quote.traded_at, quote.updated_at
            if self.recording and conid in in_view and stamp is not None and received:
                self.pending.append((conid, last, stamp, received))

    def on_painted(self) -> None:
        now = time.time()
        self.frames += 1
        for conid, last, stamp, received in self.pending:
            self.painted.append((conid, last, stamp, received, now))
        self.pending.clear()


_probe: FrameProbe | None = None


def install_probe() -> None:
    from ibtui.tui.widgets.positions_table import PositionsTable

    if getattr(PositionsTable.apply_quotes, "_stream_bench", False):
        return
    apply = PositionsTable.apply_quotes

    def apply_quotes(self: PositionsTable, quotes: Any, **options: Any) -> None:
        apply(self, quotes, **options)
        if _probe is not None:
            _probe.applied(quotes, set(self.conids_in_view()))

    apply_quotes._stream_bench = True  # type: ignore[attr-defined]
    PositionsTable.apply_quotes = apply_quotes  # type: ignore[method-assign]


async def run_console(config_path: Path, streaming: bool, seconds: float) -> dict[str, Any]:
    from textual.css.query import NoMatches

    from benchmarks.bench_tick import instrument, wait_until
    from ibtui.adapters.broker import backend_from_settings
    from ibtui.config import load_settings
    from ibtui.sim import PAPER_ACCOUNT
    from ibtui.tui import textual_compat
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings

    global _probe
    install_probe()
    probe = _probe = FrameProbe()
    backend = backend_from_settings(load_settings(config_path, require_credentials=True))
    stream = backend.stream(100) if streaming else None
    textual_compat.apply_patches()
    app = IbtuiApp(
        backend,
        poll=PollSettings(),
        last_account=PAPER_ACCOUNT,
        freeze_settled=True,
        stream=stream,
        cursor_blink=False,
    )
    textual_compat.install(app)
    async with app.run_test(size=SIZE) as pilot:
        instrument(app, probe)

        def loaded() -> bool:
            screen = app.screen
            try:
                table = screen.table  # type: ignore[attr-defined]
                return not table.filling and table.grid.row_count >= POSITIONS  # type: ignore[no-any-return]
            except (AttributeError, NoMatches):  # not the positions screen, or not composed
                return False

        await wait_until(loaded, 180, f"{POSITIONS} rows")
        screen: Any = app.screen
        await wait_until(lambda: bool(screen.quotes), 60, "the first prices")
        feed = app.session.stream
        if feed is not None:
            await wait_until(lambda: len(feed.streamed()) >= 90, 60, "100 streamed conids")
        await asyncio.sleep(4.0)  # settled (and frozen, as run_app does)
        gc.collect()
        streamed = feed.streamed() if feed is not None else frozenset()
        probe.recording = True
        frames0 = probe.frames
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        probe.recording = False
        in_view = set(screen.conids_in_view())
        covered = feed.streamed() if feed is not None else frozenset()
        await pilot.pause()
    await backend.aclose()
    rows = [r for r in probe.painted if not streaming or r[0] in streamed]
    return {
        "rows": rows,
        "cpu": cpu,
        "wall": wall,
        "frames": probe.frames - frames0,
        "in_view": len(in_view),
        "streamed": len(streamed),
        "streamed_end": len(covered),
    }


def market_moved_at(offset: float) -> Any:
    """``(conid, price, sim time) -> wall time`` the simulator's market moved to that price."""
    from ibtui.sim import SimConfig, Simulator

    sim = Simulator(SimConfig(seed=1, portfolio_size=POSITIONS, pacing_enabled=False))
    market, universe = sim.market, sim.universe

    def moved(conid: int, price: Any, stamp: float) -> float | None:
        inst = universe.get(conid)
        if inst is None:
            return None
        step = market.step_at(inst, stamp)
        for _ in range(120):  # back to the first step of this price
            if market.tick_at_step(inst, step - 1).last != price:
                break
            step -= 1
        if market.tick_at_step(inst, step).last != price:
            return None
        return market.venue(inst).clock_time(step) - offset

    return moved


def serve(offset: float, argv: list[str]) -> int:
    """The child: ``ibtui sim`` (``argv``) with 1,000 positions, pacing off, in an open
    market."""
    from benchmarks.sim_nodelay import bind_loopback_nodelay
    from ibtui.cli.sim import parse_args
    from ibtui.sim import serve as sim_serve

    def factory(oauth: Any, options: Any) -> Any:
        from ibtui.sim.app import create_app
        from ibtui.sim.clock import ShiftedClock, SystemClock
        from ibtui.sim.config import SimConfig
        from ibtui.sim.simulator import Simulator

        config = SimConfig(
            seed=1,
            pacing_enabled=False,
            portfolio_size=POSITIONS,
            clock=ShiftedClock(SystemClock(), offset),
        )
        return create_app(Simulator(config, authenticator=oauth))

    sim_serve.bind_loopback = bind_loopback_nodelay  # type: ignore[assignment]
    return sim_serve.serve(parse_args(argv), factory)


def measure(seconds: float, rounds: int) -> list[Result]:
    from ibtui.sim.demo import trading_offset

    offset = trading_offset(time.time())
    runs: dict[str, list[dict[str, Any]]] = {"stream": [], "poll": []}
    with stream_simulator(offset) as sim:
        for round_ in range(rounds):
            order = ("stream", "poll") if round_ % 2 == 0 else ("poll", "stream")
            for mode in order:
                run = asyncio.run(run_console(sim.config_path, mode == "stream", seconds))
                runs[mode].append(run)
    moved = market_moved_at(offset)
    stats: list[Stat] = []
    medians: dict[str, float] = {}
    cpu: dict[str, float] = {}
    cpus: dict[str, list[float]] = {}
    for mode, mode_runs in runs.items():
        rows = [row for run in mode_runs for row in run["rows"]]
        stamped = [painted - (stamp - offset) for _c, _p, stamp, _r, painted in rows]
        received = [painted - got for _c, _p, _s, got, painted in rows]
        market = []
        for conid, price, stamp, _received, painted in rows:
            at = moved(conid, price, stamp)
            if at is not None:
                market.append(painted - at)
        name = "streamed" if mode == "stream" else "polled (no stream)"
        tick = Stat.of(f"{name}: simulator's timestamp → painted frame", "ms", stamped, 1e3)
        move = Stat.of(f"{name}: market moved → painted frame", "ms", market, 1e3)
        got = Stat.of(f"{name}: received by the console → painted frame", "ms", received, 1e3)
        stats += [tick, move, got]
        medians[mode] = tick.median
        cpus[mode] = [run["cpu"] / run["wall"] * 1e3 for run in mode_runs]
        cpu[mode] = statistics.median(cpus[mode])
    for mode, mode_runs in runs.items():
        label = "with the stream" if mode == "stream" else "polling only"
        stats.append(Stat.of(f"console CPU per second, {label} (per round)", "ms", cpus[mode]))
        fps = [run["frames"] / run["wall"] for run in mode_runs]
        stats.append(Stat.of(f"frames per second, {label} (per round)", "frames", fps))
    met = medians["stream"] <= 50.0 and cpu["stream"] <= cpu["poll"]
    s, p = runs["stream"], runs["poll"]
    listed = {
        mode: ", ".join(f"{value:.1f}" for value in cpus[mode]) for mode in ("stream", "poll")
    }
    return [
        Result(
            id="9",
            title=f"Streamed against polled prices, {POSITIONS:,} positions",
            target="streamed tick → frame median ≤ 50 ms; streaming CPU ≤ polling CPU",
            met=met,
            headline=(
                f"streamed: median {fmt(medians['stream'])} ms from the simulator's tick to the "
                f"frame; polled: {fmt(medians['poll'])} ms from its answer, "
                f"{fmt(stats[4].median)} ms from the market's move; CPU "
                f"{fmt(cpu['stream'])} ms/s streaming vs {fmt(cpu['poll'])} ms/s "
                f"polling ({cpu['stream'] / cpu['poll']:.2f}×; medians of {rounds} rounds each)"
            ),
            stats=stats,
            notes=[
                f"{s[0]['in_view']} rows in view; {min(r['streamed'] for r in s)} to "
                f"{max(r['streamed'] for r in s)} conids streamed when measuring began, "
                f"{min(r['streamed_end'] for r in s)} to {max(r['streamed_end'] for r in s)} "
                f"when it ended; {sum(len(r['rows']) for r in s)} streamed and "
                f"{sum(len(r['rows']) for r in p)} polled price changes painted in "
                f"{rounds} × {seconds:.0f} s each",
                f"console CPU per round (ms/s): streaming {listed['stream']}; "
                f"polling {listed['poll']}",
            ],
            method=(__doc__ or "").split("\n\n", 1)[1].strip(),
        )
    ]


def main(argv: list[str]) -> int:
    if "--serve" in argv:  # the child (see serve)
        at = argv.index("--serve")
        return serve(float(argv[at + 1]), argv[:at] + argv[at + 2 :])
    parser = base_parser(__doc__ or "")
    parser.add_argument("--seconds", type=float, help="measured per round (default 20, quick 10)")
    parser.add_argument("--rounds", type=int, help="rounds of each mode (default 3, quick 1)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 20.0)
    rounds = args.rounds or (1 if args.quick else 3)
    start = time.perf_counter()
    results = measure(seconds, rounds)
    for result in results:
        result.seconds = time.perf_counter() - start
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
