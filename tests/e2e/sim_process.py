"""Run ``ibtui sim`` (or a variant of it) as a child process on a loopback port, for e2e tests."""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+)/v1/api/)")
START_TIMEOUT = 60.0

# serve() with a small app instead of the full simulator: the OAuth routes plus one signed
# endpoint that says who was authenticated. Tests of the socket, provisioning and OAuth layers
# use it so they do not depend on the market and broker.
OAUTH_ONLY = """
import sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from ibtui.sim.auth_api import AuthContext
from ibtui.cli.sim import parse_args
from ibtui.sim.serve import serve

def factory(oauth, options):
    async def whoami(request):
        result = await oauth.authenticate(request)
        if not isinstance(result, AuthContext):
            return result
        return JSONResponse({"consumer_key": result.consumer_key, "token": result.access_token})
    routes = [*oauth.routes(), Route("/v1/api/whoami", whoami, methods=["GET", "POST"])]
    return Starlette(routes=routes)

sys.exit(serve(parse_args(sys.argv[1:]), factory))
"""


@dataclass
class SimProcess:
    process: subprocess.Popen[str]
    base_url: str
    port: int
    lines: list[str] = field(default_factory=list)  # stdout so far
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def read_until(self, pattern: str, timeout: float = 10.0) -> str:
        """The first new stdout line matching ``pattern`` (waits for it)."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got {self.lines}") from None
            if line is None:
                raise AssertionError(f"stdout closed before {pattern!r}; got {self.lines}")
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def ibind_env_file(self) -> Path:
        text = "\n".join(self.lines)
        match = re.search(r"load them with: \. (\S+)\)", text)
        assert match, text
        return Path(match.group(1))


def load_env_file(path: Path) -> dict[str, str]:
    """``export NAME=value`` lines of a POSIX shell file, as ``sh`` would set them."""
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            (env[name],) = shlex.split(value)
    return env


def _pump(stream: object, sink: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        sink.put(line.rstrip("\n"))
    sink.put(None)


@contextmanager
def sim_process(
    args: Sequence[str],
    *,
    oauth_only: bool = False,
    env: dict[str, str] | None = None,
    code: str | None = None,
) -> Iterator[SimProcess]:
    """Start the server, wait for its "listening on" line, stop it (SIGTERM) afterwards.

    ``code`` runs instead of ``ibtui sim`` (a variant of the server, as ``OAUTH_ONLY`` is).
    """
    # `python -m ibtui sim` is the `ibtui sim` command line, dispatched by ibtui.cli
    if oauth_only:
        code = OAUTH_ONLY
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "ibtui", "sim"]
    process = subprocess.Popen(
        [*command, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    sim = SimProcess(process, "", 0, _queue=lines)
    try:
        try:
            match = LISTENING.search(sim.read_until(LISTENING.pattern, timeout=START_TIMEOUT))
        except AssertionError:
            process.kill()
            raise AssertionError(f"the simulator did not start: {process.stderr.read()}") from None
        assert match
        sim.base_url, sim.port = match.group(1), int(match.group(2))
        sim.read_until("Stop with Ctrl-C")
        yield sim
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
