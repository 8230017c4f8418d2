"""``ibtui demo`` in a real terminal (tmux, 120x40) with streaming on (the default): the status bar
says the stream brings the prices, and a price on screen changes twice within less than one
polling interval (polling alone changes it at most once an interval)."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

from ibtui.sim import PAPER_ACCOUNT
from tests.e2e.tmux import demo_command, new_tmux, paper_symbols

POLL_INTERVAL = 2.0  # the default [ui] poll_interval
LAST = re.compile(r"(\d[\d,]*\.\d{2})\s+[+-]\d+\.\d{2}%")  # the Last column, before Chg %


def lasts(screen: str, symbols: set[str]) -> dict[str, str]:
    """Each position row's last price as shown."""
    shown: dict[str, str] = {}
    for line in screen.splitlines():
        words = line.split()
        if words and words[0] in symbols:
            match = LAST.search(line)
            if match:
                shown[words[0]] = match.group(1)
    return shown


def test_streamed_prices_change_more_than_once_within_a_polling_interval(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    symbols = paper_symbols()
    tmux = new_tmux(tmp_path, "-stream")
    try:
        tmux.start(demo_command(home, "--skip-login"))
        text = tmux.wait_for("account picker", lambda t: "Choose an account" in t, 120)
        assert PAPER_ACCOUNT in text
        tmux.keys("Enter")
        tmux.wait_for("streamed quotes", lambda t: "quotes stream" in t, 60)

        # every price on screen, read ten times a second for three polling intervals: the
        # stream changes a price each time its market moves (once a second), polling at most
        # once an interval, so some price changes twice well within one interval (a frame held
        # up on a loaded machine does not make that fail, as a single interval's window could)
        changed: dict[str, list[tuple[float, str]]] = {symbol: [] for symbol in symbols}
        end = time.monotonic() + 3 * POLL_INTERVAL
        while time.monotonic() < end:
            now = time.monotonic()
            for symbol, price in lasts(tmux.screen(), symbols).items():
                if not changed[symbol] or changed[symbol][-1][1] != price:
                    changed[symbol].append((now, price))
            time.sleep(0.1)
        closest = min(
            (
                later[0] - earlier[0]
                for seen in changed.values()
                for earlier, later in itertools.pairwise(seen[1:])
            ),
            default=float("inf"),
        )  # the first value seen is not a change
        assert closest < 0.75 * POLL_INTERVAL, f"prices within {3 * POLL_INTERVAL} s: {changed}"
        assert "quotes stream" in tmux.screen()
    finally:
        tmux.stop()
