"""``ibtui demo`` in a real terminal (tmux, 120x40): read the verifier off the login screen, type
it, pick the paper account, and see its positions with prices."""

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
VERIFIER = re.compile(r"shows the verifier\s+([A-Za-z0-9\-_.~]+)")
QUOTE_AGE = re.compile(r"quotes\s+(?:stream\s+|poll\s+)?\d")  # an age ("0s"), not "none yet"
PRICE = re.compile(r"\b\d{1,3}(?:,\d{3})*\.\d{2}\b")


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


def test_demo_in_tmux_login_account_and_positions(tmp_path: Path) -> None:
    tmux_path = shutil.which("tmux")
    if tmux_path is None:
        pytest.skip("tmux is not installed")
    ibtui = BIN / "ibtui"
    assert ibtui.exists(), f"{ibtui} is missing: install the project in its venv"
    name = f"ibtui-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "tmux.conf"
    # no tmux status line (the pane is the whole 120x40); keep a crashed pane to show why
    config.write_text("set -g status off\nset -g remain-on-exit on\n")
    home = tmp_path / "home"
    home.mkdir()
    # COLUMNS/LINES (pytest's plugins may set them) would override the pane's real size
    command = (
        f"env -u COLUMNS -u LINES HOME={shlex.quote(str(home))}"
        f" XDG_CONFIG_HOME={shlex.quote(str(home / '.config'))}"
        f" XDG_STATE_HOME={shlex.quote(str(home / '.local' / 'state'))}"
        f" {shlex.quote(str(ibtui))} demo --seed 1"
    )
    tmux = Tmux(tmux_path, name, config)
    try:
        tmux.start(command)

        # the login screen, with the verifier the simulated IBKR page shows
        text = tmux.wait_for("demo verifier", lambda t: VERIFIER.search(t) is not None, 120)
        assert "oauth_token=" in text
        match = VERIFIER.search(text)
        assert match is not None
        tmux.keys(match.group(1), literal=True)
        tmux.keys("Enter")

        # the account picker: the paper account is first and highlighted
        text = tmux.wait_for("account picker", lambda t: "Choose an account" in t, 90)
        assert PAPER_ACCOUNT in text
        tmux.keys("Enter")

        # the paper account's positions, with prices
        symbols = paper_symbols()

        def rows(t: str) -> dict[str, str]:
            return {
                line.split()[0]: line
                for line in t.splitlines()
                if line.split()[:1] and line.split()[0] in symbols
            }

        def live(t: str) -> bool:  # every position priced, and live quotes in the status bar
            shown = rows(t)
            priced = all(PRICE.search(row) for row in shown.values())
            return set(shown) == symbols and priced and QUOTE_AGE.search(t) is not None

        text = tmux.wait_for("positions with live prices", live, 90)
        assert "PAPER" in text and PAPER_ACCOUNT in text
        assert set(rows(text)) == symbols
    finally:
        tmux.stop()
