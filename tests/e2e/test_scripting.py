"""``ibtui positions`` and ``ibtui accounts`` against ``ibtui sim`` on a loopback socket."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path

from ibtui.ibkr.oauth import DHParams, dh_params_pem, parse_dh_params
from tests.command import ibtui
from tests.e2e.sim_process import sim_process


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

        # csv: the same numbers, exact, without a stray ".0"
        done = ibtui("positions", "--config", config, "--account", "U7654321", "--format", "csv")
        assert done.returncode == 0, done.stderr
        intc = next(r for r in csv.DictReader(io.StringIO(done.stdout)) if r["symbol"] == "INTC")
        assert intc["quantity"] == "-100" and intc["realized_pnl"] == "0"
        assert all(Decimal(intc[k]) for k in ("last", "market_value", "avg_cost"))
        assert not re.search(r"\.0(,|$)", done.stdout, re.MULTILINE)  # no "60.0", "-1478.0"

        # the table: as the console shows them, grouped, signed P&L, aligned on the right
        done = ibtui("positions", "--config", config, "--account", "U7654321")
        assert done.returncode == 0, done.stderr
        header, *lines = done.stdout.splitlines()
        intc_line = next(line for line in lines if " INTC " in line)
        cells = intc_line.split()
        value = Decimal(cells[5].replace(",", ""))
        assert value < -1000 and cells[5] == f"{value:,.2f}", intc_line  # "-1,478.00"
        assert cells[3] == "-100", intc_line
        assert re.fullmatch(r"[+-][\d,]+\.\d\d", cells[7]) and cells[8] == "0.00", intc_line
        assert header.index("quantity") + len("quantity") == intc_line.index("-100") + 4

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


def test_a_bad_config_is_one_line_on_stderr_and_exit_1(tmp_path: Path) -> None:
    done = ibtui("init", "--dir", str(tmp_path / "c"), "--consumer-key", "ABCDEFGHI")
    assert done.returncode == 0, done.stderr
    good = tmp_path / "c" / "config.toml"
    text = good.read_text()

    def config(name: str, body: str, mode: int = 0o600) -> str:
        path = tmp_path / "c" / name
        path.write_text(body)
        path.chmod(mode)
        return str(path)

    dh = tmp_path / "c" / "weak-dh.pem"
    params = parse_dh_params((tmp_path / "c" / "dhparam.pem").read_text())
    dh.write_text(dh_params_pem(DHParams(params.prime, params.prime - 1)))
    cases = {
        "/dev/zero": "/dev/zero: not a regular file",
        config("open.toml", text, 0o666): "permissions 0666 are too open: the config file",
        config(
            "secret.toml",
            text.replace("[ibkr]\n", '[ibkr]\naccess_token = "a"\naccess_token_secret = "QQ=="\n'),
            0o644,
        ): "permissions 0644 are too open: this file holds secret material",
        config(
            "port.toml", text.replace("api.ibkr.com/", "api.ibkr.com:99999/")
        ): "its port must be a number from 1 to 65535",
        config(
            "deep.toml", text + "[keymap]\nquit = " + "[" * 5000 + "]" * 5000 + "\n"
        ): "(key 'keymap.quit'): arrays or tables nested too deeply to read",
        config(
            "dh.toml", text.replace('"dhparam.pem"', '"weak-dh.pem"')
        ): "the DH generator g = p-1 is not between 2 and p-2",
    }
    for path, message in cases.items():
        for command, prefix in (("accounts", "ibtui accounts: "), ("run", "ibtui: ")):
            done = ibtui(command, "--config", path)  # "run": the console, without a terminal
            assert done.returncode == 1, (path, done.stdout)
            assert done.stderr.startswith(prefix), done.stderr
            assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr


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
