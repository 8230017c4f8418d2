"""Benchmark 3b: polling end to end, headless, at 1,000 and 5,000 positions.

``IbtuiApp.run_test(size=(120, 40))`` over the real client (``ClientBackend`` over ``IbkrClient``,
OAuth-signed requests, JSON parsed into models and view-models) talking to the in-process simulator
through ``httpx.ASGITransport``, with pacing on at both ends: the client's pacer (IBKR's 10
snapshots a second, 10 requests a second in all) and the simulator's (a request over the limit is
answered 429). The simulator is provisioned with the account's positions (``SimConfig(
portfolio_size=N)``) and replays an open market, so prices move. The poller runs at the default
interval (``PollSettings()``: 2 s), as ``run_app`` runs it (``console_runtime``,
``freeze_settled``).

*Ages*: every 0.5 s, each row's quote age (the app's clock less the row's ``price_at``), for the
rows on screen and for the whole book; median and max over all samples.

*CPU*: ``time.process_time`` of the process over the measured time, less the simulator's (it runs
on a thread of its own; requests and answers cross as bytes) and the age samples' own, split
into the UI (the positions table's ``apply_quotes`` and ``set_positions``, and the screen's
update timer: layout and paint) and the client (the rest: the poller, the client's requests,
signing, parsing, the event loop). Per round of the poller and as a share of one core.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.bench_tick import install_wrappers, loaded_positions_screen, wait_until
from benchmarks.common import Result, Stat, base_parser, fmt, write_timed


class SimMeter:
    """An ASGI wrapper: the simulator's answers, and how many were 429s."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0
        self.rejected = 0  # 429s

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counted(message: Any) -> None:
            if message.get("type") == "http.response.start" and message.get("status") == 429:
                self.rejected += 1
            await send(message)

        self.requests += scope.get("type") == "http"
        await self.app(scope, receive, counted)


class SimThread(httpx.AsyncBaseTransport):
    """The in-process simulator's ASGI transport, run on a thread of its own with its own event
    loop: its CPU is that thread's (``time.thread_time``), apart from the app's. Requests and
    answers cross as bytes; the client parses the JSON as it would from a socket."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        job = self._serve(request.method, str(request.url), request.headers.raw, body)
        status, headers, content = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(job, self.loop)
        )
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _serve(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        request = httpx.Request(method, url, headers=headers, content=body)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        return response.status_code, response.headers.raw, content

    def cpu(self) -> float:
        """The simulator thread's CPU so far."""

        async def spent() -> float:
            return time.thread_time()

        return asyncio.run_coroutine_threadsafe(spent(), self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _ui_meter() -> dict[str, float]:
    """Wrap ``PositionsTable.set_positions`` (``apply_quotes`` and the screen's update timer are
    wrapped by benchmark 3's probe); the dict holds its CPU."""
    from ibtui.tui.widgets.positions_table import PositionsTable

    meter = {"positions": 0.0}
    set_positions = PositionsTable.set_positions

    def timed(self: PositionsTable, positions: Any) -> None:
        cpu = time.process_time()
        set_positions(self, positions)
        meter["positions"] += time.process_time() - cpu

    PositionsTable.set_positions = timed  # type: ignore[method-assign]
    return meter


async def run_polling(size: int, duration: float, warmup: float) -> dict[str, Any]:
    from benchmarks import bench_tick
    from ibtui.adapters.broker import ClientBackend
    from ibtui.ibkr.session import AccessCredentials
    from ibtui.sim.clock import ShiftedClock, SystemClock
    from ibtui.sim.config import SimConfig
    from ibtui.sim.demo import build_demo, trading_offset
    from ibtui.tui import textual_compat
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings

    install_wrappers()
    probe = bench_tick.PaintProbe()
    bench_tick._probe = probe
    ui = _ui_meter()
    config = SimConfig(
        seed=1,
        clock=ShiftedClock(SystemClock(), trading_offset(time.time())),
        portfolio_size=size,
    )
    keys = Path(tempfile.gettempdir()) / "ibtui-bench-keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    demo = build_demo(config=config, key_dir=keys)
    meter = SimMeter(demo.transport.app)  # type: ignore[attr-defined]
    demo.transport.app = meter  # type: ignore[attr-defined]
    sim_thread = SimThread(demo.transport)
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    backend = ClientBackend(
        demo.base_url,
        demo.consumer,
        access=AccessCredentials(token, secret),
        transport=sim_thread,
    )
    settings = PollSettings()
    textual_compat.apply_patches()  # as run_app
    app = IbtuiApp(backend, poll=settings, freeze_settled=True)
    textual_compat.install(app)
    in_view_ages: list[float] = []
    book_ages: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        from ibtui.tui.screens.accounts import AccountsScreen
        from ibtui.tui.screens.positions import PositionsScreen

        def chosen() -> bool:
            return isinstance(app.screen, AccountsScreen | PositionsScreen)

        await wait_until(chosen, 60.0, "the accounts")
        if isinstance(app.screen, AccountsScreen):  # the simulator's user has several
            await pilot.press("enter")  # the first: the provisioned positions
        screen = await loaded_positions_screen(app, size, limit=180.0)
        table = screen.table

        def all_priced() -> bool:
            return all(view.price_at is not None for view in table.views.values())

        await wait_until(all_priced, 180.0, "a quote for every position")
        await asyncio.sleep(warmup)
        poller = app.session.poller
        gc.collect()
        rounds0 = poller.rounds
        cpu0, wall0 = time.process_time(), time.perf_counter()
        sim0, rejected0, requests0 = sim_thread.cpu(), meter.rejected, meter.requests
        probe.apply_cpu = probe.update_cpu = 0.0
        ui["positions"] = 0.0
        end = time.monotonic() + duration
        sampling = 0.0  # the samples' own CPU, left out
        while time.monotonic() < end:
            await asyncio.sleep(0.5)
            sample = time.process_time()
            now = app.clock()
            views = table.views
            ages = {key: now - v.price_at for key, v in views.items() if v.price_at is not None}
            book_ages.extend(ages.values())
            shown = set(table.conids_in_view())
            in_view_ages.extend(age for key, age in ages.items() if views[key].conid in shown)
            sampling += time.process_time() - sample
        cpu, wall = time.process_time() - cpu0 - sampling, time.perf_counter() - wall0
        sim = sim_thread.cpu() - sim0
        rounds = poller.rounds - rounds0
        plan = poller.plan
        status = str(screen.status_bar.render())
        await pilot.pause()
    await backend.aclose()
    sim_thread.stop()
    ui_cpu = probe.apply_cpu + probe.update_cpu + ui["positions"]
    return {
        "size": size,
        "interval": settings.interval,
        "wall": wall,
        "rounds": rounds,
        "cpu": cpu,
        "sim": sim,
        "ui": ui_cpu,
        "client": cpu - sim - ui_cpu,
        "in_view": in_view_ages,
        "book": book_ages,
        "rejected": meter.rejected - rejected0,
        "requests": meter.requests - requests0,
        "plan": plan.describe() if plan is not None else None,
        "status": status,
    }


def result(data: dict[str, Any]) -> Result:
    size, interval, wall = data["size"], data["interval"], data["wall"]
    rounds = max(1, data["rounds"])
    share = (data["client"] + data["ui"]) / wall * 100
    view_max, book_max = max(data["in_view"], default=0.0), max(data["book"], default=0.0)
    cpu_limit = 5.0 if size <= 1_000 else 10.0
    checks = {
        "rows in view": view_max <= 2 * interval,
        "CPU": share <= cpu_limit,
        "429s": data["rejected"] == 0,
    }
    target = f"rows in view ≤ {2 * interval:g} s old; ≤ {cpu_limit:g}% of one core; no 429"
    if size > 1_000:
        checks["whole book"] = book_max <= 30.0
        target = (
            f"rows in view ≤ {2 * interval:g} s old; whole book ≤ 30 s; " + target.split("; ", 1)[1]
        )
    verdicts = ", ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks.items())
    plan = data["plan"] or f"every quote every round ({interval:g} s)"
    return Result(
        id="3b",
        title=f"Polling end to end, {size:,} positions, real client, paced simulator",
        target=target,
        met=all(checks.values()),
        headline=(
            f"rows in view at most {fmt(view_max)} s old (median "
            f"{fmt(statistics.median(data['in_view'] or [0.0]))} s), the whole book at most "
            f"{fmt(book_max)} s; {share:.1f}% of one core (client "
            f"{fmt(data['client'] / rounds * 1e3)} ms + UI {fmt(data['ui'] / rounds * 1e3)} ms a "
            f"round); {data['rejected']} × 429; {plan} ({verdicts})"
        ),
        stats=[
            Stat.of("age of the rows in view", "s", data["in_view"]),
            Stat.of("age of every row in the book", "s", data["book"]),
            Stat.single("client CPU per round", "ms", data["client"] / rounds * 1e3),
            Stat.single("UI CPU per round", "ms", data["ui"] / rounds * 1e3),
            Stat.single("simulator CPU per round (left out)", "ms", data["sim"] / rounds * 1e3),
            Stat.single("rounds a second", "rounds", data["rounds"] / wall),
            Stat.single("requests a second", "requests", data["requests"] / wall),
            Stat.single("429 answers", "answers", float(data["rejected"])),
        ],
        notes=[f"status bar: {data['status'].strip()}"],
        method=(
            f"{wall:.0f} s measured ({data['rounds']} rounds) after every position had a quote. "
            + (__doc__ or "").split("\n\n", 1)[1].strip()
        ),
    )


def measure(sizes: list[int], duration: float, warmup: float) -> list[Result]:
    from ibtui.tui.app import console_runtime

    results = []
    for size in sizes:
        with console_runtime():  # the interpreter's settings of ``run_app``
            data = asyncio.run(run_polling(size, duration, warmup))
        results.append(result(data))
    return results


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--sizes", default="1000,5000", help="positions, comma-separated")
    parser.add_argument("--duration", type=float, help="measured seconds (default 60, quick 20)")
    args = parser.parse_args(argv)
    duration = args.duration or (20.0 if args.quick else 60.0)
    return write_timed(
        args.json, lambda: measure([int(s) for s in args.sizes.split(",")], duration, warmup=4.0)
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
