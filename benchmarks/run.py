"""``make bench``: every benchmark in one run, side by side, into ``BENCHMARKS.md``.

    python -m benchmarks [--quick] [--duration S] [--requests N] [--only 1,3,...] [--out PATH]

Each benchmark module runs in its own child process (so one's memory, threads and imports never
weigh on another's figures) and hands back JSON. The timing-sensitive ones (1-5, 8) run one after
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

from benchmarks.common import PYTHON, REPO, Result, Stat, fmt, machine, speed_probe


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
        Job("bench_e2e", ("3b",), quick, "polling end to end"),
        Job("bench_terminal", ("4", "5"), quick, "terminal bytes and cold start"),
        Job("bench_parse", ("8",), quick, "snapshot parsing"),
        Job("bench_stream", ("9",), quick, "streamed against polled prices"),
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
PROBE_START = "speed probe at the start (ms of CPU for a fixed piece of Python; lower is faster)"
PROBE_END = "speed probe at the end"

VERDICT = {True: "**met**", False: "**not met**", None: "not measured"}

FINDINGS = """\
## Found while building the benchmarks (each fixed since)

* **The simulator stalled every loopback answer by ~40 ms.** `ibtui.sim.serve.bind_loopback`
  created its socket with `proto=0`, so asyncio skipped its usual `TCP_NODELAY` on the accepted
  connections; uvicorn writes the headers and the body in two writes, and with Nagle's algorithm
  the body waited for the client's delayed ACK (~44 ms a request for ibtui and ibind alike, ~4 ms
  with `TCP_NODELAY`, which `bind_loopback` now sets).
* **httpcore looked for `sniffio` on every request.** It imports it inside a function; it was not
  installed and a failed import is not cached, so each request walked `sys.path` twice. `sniffio`
  is a dependency now.
* **Opening the watchlist while quotes arrived crashed the app** (`NoMatches` for a table not yet
  composed); a quote that arrives before the table exists is kept.
* **One quotes message per batch of 100** made a 1,000-position tick repaint every visible cell
  ten times, so the poller posted one per round; that held every price of a round until its
  slowest batch answered (at IBKR's 10 snapshots a second the eleventh batch of 1,050 conids
  answers a second after the first). With only changed cells repainted, each batch is posted as
  it answers again, and the batch holding the rows on screen is asked first.
* **Every cell update invalidated the whole grid.** `DataTable.update_cell` bumps a counter that is
  part of every render-cache key, so each frame re-rendered and re-sent every visible cell; the
  grid now drops only the changed cells' cached renderings and refreshes only their regions.
* **The demo generated two 2048-bit RSA keys at every start** (about 1.1 s); it keeps them in the
  state dir (0600).
* **A 1,000-position tick painted three frames**: the new prices, the flashes ending a second
  later, and the totals (computed after the repaint). A flash now ends with the next round of
  quotes (or half a second late when none comes), the totals follow a round in the same repaint,
  and the status bar repaints only when its text changes.
* **Each changed cell went through Rich** (`Styled(Padding(Text))`, about 0.3 ms a cell) and each
  repainted row looked the theme's styles up again (each lookup walks the widget's ancestors).
  The positions grid now draws its data rows itself: a cell's segments are built directly,
  cached on the cell's value, rows on a version bumped when one of their cells changes, styles
  read once a frame; a test holds every line to what `DataTable` draws.
* **Textual's footer styled each key three times as it mounted, and recomposed once per bindings
  signal.** Its keys start compact and are then bound to the footer's (not compact) state, a
  stylesheet pass over the key and its parts each time; a screen's mount, focus and first resume
  each asked for a recompose, and the account picker's footer recomposed twice more after the
  picker was gone. ibtui's footer composes its keys in the footer's state, recomposes once for a
  burst of changes and only on the current screen (243 -> 195 stylesheet passes before the
  first positions).
* **The garbage collector took 80-90 ms of the cold start.** Each object the imports made counted
  towards the next collection (about 120 while importing) and the app's first full collection
  walked them all again. The `ibtui` command imports a command's modules with the collector off
  and then freezes what they built (`gc.freeze`): 13-15 ms of collections are left before the
  first positions.
* **A drawn frame reached the terminal 5-20 ms late.** Textual writes from a thread of its own,
  which took the GIL back from the busy event loop two or three times a frame, each after
  Python's 5 ms switch interval; the console sets 1 ms while it runs (2-5 ms).
* **pycryptodome's PEM reader imports its ciphers for encrypted files** (AES with a CPU-feature
  probe, DES, DES3, MD5, PBKDF) at each demo start; the demo reads its own unencrypted PKCS#8
  keys itself.
* **A round asked its snapshot batches one after the other**, so the first batch's prices waited
  for the last one's answer; up to four go at once now (the pacer still keeps IBKR's 10 a
  second).
* **The totals line summed every position at each repaint** (1,000 rows, four Decimal products
  each); the totals are kept up to date by each repriced row's difference, in exact Decimal
  arithmetic so they never drift from a sum afresh (a property test holds them to one).
* **A finished flash ended with the next batch of quotes of any row**, so with batches shown as
  they come the rows of later batches were repainted twice a tick; a flash ends with its own
  row's next quote.
* **Every changed line of the grid was measured and joined segment by segment**
  (`Strip.adjust_cell_length` and `Strip.simplify`, half the cost of drawing a line); a line is
  now cut from its cells, whose widths are known, and each cell's segments are joined once when
  the cell is built.
* **The terminal writer compared the screen cell by cell in Python**; it compares each written
  span in C (`bytes(map(ne, ...))`, `bytes.find`) and copies spans into its shadow by slices.
* **The terminal writer put a table line up to five times a frame.** For each changed span of a
  line, Textual writes the widget's whole piece of the line from its start to the span's end,
  and the writer mirrored each of those writes; it now puts each piece once, as far as its
  furthest span reaches (the same cells; its share of a tick fell from 7-8 ms to 4-4.5 ms).
* **Every screen opened and closed left its widgets' styles caches behind.** Textual's
  `StylesCache.get_inner_outer` is an `lru_cache` on an instance method (Textualize/textual#6665),
  so it kept the styles caches of the last 1,024 widgets drawn, each with its rendered lines:
  about 1,300 objects a watchlist screen, 0.6 MB a minute in the memory benchmark (3.1 MB over
  its last five minutes, over the 2 MB allowed). ibtui caches that method on its two colours.
* **A repainted row built all fourteen of its cells again** when a quote changed four of them:
  the grid now keeps each row's cells as last drawn and builds only the changed ones (a first
  version kept them in Textual's `LRUCache`, whose `set` leaves a key's first value in place, and
  so never reused a cell; a test now counts the cells built).
* **The poller copied every quote of a round to stamp it with its time of receipt**; the client
  backend stamps a quote as it builds it.
* **The cyclic garbage collector took 6 ms of a 1,000-position tick**, most of it walking the
  account's rows, cells, widgets and caches again at each full and middle-generation collection.
  Once an account's first prices are shown and its screen has settled, the console collects once
  and freezes what it holds (`gc.freeze`; unfrozen when another account is opened): 3 ms. A
  young-generation threshold of 10,000 instead of 700 cut the collections further, but the
  memory benchmark then grew by 5 MB a minute; the thresholds are Python's.
* **The tick benchmark counted its own polling as the app's CPU**: it waited for the last
  measured round by waking 20 times a second; it now waits on an event the fake broker sets.
* **The terminal writer made a (text, pen) pair for every cell it put**, some 4,000 a tick:
  objects the collector counts towards its young collections (about six a tick). A line's cells
  are now two lists, texts and pens, put in with slice assignments (about four a tick).
* **Textual's `Strip` makes seven caches as it is made** (`FIFOCache` objects, each with a
  dict), and a changed line makes three or four strips on its way to the terminal, most of
  whose caches are never used; ibtui makes a strip's caches when first used (about 4% of a tick,
  and fewer young collections).
* **Textual's ANSI-to-truecolor line filter made a new segment for every segment of every line
  drawn**, even when no style in the line has an ANSI colour or is dim (nearly every line here);
  ibtui's hands such a line back as it is (a property test holds it to Textual's).
* **A partial update rendered every widget on the screen.** Textual chooses the widgets to render
  by whether their container's clip overlaps the changed area, and the clip of everything on the
  screen is the whole screen: the status line and the footer rendered at every frame, and all
  the grid's lines for a change of the totals line. ibtui's compositor tests each widget's
  visible part.
* **The totals line went through Textual's content layout** at each frame (about as much as all
  the rows a tick changes); it draws its one line itself.
* **A refreshed position list rebuilt every row's view and counted the totals afresh** (every
  10 s: 7-9 ms at 1,000 positions); rows whose position is as it was keep their view, and the
  totals are kept by differences.
* **Smaller ones**: a row's changed cells are refreshed as one region, not one a cell (about 35
  regions a tick instead of 200); the grid's cell updates are grouped by row before DataTable's
  keys, which hash in Python, are made; cells are made without the frozen dataclass `__init__`;
  money is formatted with quanta and format specs made once. Side by side with commit 41e10f7
  (at a 0.25 s interval, eight pairs of runs alternated), this session's changes took a tick's
  CPU down by about a fifth (median ratio 0.82).
* **A quote that moves nothing repriced its row all the same** (between two polls of a quiet
  market, most of them): a new view, the totals counted again and the totals line drawn again.
  It now only stamps the row's price; with 1,000 unchanged quotes a second, the console went
  from 12.9 to 9.8 ms of CPU a second and from 2 frames a second to none.
"""

WHY = {
    "1": (
        "Parity is the target because the HTTP stack, not ibtui's code, is about half of the "
        "client's CPU: profiled by CPU time (cProfile, 500 requests to the same simulator), "
        "httpx, httpcore, h11, anyio and urllib's parsing took about half of ibtui's CPU a "
        "request, asyncio's event loop a tenth and ibtui's own code (the signature, the pacing "
        "slot, the request core, the model) about a tenth. Measured earlier on this machine: "
        "httpx's own layer (with an in-memory transport) 0.3-0.45 ms a request, and even a "
        "hand-written HTTP/1.1 client (h11 over asyncio streams, no pool, no timeouts) "
        "0.64-0.68 ms. httpx is the project's HTTP library and its signing hook (`httpx.Auth`) "
        "is how requests are signed, so a run on a loaded machine can land either side of "
        "ibind's `requests.Session` (compare the runs' ratios)."
    ),
    "3": (
        "Each batch of 100 quotes is shown as it answers (four asked at once, the batch "
        "holding the rows on screen first), so a price waits for its own batch and the frame "
        "after it, not for the round's slowest batch; a tick is about two frames (the rows in "
        "view and the totals with the first answers, the totals again with the later ones). "
        "What is left per tick at 1,000 positions: repricing every position (a new immutable "
        "view each, Decimal arithmetic) and keeping the totals by differences, the 'applying "
        "quotes' row; drawing the rows in view (all changed here: each row builds only its "
        "changed cells, a line is cut from its cells), Textual's styles, line filter and "
        "compositor and the terminal writer, the 'layout + paint' row; the poller, Textual's "
        "message passing, timers and the garbage collector's young collections, the rest. The "
        "figure moves with the machine's speed (compare the speed probe in the machine's table: "
        "the same code measured 62 and 78 ms a tick in two hours of one day, and the probe itself "
        "has ranged from 16 to 61 ms), so a run in a slow hour can miss what a run in a fast one "
        "meets. Side by side, commit 95afdef took about a sixth less CPU a tick than 8cbba64 "
        "(51.9 -> 43.7 ms), and the code measured here about a fifth less than 41e10f7 (median "
        "ratio 0.82 over eight pairs of runs)."
    ),
    "3b": (
        "The client's side of a round is mostly parsing the snapshot answers (JSON to models to "
        "view-models) and signing each request; the simulator's own CPU, in the same process, is "
        "left out. The rows in view are asked first every round; rows out of view rotate within "
        "IBKR's 10 snapshots a second, and the status bar states the bound."
    ),
    "4": (
        "Every price of every visible row changes on every tick here. The grid sends only "
        "changed cells, a flash ends with the next tick, and the terminal writer "
        "(`ibtui/tui/terminal.py`) sends only the characters that differ from what the terminal "
        "shows, with the shortest cursor moves and colour codes; the full repaint it is compared "
        "with goes through the same writer (Textual's own full repaint is a row of the table)."
    ),
    "5": (
        "Measured from a copy of the package with its bytecode compiled (as `pip install` or "
        "`make demo` leaves it); without bytecode (a row of the table) Python compiles every "
        "module of ibtui at each start. It is all CPU (the process's CPU time at the first "
        "painted positions is within about 20 ms of the wall time), two thirds of it imports "
        "(run without the cyclic garbage collector, see below): "
        "Textual, Rich, httpx, Starlette (the embedded simulator), anyio and pycryptodome take "
        "0.35-0.45 s of CPU on this machine, ibtui's own modules 0.12-0.16 s (70 frozen "
        "dataclasses at about 1 ms each, most of them the simulator's and the client's models the "
        "first positions use). Then the LST handshake and the accounts (the OAuth crypto of both "
        "ends and four requests, 30-40 ms), the account picker and the positions: Textual "
        "composing, styling (it restyles each screen as it is first shown) and painting, the "
        "positions screen twice "
        "(empty as it is shown, then with the rows). What the start does not use is imported when "
        "first used: the other screens, the order service, the chart, the settings' schema, the "
        "order, summary, ledger, contract and history models, the chart's and the search's "
        "view-models, the simulator's order endpoints and bars, and pycryptodome's PEM and "
        "PKCS#8 readers."
    ),
    "6": (
        "The peak is well under the target, but RSS still rose in the run's second half (the "
        "slope row; under 1 MB a minute). Not traced yet: CPython keeps freed memory in its "
        "arenas, and every round replaces 5,000 positions and their cells, so a slope this small "
        "can be fragmentation as well as a leak; a `tracemalloc` comparison over an hour is the "
        "next step."
    ),
    "7": "See the notes: more snapshot calls than needed, or the simulator answered 429.",
    "8": (
        "What is left of an answer's cost: `json.loads` (a fifth of it), a Decimal made from "
        "each number's text, the Quote and the QuoteView; the rows' pieces are rows of the "
        "table. The figure moves with the machine's speed (the speed probe in the machine's "
        "table); the reference, measured in the same rounds, gives the ratio."
    ),
    "9": (
        "Both figures sit at their targets and land on either side of them from run to run on "
        "this shared machine (the runs of the session that made these changes: streamed median "
        "33-53 ms, CPU 0.82-1.04× polling's). Where a streamed tick's time goes: the "
        "simulator's burst (its market moves all hundred streamed instruments at the same "
        "instant each second and it sends a frame for each: about 7 ms from the first to the "
        "last), the console reading them (about 80 µs a frame over httpx-ws), the batch "
        "posted 3 ms after the burst ends, the quotes applied (about 3 ms), Textual's next "
        "frame (it paints at most 60 times a second: 0-17 ms) and the repaint of about 75 "
        "changed rows (about 10 ms; for a hundred lines Textual's compositor takes 8.8 ms, the "
        "grid's drawing 3.7 and the terminal writer 3.7). The CPU: the stream repaints its "
        "hundred rows every second where polling repaints them every 2 s, and reads a hundred "
        "frames a second; polling the rest of the book in the background (all of it every "
        "10 s, not every 2 s) pays for that. Next: a simulator whose instruments tick at "
        "different instants, as a real market's do, would measure one tick's path rather than "
        "a burst's; and Textual's cost per line of a partial repaint."
    ),
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


SOAK_RESULTS = Path(__file__).resolve().parent / "results" / "soak.md"


def soak_section() -> list[str]:
    """The last ``make soak`` figures (issue 8's 10-minute run), which ``make bench`` does not
    run itself (it would add ten minutes): kept in ``benchmarks/results/soak.md``."""
    if not SOAK_RESULTS.exists():
        return []
    body = SOAK_RESULTS.read_text("utf-8").splitlines()
    title = body[0].lstrip("# ").strip() if body and body[0].startswith("#") else ""
    title = title.removeprefix("Soak:").strip() or "the last run"
    return [
        "",
        f"## Reliability: the fault-injection soak ({title})",
        "",
        "Not part of `make bench`: `make soak` runs it (ten minutes) and writes "
        "`benchmarks/results/soak.md`, copied here by the next `make bench`.",
        *body[1:],
    ]


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
        "met. Figures move with the machine's load (it is shared): compare runs by the ratios, and "
        "by the speed probe in the machine's table (the same Python took twice as long in one "
        "hour as in another here).",
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
    lines += soak_section()
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
    host[PROBE_START] = f"{speed_probe():.1f}"
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
    results.sort(key=lambda r: (int(r.id.rstrip("abcdefghijklmnopqrstuvwxyz")), r.id))
    host[PROBE_END] = f"{speed_probe():.1f}"
    text = render(results, host, args, began, time.monotonic() - clock)
    args.out.write_text(text)
    print(f"\nwrote {args.out}")
    for r in results:
        print(f"  {r.id}. {r.title}: {VERDICT[r.met].strip('*')} — {r.headline}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
