"""``ibtui demo`` in a real terminal for the end-to-end tests: a tmux server on a private socket
(120x40, no status line, a crashed pane kept to show why), the demo's command line with its own
home, and waiting for text on the screen."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ibtui.sim import PAPER_ACCOUNT, SimConfig, Simulator

BIN = Path(sys.executable).parent
POLL = 0.2
QUOTE_AGE = re.compile(r"quotes\s+(?:stream\s+|poll\s+)?\d")  # an age ("0s"), not "none yet"


def paper_symbols() -> set[str]:
    """What the simulator holds for the paper account (seed 1)."""
    sim = Simulator(SimConfig(seed=1, pacing_enabled=False))
    account = sim.broker.account(PAPER_ACCOUNT)
    assert account is not None
    symbols = set()
    for conid in account.positions:
        instrument = sim.universe.get(conid)
        assert instrument is not None
        symbols.add(instrument.symbol)
    return symbols


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is gone for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


class Tmux:
    """One tmux server on a private socket, one session in it."""

    def __init__(self, tmux: str, name: str, config: Path) -> None:
        self.tmux = tmux
        self.name = name
        self.config = config
        self.pids: list[int] = []

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [self.tmux, "-L", self.name, "-f", str(self.config), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name, check=False)

    def wait_for(self, what: str, found: Callable[[str], bool], seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while True:
            text = self.screen()
            if found(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} on the screen after {seconds:.0f} s:\n{text}")
            time.sleep(POLL)

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", self.name, "-x", "120", "-y", "40", command)
        pids = self.run("display-message", "-p", "-t", self.name, "#{pid} #{pane_pid}")
        self.pids = [int(pid) for pid in pids.split()]

    def stop(self) -> None:
        """Kill the server (and with it the app); by pid if it outlives that."""
        self.run("kill-server", check=False)
        deadline = time.monotonic() + 10
        while self.pids and time.monotonic() < deadline:
            self.pids = [pid for pid in self.pids if _alive(pid)]
            time.sleep(POLL)
        for pid in self.pids:
            os.kill(pid, signal.SIGKILL)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)


def new_tmux(tmp_path: Path, label: str, *settings: str) -> Tmux:
    """A tmux for one test (skipped where tmux is not installed), its configuration in
    ``tmp_path`` with ``settings`` (tmux commands) after the common ones."""
    tmux_path = shutil.which("tmux")
    if tmux_path is None:
        pytest.skip("tmux is not installed")
    name = f"ibtui-e2e{label}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "tmux.conf"
    # no tmux status line (the pane is the whole 120x40); keep a crashed pane to show why
    config.write_text(
        "".join(
            f"{line}\n" for line in ("set -g status off", "set -g remain-on-exit on", *settings)
        )
    )
    return Tmux(tmux_path, name, config)


def demo_command(
    home: Path, *args: str, config_home: bool = True, desktop: str | None = "off"
) -> str:
    """The shell command running ``ibtui demo --seed 1 ARGS`` with ``home`` for its home (and
    its XDG state folder, and config folder unless ``config_home`` is false). Desktop
    notifications are ``desktop`` (off in the tests; ``None`` leaves them to the config)."""
    ibtui = BIN / "ibtui"
    assert ibtui.exists(), f"{ibtui} is missing: install the project in its venv"
    config = f" XDG_CONFIG_HOME={shlex.quote(str(home / '.config'))}" if config_home else ""
    if desktop is not None:
        config += f" IBTUI_ALERTS_DESKTOP={shlex.quote(desktop)}"
    # COLUMNS/LINES (pytest's plugins may set them) would override the pane's real size
    return (
        f"env -u COLUMNS -u LINES HOME={shlex.quote(str(home))}{config}"
        f" XDG_STATE_HOME={shlex.quote(str(home / '.local' / 'state'))}"
        f" {shlex.quote(str(ibtui))} demo --seed 1{''.join(f' {shlex.quote(a)}' for a in args)}"
    )
