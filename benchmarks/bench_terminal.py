"""Benchmarks 4 and 5: the console in a pseudo-terminal (120×40, ``TERM=xterm-256color``,
``COLORTERM=truecolor``), every byte it writes read from the pty's master side.

4. *Bytes per tick*: :mod:`benchmarks.pty_app` (the real app on a fake broker of 100 positions, so
   every visible row changes on every 1 s tick) scripts a run and reports its phases on a pipe with
   ``time.monotonic`` stamps; bytes read from the pty are stamped with the same clock and counted
   per phase. Bytes per tick = all bytes of the ticking phase / polling rounds in it (this includes
   the flash ending a second later and the status bar's clock). The same with an order ticket
   open over the positions (a pop-up: what is under it still changes every tick), against the
   screen without it (target: at most twice). A full repaint = the bytes of
   ``render_update(full=True)`` written by the app (what Textual sends after a resize) with the
   poller stopped (prices greyed as stale by then), counted in the 0.3 s after it, less the quiet
   rate (the status bar's clock). The app writes through its terminal writer
   (:mod:`ibtui.tui.terminal`: only changed cells, shortest escape codes), which also makes the
   full repaint smaller than Textual's own; the same update as Textual writes it is measured too.
   The anchor: :mod:`benchmarks.naive_app` (a stock Textual ``DataTable`` with the same columns,
   updated with ``update_cell`` from the same fake broker) in the same terminal, its bytes per
   tick counted the same way.
5. *Cold start*: ``python -m ibtui demo --skip-login`` from the spawn to the first read after
   which the output, stripped of escape sequences, shows ``AAPL`` followed on its row by a
   price (``\\d+\\.\\d\\d``): the first painted positions. The demo has a paper and a live
   account, so it shows the account picker first; Enter is sent as soon as the picker shows the
   paper account (the time to the picker is reported too). Median of 5 (3 with ``--quick``).
   The demo keeps its consumer's RSA keys in its state dir (``XDG_STATE_HOME``, a fresh folder
   here) from its first start on; the keys are made before the measured starts, as a first start
   would have, and the cost of making them is reported on its own. The package is started from a
   copy with its bytecode compiled, as ``pip install`` (or ``make demo``) leaves it; every run
   alternates with a start of a copy without any bytecode (``PYTHONDONTWRITEBYTECODE`` set, as on
   this machine: Python then compiles every module of ibtui at every start), reported on its own.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import PYTHON, REPO, Result, Stat, base_parser, fmt, write_results

COLUMNS, LINES = 120, 40
ANSI = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)"
)
FIRST_POSITIONS = re.compile(rb"AAPL[^\n]{0,160}?\d+\.\d\d")
PICKER = re.compile(rb"DU\d{5,}[\s\S]*Choose|Choose[\s\S]*DU\d{5,}")


@dataclass
class PtyRun:
    process: subprocess.Popen[bytes]
    master: int
    chunks: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, bytes)
    output: bytearray = field(default_factory=bytearray)


def spawn(
    args: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = (), cwd: Path = REPO
) -> PtyRun:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    process = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={
            **os.environ,
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "COLUMNS": str(COLUMNS),
            "LINES": str(LINES),
            **env,
        },
        start_new_session=True,
        pass_fds=pass_fds,
    )
    os.close(slave)
    return PtyRun(process, master)


def read_available(run: PtyRun, timeout: float, keep: bool = False) -> int:
    """Read what the pty has within ``timeout``; returns the byte count (0 on EOF/timeout)."""
    ready, _, _ = select.select([run.master], [], [], timeout)
    if not ready:
        return 0
    try:
        data = os.read(run.master, 1 << 16)
    except OSError:  # EIO: the child closed the terminal
        return -1
    if not data:
        return -1
    run.chunks.append((time.monotonic(), len(data)))
    if keep:
        run.output.extend(data)
    return len(data)


def stop(run: PtyRun) -> None:
    if run.process.poll() is None:
        run.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while run.process.poll() is None and time.monotonic() < deadline:
            if read_available(run, 0.05) < 0:
                break
        if run.process.poll() is None:
            run.process.kill()
    run.process.wait()
    os.close(run.master)


# --- 4: bytes per tick ---------------------------------------------------------------------------
def scripted_run(module: str, tick_seconds: float) -> tuple[PtyRun, list[tuple[str, float, str]]]:
    """``python -m module`` (100 positions) in a pty until it marks ``done``: the bytes it
    wrote, stamped, and its phase marks."""
    marks_r, marks_w = os.pipe()
    run = spawn(
        [PYTHON, "-m", module],
        {
            "BENCH_MARK_FD": str(marks_w),
            "BENCH_TICK_SECONDS": str(tick_seconds),
            "BENCH_POSITIONS": "100",
        },
        pass_fds=(marks_w,),
    )
    os.close(marks_w)
    marks: list[tuple[str, float, str]] = []
    pending = b""
    deadline = time.monotonic() + 2 * tick_seconds + 120
    try:
        while time.monotonic() < deadline and not any(m[0] == "done" for m in marks):
            ready, _, _ = select.select([run.master, marks_r], [], [], 0.5)
            if run.master in ready and read_available(run, 0) < 0:
                break
            if marks_r in ready:
                data = os.read(marks_r, 4096)
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    name, at, *value = line.decode().split(" ", 2)
                    marks.append((name, float(at), value[0] if value else ""))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # the last frame and the terminal reset
            if read_available(run, 0.1) < 0:
                break
    finally:
        stop(run)
        os.close(marks_r)
    return run, marks


def naive_bytes_per_tick(tick_seconds: float) -> float | None:
    """Bytes per tick of :mod:`benchmarks.naive_app` (a stock Textual DataTable app on the
    same fake broker) in the same terminal: the anchor."""
    run, marks = scripted_run("benchmarks.naive_app", tick_seconds)
    at = {name: t for name, t, _ in marks}
    values = {name: v for name, _, v in marks}
    if "ticks_end" not in at:
        return None
    ticking = sum(n for t, n in run.chunks if at["ticks_start"] <= t < at["ticks_end"])
    return ticking / max(1, int(values["ticks_end"]))


def bytes_per_tick(tick_seconds: float) -> Result:
    run, marks = scripted_run("benchmarks.pty_app", tick_seconds)
    naive = naive_bytes_per_tick(tick_seconds)
    at = {name: t for name, t, _ in marks}
    values = {name: v for name, _, v in marks}
    if "done" not in at:
        return Result(
            "4",
            "Bytes to the terminal per tick",
            "≤ 20% of a full repaint",
            None,
            f"the pty run did not finish (marks: {[m[0] for m in marks]})",
        )

    def count(start: float, end: float) -> int:
        return sum(n for t, n in run.chunks if start <= t < end)

    rounds = int(values["ticks_end"])
    tick_bytes = count(at["ticks_start"], at["ticks_end"])
    per_tick = tick_bytes / max(1, rounds)
    ticket_rounds = int(values["ticket_end"])
    ticket_per_tick = count(at["ticket_start"], at["ticket_end"]) / max(1, ticket_rounds)
    ticket_ratio = ticket_per_tick / per_tick if per_tick else float("nan")
    idle_rate = count(at["idle_start"], at["idle_end"]) / (at["idle_end"] - at["idle_start"])
    quiet_rate = count(at["quiet_start"], at["quiet_end"]) / (at["quiet_end"] - at["quiet_start"])
    fulls = [t for name, t, _ in marks if name == "full_start"]
    full_sizes = [max(0.0, count(t, t + 0.3) - quiet_rate * 0.3) for t in fulls]
    textual_fulls = [t for name, t, _ in marks if name == "full_textual_start"]
    textual_sizes = [max(0.0, count(t, t + 0.3) - quiet_rate * 0.3) for t in textual_fulls]
    # per 1 s window of the ticking phase, for the spread
    windows = []
    t = at["ticks_start"]
    while t + 1.0 <= at["ticks_end"]:
        windows.append(float(count(t, t + 1.0)))
        t += 1.0
    full = Stat.of("full repaint of the same screen", "bytes", full_sizes)
    textual_full = Stat.of("full repaint as Textual itself writes it", "bytes", textual_sizes)
    ratio = per_tick / full.median if full.median else float("nan")
    textual_ratio = per_tick / textual_full.median if textual_full.median else float("nan")
    anchor = (
        f"; a stock Textual DataTable app doing the same: {fmt(naive)} bytes per tick "
        f"({naive / per_tick:.1f}× the console's)"
        if naive and per_tick
        else "; the stock Textual DataTable app did not finish"
    )
    return Result(
        id="4",
        title="Bytes to the terminal per tick, 120×40",
        target="≤ 20% of a full repaint; with the order ticket open ≤ 2× without it",
        met=ratio <= 0.20 and ticket_ratio <= 2.0,
        headline=(
            f"{fmt(per_tick)} bytes per tick vs {fmt(full.median)} bytes for a full repaint: "
            f"{ratio:.0%} ({textual_ratio:.1%} of the {fmt(textual_full.median)} bytes Textual "
            f"itself writes for one); with the order ticket open {fmt(ticket_per_tick)} bytes "
            f"per tick, {ticket_ratio:.2f}× the screen without it" + anchor
        ),
        stats=[
            Stat.single("bytes per tick (ticking phase / rounds)", "bytes", per_tick),
            Stat.single(
                "stock Textual DataTable app (benchmarks/naive_app.py): bytes per tick",
                "bytes",
                naive if naive is not None else float("nan"),
            ),
            Stat.single(
                "bytes per tick with the order ticket open (ticket phase / rounds)",
                "bytes",
                ticket_per_tick,
            ),
            Stat.of("bytes per 1 s window while ticking", "bytes", windows),
            full,
            textual_full,
            Stat.single("idle (prices frozen) bytes per second", "bytes/s", idle_rate),
            Stat.single("quiet (poller stopped) bytes per second", "bytes/s", quiet_rate),
        ],
        method=(
            f"{rounds} polling rounds in {at['ticks_end'] - at['ticks_start']:.0f} s at a 1 s "
            "interval, 100 positions with every price moving each round (every visible row "
            "changes). " + (__doc__ or "").split("4. ", 1)[1].split("5. ", 1)[0].strip()
        ),
    )


# --- 5: cold start -------------------------------------------------------------------------------
def package_copy(compiled: bool) -> Path:
    """A copy of the ``ibtui`` package in a folder of its own, without bytecode, or with its
    bytecode compiled as ``pip install`` leaves it (``compileall``)."""
    root = Path(tempfile.mkdtemp(prefix="ibtui-bench-package-"))
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "ibtui", root / "ibtui", ignore=skip)
    if compiled:
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(root / "ibtui")], check=True)
    return root


def cold_start_once(
    state_home: Path, package: Path, limit: float = 60.0
) -> tuple[float | None, float | None, float | None]:
    """Seconds from spawn to the first output byte, to the account picker and to the first
    painted positions. The demo has two accounts, so it opens the account picker first: Enter is
    pressed as soon as it shows the paper account (the first row, selected). ``package`` is the
    folder the ``ibtui`` package is imported from (no bytecode is ever written to it)."""
    start = time.monotonic()
    run = spawn(
        [PYTHON, "-m", "ibtui", "demo", "--skip-login"],
        {
            "XDG_STATE_HOME": str(state_home),
            "PYTHONPATH": str(package),
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        cwd=package,
    )
    first_byte = painted = picker = None
    plain = b""
    try:
        while time.monotonic() - start < limit:
            got = read_available(run, 0.5, keep=True)
            if got < 0:
                break
            if got == 0:
                continue
            if first_byte is None:
                first_byte = run.chunks[0][0] - start
            plain = ANSI.sub(b"", bytes(run.output))
            if picker is None and PICKER.search(plain):
                picker = run.chunks[-1][0] - start
                os.write(run.master, b"\r")
            if FIRST_POSITIONS.search(plain):
                painted = run.chunks[-1][0] - start
                break
    finally:
        stop(run)
    return first_byte, picker, painted


def demo_build_seconds(repeats: int, key_dir: Path | None) -> list[float]:
    """In this process: ``build_demo()``, the embedded simulator and its consumer's two RSA keys,
    generated (``key_dir`` None, as at a first start) or read from where the demo keeps them."""
    from ibtui.sim.demo import build_demo

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build_demo(key_dir=key_dir)
        times.append(time.perf_counter() - start)
    return times


def cold_start(repeats: int) -> Result:
    painted: list[float] = []
    first: list[float] = []
    pickers: list[float] = []
    uncompiled: list[float] = []
    failures = 0
    state_home = Path(tempfile.mkdtemp(prefix="ibtui-bench-state-"))
    kept = state_home / "ibtui" / "demo"  # where `ibtui demo` keeps its keys (XDG_STATE_HOME)
    demo_build_seconds(1, kept)  # a first start made them; the measured starts reuse them
    compiled, source = package_copy(compiled=True), package_copy(compiled=False)
    for _ in range(repeats):  # alternating: as installed, then without any bytecode
        first_byte, picker, shown = cold_start_once(state_home, compiled)
        if first_byte is not None:
            first.append(first_byte)
        if picker is not None:
            pickers.append(picker)
        if shown is None:
            failures += 1
        else:
            painted.append(shown)
        time.sleep(0.5)
        _, _, shown = cold_start_once(state_home, source)
        if shown is None:
            failures += 1
        else:
            uncompiled.append(shown)
        time.sleep(0.5)
    for folder in (compiled, source):
        shutil.rmtree(folder, ignore_errors=True)
    start = Stat.of("spawn → first painted positions", "s", painted)
    build = Stat.of(
        "of which build_demo() (simulator, the two kept RSA keys read)",
        "s",
        demo_build_seconds(repeats, kept),
    )
    fresh = Stat.of(
        "first start only: build_demo() generating two 2048-bit RSA keys",
        "s",
        demo_build_seconds(repeats, None),
    )
    shutil.rmtree(state_home, ignore_errors=True)
    notes = [f"{failures} run(s) never showed the positions"] if failures else []
    return Result(
        id="5",
        title="Cold start: ibtui demo --skip-login to the first painted positions",
        target="median ≤ 1.0 s",
        met=None if not painted else start.median <= 1.0,
        headline=f"median {fmt(start.median)} s (p10 {fmt(start.p10)}, p90 {fmt(start.p90)})",
        stats=[
            start,
            Stat.of("spawn → first byte on the terminal", "s", first),
            Stat.of("spawn → account picker painted (Enter pressed)", "s", pickers),
            Stat.of(
                "spawn → first painted positions, ibtui's bytecode not compiled", "s", uncompiled
            ),
            build,
            fresh,
        ],
        notes=notes,
        method=(
            f"{repeats} runs of `python -m ibtui demo --skip-login` in a 120×40 pty, one after "
            "the other, alternating with as many runs of a copy without bytecode. "
            + (__doc__ or "").split("5. ", 1)[1].strip()
        ),
    )


def main(argv: list[str]) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--only", choices=("bytes", "cold"), help="run one of the two")
    args = parser.parse_args(argv)
    results = []
    if args.only in (None, "bytes"):
        start = time.perf_counter()
        result = bytes_per_tick(10.0 if args.quick else 30.0)
        result.seconds = time.perf_counter() - start
        results.append(result)
    if args.only in (None, "cold"):
        start = time.perf_counter()
        result = cold_start(3 if args.quick else 5)
        result.seconds = time.perf_counter() - start
        results.append(result)
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
