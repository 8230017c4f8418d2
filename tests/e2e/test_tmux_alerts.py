"""An alert in ``ibtui demo`` in a real terminal (tmux, 120x40): set on the position under the
cursor a little below its price, it fires: the toast shows, the pane rings the bell (tmux's
``window_bell_flag``, and a BEL in the pane's output), and with ``[alerts] desktop = "osc9"``
the desktop notification goes out wrapped in tmux's passthrough."""

from __future__ import annotations

import re
import shlex
import time
from decimal import Decimal
from pathlib import Path

from tests.e2e.tmux import QUOTE_AGE, demo_command, new_tmux

TITLE = re.compile(r"Alert on (\S+) \(last ([0-9.]+)\)")
OSC = re.compile(rb"\x1b\][0-9]+;[^\x07\x1b]*\x07")  # Textual's own (the pointer shape, ...)


def test_an_alert_in_the_demo_fires_with_a_toast_and_the_bell(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    tmux = new_tmux(tmp_path, "-alerts", "set -g monitor-bell on")
    name = tmux.name
    config = tmp_path / "config.toml"
    config.write_text('[alerts]\ndesktop = "osc9"\n')
    config.chmod(0o600)
    home, state, output = tmp_path / "home", tmp_path / "state", tmp_path / "pane.out"
    home.mkdir(mode=0o700)
    state.mkdir(mode=0o700)
    command = demo_command(
        home,
        "--skip-login",
        "--config",
        str(config),
        "--state-dir",
        str(state),
        config_home=False,
        desktop=None,
    )
    try:
        tmux.start(command)
        tmux.run("pipe-pane", "-t", name, "-o", f"cat >> {shlex.quote(str(output))}")
        tmux.wait_for("account picker", lambda t: "Choose an account" in t, 90)
        tmux.keys("Enter")
        tmux.wait_for("live prices", lambda t: QUOTE_AGE.search(t) is not None, 90)
        assert tmux.run("display-message", "-p", "-t", name, "#{window_bell_flag}").strip() == "0"

        tmux.keys("!", literal=True)
        text = tmux.wait_for("the alert dialog", lambda t: TITLE.search(t) is not None, 30)
        match = TITLE.search(text)
        assert match is not None
        symbol, last = match.group(1), Decimal(match.group(2))
        level = (last * Decimal("0.999")).quantize(Decimal("0.01"))  # just below the price
        tmux.keys("C-a", "C-k")
        tmux.keys(str(level), literal=True)
        tmux.keys("Enter")

        told = f"{symbol} is above {level:,.2f}"
        started = time.monotonic()
        text = tmux.wait_for("the alert's toast", lambda t: told in t, 60)
        assert time.monotonic() - started < 60
        flag = tmux.run("display-message", "-p", "-t", name, "#{window_bell_flag}").strip()
        assert flag == "1", "tmux saw no bell in the pane"
        deadline = time.monotonic() + 10
        while b"]9;" not in (output.read_bytes() if output.exists() else b""):
            assert time.monotonic() < deadline, "no desktop notification in the pane's output"
            time.sleep(0.2)
        written = output.read_bytes()
        assert b"\x07" in OSC.sub(b"", written)  # a bell of its own, not an OSC's terminator
        assert f"\x1bPtmux;\x1b\x1b]9;ibtui alert: {told}".encode() in written
    finally:
        tmux.stop()
