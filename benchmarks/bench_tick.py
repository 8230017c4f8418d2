"""Benchmark 3: what one price tick costs the console, headless.

``IbtuiApp.run_test(size=(120, 40))`` with a :class:`~benchmarks.fakes.FakeBroker` holding 1,000
positions whose every price changes on every polling round; the app's own poller runs at a 1 s
interval (``PollSettings(interval=1.0)``, other settings at their defaults), asking for quotes in
batches of 100 with a simulated 5 ms round trip per snapshot call. The interpreter runs with the
console's settings (``ibtui.tui.app.console_runtime``), and the app freezes what it holds once the
account has settled (``freeze_settled``), as ``run_app`` runs it.

*Latency*: for each snapshot answer (a batch of 100 quotes), from the instant the fake broker hands
it back to the poller (which posts it to the positions screen as a ``QuotesUpdated``) to the end
of the first frame painted after the positions table applied it. "Painted" is Textual's
``App._display(screen, update)`` — called by the screen's compositor refresh with the
``CompositorUpdate`` of the dirty regions — wrapped so that, headless, it also renders that update
to the escape sequences a terminal would receive (through ibtui's terminal writer,
``ibtui.tui.terminal.TerminalWriter.render``, as on a terminal; headless Textual writes
nothing). "Applied" is ``PositionsTable.apply_quotes`` returning for a batch that contains the
answer's conids (the table is wrapped, not changed).

*CPU*: ``time.process_time`` of this process over the measured ticks, divided by the number of
ticks: everything the app does per tick at 1 s (the table, the status bar's clock, flash ends,
the periodic positions refresh, the poller); the fake broker's own cost of building the answers is
measured and left out.

*The anchor*: then, in a process of its own, the same measurement of what a user would otherwise
write: :mod:`benchmarks.naive_app`, a stock Textual ``DataTable`` with the same columns updated
with ``update_cell`` from the same fake broker (stock Textual and Python settings; its painted
frame is the update rendered as Textual writes it to a terminal).
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    REPO,
    Result,
    Stat,
    base_parser,
    fmt,
    write_timed,
)
from benchmarks.fakes import FakeBroker, make_positions


class PaintProbe:
    """Records snapshot answers, when the table applies them and when a frame is painted."""

    def __init__(self) -> None:
        self.pending: dict[int, float] = {}  # batch id -> perf_counter of the answer
        self.batch_of: dict[int, int] = {}  # conid -> newest batch id
        self.applied: list[int] = []
        self.latencies: list[float] = []
        self.frames = 0
        self.layouts = 0  # Screen._refresh_layout calls (whole-screen reflow and repaint)
        self.apply_cpu = 0.0  # process time inside PositionsTable.apply_quotes
        self.update_cpu = 0.0  # process time inside Screen._on_timer_update (layout + paint)
        self.recording = False
        self._next = 0

    def on_response(self, conids: Sequence[int], at: float) -> None:
        self._next += 1
        self.pending[self._next] = at
        for conid in conids:
            self.batch_of[conid] = self._next

    def on_applied(self, conids: Any) -> None:
        seen = {self.batch_of.get(conid) for conid in conids}
        self.applied.extend(b for b in seen if b in self.pending)

    def on_painted(self) -> None:
        now = time.perf_counter()
        self.frames += 1
        for batch in self.applied:
            at = self.pending.pop(batch, None)
            if at is not None and self.recording:
                self.latencies.append(now - at)
        self.applied.clear()


def instrument(app: Any, probe: PaintProbe, naive: bool = False) -> None:
    """Wrap the app's ``_display`` for ``probe`` (``naive``: the stock Textual app)."""
    from textual._compositor import CompositorUpdate

    from ibtui.tui.terminal import TerminalWriter

    display = app._display
    headless = app.is_headless
    writer = TerminalWriter()  # what the app writes through on a terminal (headless: nothing)

    def painted(screen: Any, renderable: Any) -> None:
        display(screen, renderable)
        if renderable is None:
            return
        if headless and isinstance(renderable, CompositorUpdate):
            if naive:  # what stock Textual would send a terminal
                renderable.render_segments(app.console)
            else:  # what the console would send a terminal
                writer.render(renderable, app.console, (app.size.width, app.size.height))
        probe.on_painted()

    app._display = painted
    global _probe
    _probe = probe


_probe: PaintProbe | None = None


def timed_apply(apply: Callable[..., None]) -> Callable[..., None]:
    """``apply`` (quotes applied to a table or an app), its CPU and the keys it applied told to
    the probe while one is set."""

    def timed(self: Any, quotes: Any, **options: Any) -> None:
        cpu = time.process_time()
        apply(self, quotes, **options)
        if _probe is not None:
            _probe.apply_cpu += time.process_time() - cpu
            _probe.on_applied(quotes.keys())

    return timed


def install_wrappers() -> None:
    """Class-level wrappers (before the app starts, so Textual's timers pick them up): the
    table's ``apply_quotes`` and the screen's update timer and layout, timed and counted."""
    from textual.screen import Screen

    from ibtui.tui.widgets.positions_table import PositionsTable

    if getattr(PositionsTable.apply_quotes, "_bench_wrapped", False):
        return
    on_timer = Screen._on_timer_update
    layout = Screen._refresh_layout

    def on_timer_update(self: Screen[Any]) -> None:
        cpu = time.process_time()
        on_timer(self)
        if _probe is not None:
            _probe.update_cpu += time.process_time() - cpu

    def refresh_layout(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        if _probe is not None:
            _probe.layouts += 1
        layout(self, *args, **kwargs)

    apply_quotes = timed_apply(PositionsTable.apply_quotes)
    apply_quotes._bench_wrapped = True  # type: ignore[attr-defined]
    PositionsTable.apply_quotes = apply_quotes  # type: ignore[method-assign]
    Screen._on_timer_update = on_timer_update  # type: ignore[method-assign]
    Screen._refresh_layout = refresh_layout  # type: ignore[method-assign]
    from benchmarks.naive_app import NaiveApp

    NaiveApp.apply = timed_apply(NaiveApp.apply)  # type: ignore[method-assign]


async def wait_until(check: Callable[[], bool], limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def loaded_positions_screen(app: Any, rows: int, limit: float = 120.0) -> Any:
    """The positions screen once all ``rows`` are in the grid."""
    from ibtui.tui.screens.positions import PositionsScreen

    def ready() -> bool:
        screen = app.screen
        if not isinstance(screen, PositionsScreen):
            return False
        table = screen.table
        return not table.filling and table.grid.row_count >= rows

    await wait_until(ready, limit, f"{rows} rows in the positions grid")
    return app.screen


async def measured_ticks(
    pilot: Any,
    broker: FakeBroker,
    probe: PaintProbe,
    ticks: int,
    warmup_ticks: int,
    limits: tuple[float, float],
    rows: Callable[[], int],
) -> dict[str, Any]:
    """The app under ``pilot`` measured over ``ticks`` rounds of ``broker``, after
    ``warmup_ticks`` rounds: CPU, wall time, the probe's frames, layouts and latencies, and the
    grid's ``rows``. ``limits``: the seconds the warm-up and the measured rounds may take."""
    start_round = broker.round
    await wait_until(lambda: broker.round >= start_round + warmup_ticks, limits[0], "warm-up")
    gc.collect()
    probe.recording = True
    probe.frames = probe.layouts = 0
    probe.apply_cpu = probe.update_cpu = 0.0
    first = broker.round
    cpu0, wall0, fake0 = time.process_time(), time.perf_counter(), broker.cpu
    await broker.wait_round(first + ticks, limits[1])
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    fake = broker.cpu - fake0
    probe.recording = False
    shown = rows()
    await pilot.pause()
    return {
        "latencies": probe.latencies,
        "ticks": broker.round - first,
        "cpu": cpu,
        "fake_cpu": fake,
        "wall": wall,
        "frames": probe.frames,
        "layouts": probe.layouts,
        "apply_cpu": probe.apply_cpu,
        "update_cpu": probe.update_cpu,
        "rows": shown,
    }


async def run_ticks(size: int, ticks: int, warmup_ticks: int, latency: float) -> dict[str, Any]:
    from ibtui.tui import textual_compat
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings

    install_wrappers()
    probe = PaintProbe()
    broker = FakeBroker(make_positions(size), latency=latency, on_response=probe.on_response)
    textual_compat.apply_patches()  # as run_app
    app = IbtuiApp(broker, poll=PollSettings(interval=1.0), freeze_settled=True)  # as run_app
    textual_compat.install(app)
    async with app.run_test(size=(120, 40)) as pilot:
        instrument(app, probe)
        await loaded_positions_screen(app, size)
        return await measured_ticks(
            pilot,
            broker,
            probe,
            ticks,
            warmup_ticks,
            (60, ticks * 10 + 30),
            lambda: app.screen.table.grid.row_count,
        )


async def run_naive_ticks(
    size: int, ticks: int, warmup_ticks: int, latency: float
) -> dict[str, Any]:
    """:func:`run_ticks` for the stock Textual app (:mod:`benchmarks.naive_app`)."""
    from textual.widgets import DataTable

    from benchmarks.naive_app import NaiveApp

    install_wrappers()
    probe = PaintProbe()
    positions = make_positions(size)
    broker = FakeBroker(positions, latency=latency, on_response=probe.on_response)
    app = NaiveApp(broker, positions)
    async with app.run_test(size=(120, 40)) as pilot:
        instrument(app, probe, naive=True)
        table = app.query_one(DataTable)
        await wait_until(lambda: table.row_count >= size, 120, f"{size} rows in the DataTable")
        return await measured_ticks(
            pilot,
            broker,
            probe,
            ticks,
            warmup_ticks,
            (120, ticks * 30 + 60),
            lambda: table.row_count,
        )


def naive_in_child(size: int, ticks: int, latency: float) -> dict[str, Any]:
    """The stock Textual app measured as the console is, in a process of its own (the console's
    patches to Textual, applied in this one, must not reach it)."""
    with tempfile.TemporaryDirectory(prefix="ibtui-bench-naive-") as tmp:
        out = Path(tmp) / "naive.json"
        command = [PYTHON, "-m", "benchmarks.bench_tick", "--app", "naive", "--raw", str(out)]
        command += ["--positions", str(size), "--ticks", str(ticks), "--latency", str(latency)]
        subprocess.run(command, cwd=REPO, check=True)
        data: dict[str, Any] = json.loads(out.read_text())
    return data


def measure(size: int, ticks: int, latency: float) -> list[Result]:
    from ibtui.tui.app import console_runtime

    with console_runtime():  # the interpreter's settings of ``run_app``
        data = asyncio.run(run_ticks(size, ticks, warmup_ticks=3, latency=latency))
    naive = naive_in_child(size, ticks, latency)
    n = data["ticks"]
    latency_stat = Stat.of("snapshot answer → painted frame", "ms", data["latencies"], 1e3)
    cpu_tick = (data["cpu"] - data["fake_cpu"]) / n
    share = cpu_tick / 1.0 * 100
    met = latency_stat.median <= 30.0 and share <= 5.0
    naive_n = max(1, naive["ticks"])
    naive_latency = Stat.of(
        "stock DataTable app: snapshot answer → painted frame", "ms", naive["latencies"], 1e3
    )
    naive_cpu = (naive["cpu"] - naive["fake_cpu"]) / naive_n
    anchor = (
        f"; a stock Textual DataTable app doing the same: median {fmt(naive_latency.median)} ms "
        f"to the painted frame, {fmt(naive_cpu * 1e3)} ms CPU per tick (the console "
        f"{naive_latency.median / latency_stat.median:.1f}× lower latency, "
        f"{naive_cpu / cpu_tick:.1f}× less CPU)"
    )
    return [
        Result(
            id="3",
            title=f"Tick cost, {size:,} positions, headless",
            target="median ≤ 30 ms from snapshot answer to painted frame; ≤ 5% of one core at 1 s",
            met=met,
            headline=(
                f"median {fmt(latency_stat.median)} ms to the painted frame "
                f"(p90 {fmt(latency_stat.p90)} ms); {fmt(cpu_tick * 1e3)} ms CPU per tick = "
                f"{share:.1f}% of one core at a 1 s interval, ticks {data['wall'] / n:.2f} s apart "
                f"(latency {'met' if latency_stat.median <= 30 else 'NOT met'}, "
                f"CPU {'met' if share <= 5 else 'NOT met'})" + anchor
            ),
            stats=[
                latency_stat,
                Stat.single("app CPU per tick (fake broker excluded)", "ms", cpu_tick * 1e3),
                Stat.single("fake broker CPU per tick", "ms", data["fake_cpu"] / n * 1e3),
                Stat.single(
                    "  of which applying quotes to the table", "ms", data["apply_cpu"] / n * 1e3
                ),
                Stat.single(
                    "  of which layout + paint (screen update timer)",
                    "ms",
                    data["update_cpu"] / n * 1e3,
                ),
                Stat.single("frames painted per tick", "frames", data["frames"] / n),
                Stat.single("wall time per tick (poller interval 1 s)", "s", data["wall"] / n),
                Stat.single("whole-screen layouts per tick", "layouts", data["layouts"] / n),
                Stat.single(
                    "CPU per painted frame (layout + paint)",
                    "ms",
                    data["update_cpu"] / max(1, data["frames"]) * 1e3,
                ),
                naive_latency,
                Stat.single("stock DataTable app: CPU per tick", "ms", naive_cpu * 1e3),
                Stat.single(
                    "stock DataTable app: frames painted per tick",
                    "frames",
                    naive["frames"] / naive_n,
                ),
                Stat.single(
                    "stock DataTable app: wall time per tick", "s", naive["wall"] / naive_n
                ),
            ],
            method=(
                f"{n} ticks measured after 3 warm-up ticks, {data['wall']:.0f} s of wall time, "
                f"{data['rows']:,} rows in the grid, 120×40, {latency * 1e3:.0f} ms simulated "
                "round trip per snapshot call. " + (__doc__ or "").split("\n\n", 1)[1].strip()
            ),
        )
    ]


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--ticks", type=int, help="measured ticks (default 60, quick 15)")
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per snapshot")
    parser.add_argument("--app", choices=("console", "naive"), default="console")
    parser.add_argument("--raw", type=Path, help="(--app naive) write the raw figures here")
    args = parser.parse_args(argv)
    ticks = args.ticks or (15 if args.quick else 60)
    if args.app == "naive":  # the anchor, in a process of its own (see naive_in_child)
        data = asyncio.run(run_naive_ticks(args.positions, ticks, 3, args.latency))
        args.raw.write_text(json.dumps(data))
        return 0
    return write_timed(args.json, lambda: measure(args.positions, ticks, args.latency))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
