"""``make bench``: every benchmark in one run, side by side, into ``BENCHMARKS.md``.

    python -m benchmarks [--quick] [--duration S] [--requests N] [--only 1,3,...] [--out PATH]

Each benchmark module runs in its own child process (so one's memory, threads and imports never
weigh on another's figures) and hands back JSON. The timing-sensitive ones (1-5) run one after
the other; the two long soaks (6 memory, 7 request economy) then run at the same time, unless
``--sequential``. Nothing here fails: a missed target is reported as such, a benchmark that
crashed as "not measured" with the end of its output. The exit status is 0 either way.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import PYTHON, REPO, Result, Stat, fmt, machine


@dataclass
class Job:
    module: str
    ids: tuple[str, ...]
    args: list[str]
    title: str


def jobs(args: argparse.Namespace) -> tuple[list[Job], list[Job]]:
    quick = ["--quick"] if args.quick else []
    duration = ["--duration", str(args.duration)] if args.duration else []
    requests = ["--requests", str(args.requests)] if args.requests else []
    timed = [
        Job("bench_requests", ("1", "2"), [*quick, *requests], "signed requests and LST"),
        Job("bench_tick", ("3",), quick, "tick cost"),
        Job("bench_terminal", ("4", "5"), quick, "terminal bytes and cold start"),
    ]
    soaks = [
        Job("bench_memory", ("6",), [*quick, *duration], "memory"),
        Job("bench_economy", ("7",), [*quick, *duration], "request economy"),
    ]
    wanted = set(args.only.split(",")) if args.only else None

    def keep(job: Job) -> bool:
        return wanted is None or bool(wanted & set(job.ids))

    return [j for j in timed if keep(j)], [j for j in soaks if keep(j)]


def start(job: Job, out: Path) -> tuple[subprocess.Popen[str], Path]:
    path = out / f"{job.module}.json"
    log = (out / f"{job.module}.log").open("w")
    print(f"--- {job.title} ({job.module} {' '.join(job.args)})", flush=True)
    process = subprocess.Popen(
        [PYTHON, "-m", f"benchmarks.{job.module}", "--json", str(path), *job.args],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, path


def finish(job: Job, process: subprocess.Popen[str], path: Path, began: float) -> list[Result]:
    process.wait()
    log = path.with_suffix(".log").read_text()
    print(log.rstrip(), flush=True)
    if path.exists():
        data = json.loads(path.read_text())
        return [_result(r) for r in data["results"]]
    tail = "\n".join(log.strip().splitlines()[-6:])
    return [
        Result(
            id=i,
            title=job.title,
            target="",
            met=None,
            headline=f"not measured: {job.module} exited with status {process.returncode}",
            notes=[f"end of its output: {tail}"],
            seconds=time.monotonic() - began,
        )
        for i in job.ids
    ]


def _result(data: dict[str, Any]) -> Result:
    stats = [Stat(**s) for s in data.pop("stats")]
    return Result(stats=stats, **data)


# --- the report ----------------------------------------------------------------------------------
VERDICT = {True: "**met**", False: "**not met**", None: "not measured"}

FINDINGS = """\
## Found while building the benchmarks

* **The simulator stalls every loopback answer by ~40 ms.** `ibtui.sim.serve.bind_loopback`
  creates its socket as `socket.socket(family, SOCK_STREAM)` (`proto=0`), so asyncio skips its usual
  `TCP_NODELAY` on the accepted connections (`asyncio.base_events._set_nodelay` checks
  `proto == IPPROTO_TCP`). uvicorn writes the headers and the body in two writes; with Nagle's
  algorithm the body waits for the client's delayed ACK. Every request to `ibtui sim` took ~44 ms
  for ibtui and ibind alike, ~4 ms with `TCP_NODELAY`. The benchmarks start the simulator through
  `benchmarks/sim_nodelay.py`, which sets it; the fix in `serve.py` is one line
  (`sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)` in `bind_loopback`).
* **httpcore looks for `sniffio` on every request.**
  `httpcore._synchronization.current_async_library` does `import sniffio` inside the function;
  sniffio is not installed (anyio 4.16 no longer needs it) and a failed import is not cached, so
  each request walks `sys.path` twice. Adding `sniffio` to the dependencies removed roughly
  0.3-0.7 ms of client CPU per request in a side test (noisy on this shared machine).
* **Opening the watchlist while quotes arrive crashes the app.** `PositionsScreen.on_quotes_updated`
  forwards quotes to the top screen's `set_quote`; a `WatchlistScreen` pushed but not yet composed
  raises `NoMatches` for its `WatchlistTable` (`screens/watchlist.py`, `apply_quote` → `table`),
  which ends the app. The memory benchmark holds quotes back while the screen mounts.
"""

WHY = {
    "1": (
        "Both clients pay the same simulator (a Starlette app verifying the OAuth signature; its "
        "CPU per request is a row of the table) and the same loopback round trip, so a client "
        "that cost nothing at all would still not reach 0.5× of ibind's total. The client CPU "
        "rows are the fairer comparison: per request, ibtui's httpx `AsyncClient` (auth flow, "
        "connection pool, anyio streams, typed parsing) against ibind's synchronous "
        "`requests.Session`. Cheap win: install `sniffio` (see below); beyond that the floor is "
        "httpx's own per-request cost, which a change of HTTP library would be needed to cut."
    ),
    "3": (
        "Every batch of 100 quotes ends in `PositionsGrid.update_cells`, which bumps the "
        "DataTable's `_update_count`: that key is part of every cell's render-cache key, so each "
        "following frame re-renders every visible cell through Rich (the 'CPU per painted "
        "frame' row), even when the batch's rows are off screen. With 10 batches a tick, plus the "
        "flash ends (`refresh_marks`) and the totals/pager `Static.update` (which asks for a "
        "whole-screen layout), a tick costs several full-table renders. Fixes, for the "
        "positions-grid owner: refresh only the regions of changed visible cells "
        "(`refresh_cell`/`refresh_row`) and drop only their cache entries instead of bumping "
        "`_update_count`; skip refreshes for rows "
        "outside the viewport; apply a tick's batches in one go; `update(..., layout=False)` for "
        "the one-line totals and pager; the remaining cost is `apply_quotes` recomputing and "
        "formatting every price cell of every row (Decimal formatting), which could be limited to "
        "rows in view plus the totals."
    ),
    "4": (
        "Textual repaints whole widget regions: a refreshed DataTable sends every visible line of "
        "the grid again (Textual does not diff cells against the previous frame), and the tick "
        "repaints it several times (the change, the flashes ending a second later, the totals' "
        "layout refresh on every poll). The same fixes as for the tick cost apply: refreshing "
        "only changed cells lets "
        "Textual send just those spans, and one repaint per tick instead of several. Even then "
        "the six price columns of every visible row change on every tick here, so 20% needs "
        "cell-level refreshes. The idle row shows what the screen sends with prices frozen "
        "(the status bar's clock, and the totals line's layout refresh on every poll)."
    ),
    "5": (
        "Most of it is Python start-up and imports (Textual, the client, the simulator and its "
        "market: importing `ibtui.console` alone took about 1.3 s on this machine when this was "
        "written) and `build_demo()`, "
        "which generates two fresh 2048-bit RSA keys for the demo consumer (the row above). "
        "Cheap wins for the demo: generate the keys in a thread while the UI starts (or once per "
        "state folder), and import the simulator lazily after the first frame."
    ),
    "6": "See the rows: the peak is over the target, or RSS still grows in the run's last half.",
    "7": "See the notes: more snapshot calls than needed, or the simulator answered 429.",
}


def markdown(text: str) -> str:
    """A docstring's reST-isms as Markdown: one line per paragraph, single backticks."""
    text = re.sub(r":\w+:`~?", "`", text).replace("``", "`")
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def stat_table(stats: list[Stat]) -> list[str]:
    lines = [
        "| measure | median | p10 | p25 | p75 | p90 | n | unit |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in stats:
        if s.n <= 1:
            lines.append(f"| {s.label} | {fmt(s.median)} | | | | | {s.n} | {s.unit} |")
        else:
            lines.append(
                f"| {s.label} | {fmt(s.median)} | {fmt(s.p10)} | {fmt(s.p25)} | {fmt(s.p75)} "
                f"| {fmt(s.p90)} | {s.n} | {s.unit} |"
            )
    return lines


def render(
    results: list[Result],
    host: dict[str, str],
    args: argparse.Namespace,
    began: datetime,
    seconds: float,
) -> str:
    mode = "quick (`--quick`)" if args.quick else "full"
    soak = args.duration or (60 if args.quick else 600)
    requests = args.requests or (200 if args.quick else 2000)
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m benchmarks`) on {began:%Y-%m-%d %H:%M} UTC, "
        f"{mode} run, {seconds / 60:.1f} min. Requests per client: {requests:,}; memory and "
        f"request-economy runs: {soak:.0f} s each"
        + (", one after the other." if args.sequential else ", at the same time.")
        + " Benchmarks are not tests: they never fail a build; each says whether its target is "
        "met. Figures move with the machine's load (it is shared): compare runs by the ratios.",
        "",
        "## Summary",
        "",
        "| # | benchmark | target | result | target met |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.id} | {r.title} | {r.target} | {r.headline} | {VERDICT[r.met]} |")
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in host.items()]
    missed = [r for r in results if r.met is not True]
    if missed:
        lines += ["", "## Targets that do not hold yet, and why", ""]
        for r in missed:
            why = WHY.get(r.id, "") if r.met is False else "The benchmark did not finish."
            lines.append(f"* **{r.id}. {r.title}** — {r.headline}. {why}")
    lines += ["", "## Details"]
    for r in results:
        lines += [
            "",
            f"### {r.id}. {r.title}",
            "",
            f"Target: {r.target or 'n/a'} — {VERDICT[r.met]}. {r.headline}.",
            "",
        ]
        if r.stats:
            lines += [*stat_table(r.stats), ""]
        if r.method:
            lines += [f"How: {markdown(r.method)}", ""]
        for note in r.notes:
            lines += [f"Note: {note}", ""]
        lines.append(f"(took {r.seconds:.0f} s)")
    lines += ["", FINDINGS]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--duration", type=float, help="seconds of the memory and economy runs")
    parser.add_argument("--requests", type=int, help="signed requests per client")
    parser.add_argument("--only", help="comma-separated benchmark numbers, e.g. 1,2,5")
    parser.add_argument("--sequential", action="store_true", help="run the soaks one at a time")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    began = datetime.now(UTC)
    host = machine()  # the load average before anything of ours runs
    clock = time.monotonic()
    timed, soaks = jobs(args)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ibtui-bench-run-") as tmp:
        out = Path(tmp)
        for job in timed:
            t0 = time.monotonic()
            process, path = start(job, out)
            results += finish(job, process, path, t0)
        if args.sequential:
            for job in soaks:
                t0 = time.monotonic()
                process, path = start(job, out)
                results += finish(job, process, path, t0)
        else:
            t0 = time.monotonic()
            running = [(job, *start(job, out)) for job in soaks]
            for job, process, path in running:
                results += finish(job, process, path, t0)
    results.sort(key=lambda r: int(r.id))
    text = render(results, host, args, began, time.monotonic() - clock)
    args.out.write_text(text)
    print(f"\nwrote {args.out}")
    for r in results:
        print(f"  {r.id}. {r.title}: {VERDICT[r.met].strip('*')} — {r.headline}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
