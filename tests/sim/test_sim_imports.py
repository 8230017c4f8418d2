"""The simulator imports neither Textual nor the ibtui client."""

from __future__ import annotations

import subprocess
import sys


def test_sim_imports_no_textual_and_no_client() -> None:
    code = (
        "import sys, ibtui.sim, ibtui.sim.app, ibtui.sim.broker, ibtui.sim.history;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual'"
        " or m.startswith('ibtui.ibkr.client') or m.startswith('ibtui.tui'));"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
