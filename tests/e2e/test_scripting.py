"""``ibtui positions`` and ``ibtui accounts`` against ``ibtui sim`` on a loopback socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.sim_process import sim_process

REPO = Path(__file__).resolve().parents[2]


def ibtui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ibtui", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_positions_as_json_and_csv_and_errors(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with sim_process(["--port", "0", "--state-dir", str(state), "--no-pacing"]):
        config = str(state / "config.toml")
        done = ibtui("positions", "--config", config, "--account", "DU4820311", "--format", "json")
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        assert rows and all(row["account"] == "DU4820311" for row in rows)
        aapl = next(row for row in rows if row["symbol"] == "AAPL")
        assert aapl["conid"] == 265598 and isinstance(aapl["quantity"], float)
        for key in ("last", "market_value", "avg_cost", "unrealized_pnl", "realized_pnl"):
            assert isinstance(aapl[key], float)
        assert aapl["currency"] == "USD"

        done = ibtui("accounts", "--config", config, "--format", "json")
        assert done.returncode == 0, done.stderr
        accounts = {a["id"]: a for a in json.loads(done.stdout)}
        assert accounts["DU4820311"]["paper"] is True
        assert any(not a["paper"] for a in accounts.values())

        done = ibtui("positions", "--config", config, "--account", "X1")
        assert done.returncode == 1
        assert done.stderr.count("\n") == 1 and "unknown account 'X1'" in done.stderr

    done = ibtui("positions", "--config", str(tmp_path / "missing.toml"))
    assert done.returncode == 1 and "missing.toml" in done.stderr
    assert "Traceback" not in done.stderr


def test_back_to_back_commands_share_ibkrs_pacing_and_never_meet_its_penalty_box(
    tmp_path: Path,
) -> None:
    # /portfolio/accounts allows one request in 5 s per user; the simulator boxes a violator for
    # 10 minutes. Two commands in a row (a cron job and a shell) must wait, not violate.
    state = tmp_path / "state"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}  # ibtui's state folder
    with sim_process(
        ["--port", "0", "--state-dir", str(state), "--faults", "gone410:every=7:burst=1"]
    ):
        config = str(state / "config.toml")
        first = ibtui("accounts", "--config", config, "--format", "json", env=env)
        second = ibtui("accounts", "--config", config, "--format", "json", env=env)
        third = ibtui("positions", "--config", config, "--format", "json", env=env)
    for done in (first, second, third):
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)
    pacing = list((tmp_path / "xdg" / "ibtui" / "pacing").iterdir())
    assert len(pacing) == 1 and pacing[0].stat().st_mode & 0o777 == 0o600
