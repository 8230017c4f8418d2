"""``ibtui demo`` in a real terminal (tmux, 120x40): read the verifier off the login screen, type
it, pick the paper account, and see its positions with prices."""

from __future__ import annotations

import re
from pathlib import Path

from ibtui.sim import PAPER_ACCOUNT
from tests.e2e.tmux import QUOTE_AGE, demo_command, new_tmux, paper_symbols

VERIFIER = re.compile(r"shows the verifier\s+([A-Za-z0-9\-_.~]+)")
PRICE = re.compile(r"\b\d{1,3}(?:,\d{3})*\.\d{2}\b")


def test_demo_in_tmux_login_account_and_positions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tmux = new_tmux(tmp_path, "")
    try:
        tmux.start(demo_command(home))

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
