"""``ibtui demo`` in a real terminal (tmux, 120x40) with streaming on (the default): the status bar
says the stream brings the prices, and within one polling interval a price on screen changes
more than once (polling alone changes it at most once an interval)."""

from __future__ import annotations

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

        # every price on screen, read ten times a second for one polling interval
        seen: dict[str, list[str]] = {symbol: [] for symbol in symbols}
        end = time.monotonic() + POLL_INTERVAL
        while time.monotonic() < end:
            for symbol, price in lasts(tmux.screen(), symbols).items():
                if not seen[symbol] or seen[symbol][-1] != price:
                    seen[symbol].append(price)
            time.sleep(0.1)
        changes = {symbol: len(prices) - 1 for symbol, prices in seen.items()}
        assert max(changes.values()) >= 2, f"prices within {POLL_INTERVAL} s: {seen}"
        assert "quotes stream" in tmux.screen()
    finally:
        tmux.stop()
