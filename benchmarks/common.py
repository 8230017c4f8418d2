"""Shared helpers for the benchmarks: statistics, the machine description, results as JSON,
RSS readings and ``ibtui sim`` as a child process on a loopback port.

A benchmark module writes one JSON document (``{"results": [Result, ...]}``) that
:mod:`benchmarks.run` collects and renders into ``BENCHMARKS.md``. Benchmarks never fail: a
missed target is reported as ``met: false``, an error as ``met: null`` with the reason.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# --- statistics ------------------------------------------------------------------------------
def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (``q`` in 0..1) of a non-empty sequence."""
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = q * (len(data) - 1)
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


@dataclass
class Stat:
    """A measured quantity: its median and spread (p10, p25, p75, p90) over ``n`` samples."""

    label: str
    unit: str
    n: int
    median: float
    p10: float
    p25: float
    p75: float
    p90: float
    mean: float

    @classmethod
    def of(cls, label: str, unit: str, values: Sequence[float], scale: float = 1.0) -> Stat:
        data = [v * scale for v in values]
        if not data:
            nan = float("nan")
            return cls(label, unit, 0, nan, nan, nan, nan, nan, nan)
        return cls(
            label,
            unit,
            len(data),
            statistics.median(data),
            quantile(data, 0.10),
            quantile(data, 0.25),
            quantile(data, 0.75),
            quantile(data, 0.90),
            statistics.fmean(data),
        )

    @classmethod
    def single(cls, label: str, unit: str, value: float) -> Stat:
        return cls(label, unit, 1, value, value, value, value, value, value)


@dataclass
class Result:
    """One benchmark's outcome, as rendered in BENCHMARKS.md."""

    id: str
    title: str
    target: str
    met: bool | None  # None: not measured (error or skipped)
    headline: str
    stats: list[Stat] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    method: str = ""
    seconds: float = 0.0  # wall time the benchmark took

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def write_results(path: Path | None, results: Sequence[Result]) -> None:
    """Print a short summary and write the JSON document the runner reads."""
    for result in results:
        verdict = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}[result.met]
        print(f"[{result.id}] {result.title}: {result.headline} -> {verdict} ({result.target})")
        for stat in result.stats:
            print(
                f"      {stat.label}: median {fmt(stat.median)} {stat.unit} "
                f"(p10 {fmt(stat.p10)}, p90 {fmt(stat.p90)}, n={stat.n})"
            )
        for note in result.notes:
            print(f"      note: {note}")
    if path is not None:
        path.write_text(json.dumps({"results": [r.to_json() for r in results]}, indent=2))


def write_timed(path: Path | None, measure: Callable[[], Sequence[Result]]) -> int:
    """A benchmark's last step: run ``measure``, give each of its results the seconds the whole
    run took, and write them (:func:`write_results`); 0, the benchmark's exit status."""
    start = time.perf_counter()
    results = measure()
    for result in results:
        result.seconds = time.perf_counter() - start
    write_results(path, results)
    return 0


def fmt(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, no exponent for everyday magnitudes."""
    if value != value:  # NaN
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1 - int(f"{magnitude:e}".split("e")[1])
    return f"{value:.{max(decimals, 0)}f}"


# --- the machine -----------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ibtui", "pyproject.toml"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted changes in ibtui/)" if dirty else head


def speed_probe(repeats: int = 9) -> float:
    """Milliseconds of CPU a fixed piece of Python takes on this machine now, the median of
    ``repeats``: Decimal arithmetic, dict and string work, as a tick does. The machine is
    shared and its speed drifts by tens of percent within an hour: set against this, the
    figures of two runs compare."""
    rate = Decimal("1.0125")
    times = []
    for _ in range(repeats):
        start = time.process_time()
        total, seen = Decimal(0), {}
        for i in range(50_000):
            total += Decimal(i) * rate
            seen[f"k{i % 512}"] = total
        times.append(time.process_time() - start)
    return statistics.median(times) * 1e3


def machine() -> dict[str, str]:
    """What the figures were measured on (read at the start of the run)."""
    try:
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical"
    if affinity is not None and affinity != os.cpu_count():
        cores += f" ({affinity} usable)"
    return {
        "CPU": _cpu_model(),
        "cores": cores,
        "memory": _memory_total(),
        "OS": platform.platform(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start (1/5/15 min)": load,
        "textual / rich": f"{_version('textual')} / {_version('rich')}",
        "httpx / requests": f"{_version('httpx')} / {_version('requests')}",
        "ibind": _version("ibind"),
        "commit": _git_commit(),
    }


# --- process resources -----------------------------------------------------------------------
def rss_bytes(pid: int | str = "self") -> int | None:
    """Current resident set size of a process (Linux ``/proc``), None when unreadable."""
    return _status_field(pid, "VmRSS:")


def peak_rss_bytes(pid: int | str = "self") -> int | None:
    """Peak resident set size (``VmHWM``) of a process."""
    return _status_field(pid, "VmHWM:")


def _status_field(pid: int | str, name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User + system CPU seconds of a process so far (``/proc/PID/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def slope_per_minute(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` samples, in value units per minute."""
    if len(samples) < 2:
        return 0.0
    xs = [s[0] for s in samples]
    ys = [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return 0.0
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return cov / var * 60.0


# --- ibtui sim as a child process ------------------------------------------------------------
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+)/v1/api/)")
IBIND_ENV = re.compile(r"load them with: \. (\S+)\)")


@dataclass
class Simulator:
    """A running ``ibtui sim`` and what it announced."""

    process: subprocess.Popen[str]
    base_url: str
    config_path: Path
    ibind_env_path: Path
    lines: list[str]


def _pump(stream: Any, sink: queue.Queue[str | None]) -> None:
    for line in stream:
        sink.put(line.rstrip("\n"))
    sink.put(None)


@contextmanager
def simulator(
    state_dir: Path,
    *,
    pacing: bool,
    nodelay: bool = True,
    extra: Sequence[str] = (),
    timeout: float = 90.0,
    module: str = "benchmarks.sim_nodelay",
) -> Iterator[Simulator]:
    """``ibtui sim --port 0 --state-dir DIR [--no-pacing]`` on 127.0.0.1; SIGTERM afterwards.

    ``nodelay`` starts it through :mod:`benchmarks.sim_nodelay` (TCP_NODELAY on its sockets, so
    loopback answers do not wait 40 ms for a delayed ACK); False runs ``ibtui sim`` as shipped.
    ``extra`` are more arguments (the wrapper's ``--portfolio-size N``, ``--count-requests``);
    ``module`` another wrapper that serves as ``ibtui sim`` does.
    """
    command = [module] if nodelay else ["ibtui", "sim"]
    args = [PYTHON, "-m", *command, "--port", "0", "--state-dir", str(state_dir), *extra]
    if not pacing:
        args.append("--no-pacing")
    process = subprocess.Popen(
        args,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    sink: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, sink), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not any("Stop with Ctrl-C" in line for line in lines):
            line = sink.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"ibtui sim exited early: {lines}")
            lines.append(line)
        text = "\n".join(lines)
        listening, env = LISTENING.search(text), IBIND_ENV.search(text)
        config = re.search(r"ibtui --config (\S+)", text)
        if not (listening and env and config):
            raise RuntimeError(f"unexpected ibtui sim output: {lines}")
        yield Simulator(
            process, listening.group(1), Path(config.group(1)), Path(env.group(1)), lines
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def stream_simulator(offset: float) -> Iterator[Simulator]:
    """Benchmark 9's simulator (:mod:`benchmarks.bench_stream` ``--serve``: its market
    ``offset`` seconds on, see ``ibtui.sim.demo.trading_offset``) in a state folder of its own,
    without pacing, and the console's interpreter settings (``console_runtime``) in this
    process meanwhile, as the console runs."""
    from ibtui.tui.app import console_runtime

    with (
        tempfile.TemporaryDirectory() as state,
        simulator(
            Path(state),
            pacing=False,
            module="benchmarks.bench_stream",
            extra=["--serve", repr(offset)],
        ) as sim,
        console_runtime(),
    ):
        yield sim


def load_env_file(path: Path) -> dict[str, str]:
    """``export NAME=value`` lines of a POSIX shell file, as ``sh`` would set them."""
    import shlex

    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            (env[name],) = shlex.split(value)
    return env


def base_parser(description: str) -> Any:
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--json", type=Path, help="write the results here (for benchmarks.run)")
    return parser
