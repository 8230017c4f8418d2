"""``ibtui journal``: the audit journal printed as JSON lines, CSV or a table; a missing config is
one line on stderr, a missing journal an empty listing."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ibtui.cli.journal import main, write
from ibtui.trading.journal import Journal, journal_path
from tests.command import ibtui

REPO = Path(__file__).resolve().parents[2]
MOMENT = datetime(2024, 11, 4, 15, 0, 1, 234000, tzinfo=UTC)


def _sample(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    journal = Journal(journal_path(state), clock=lambda: MOMENT)
    journal.record("intent", account="DU1", coid="c-1", symbol="AAPL", note='say "hi", ok')
    journal.record("response", account="DU1", coid="c-1", order_id=42, status="Submitted")
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nstate_dir = "{state}"\n')
    config.chmod(0o600)
    return config


def test_main_prints_csv_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _sample(tmp_path)
    assert main(["--config", str(config), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["event"] for r in rows] == ["intent", "response"]
    assert rows[1]["order_id"] == "42" and rows[0]["coid"] == "c-1"
    assert json.loads(rows[0]["details"]) == {"symbol": "AAPL", "note": 'say "hi", ok'}

    assert main(["--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ts", "event", "account", "coid", "order_id", "details"]
    assert "response" in out[2] and "42" in out[2]


def test_write_jsonl_round_trips() -> None:
    records = [{"ts": "t", "event": "intent", "account": None, "coid": "c", "x": [1, "2"]}]
    out = io.StringIO()
    write(records, "jsonl", out)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == records


def test_ibtui_journal_command(tmp_path: Path) -> None:
    config = _sample(tmp_path)
    done = ibtui("journal", "--config", str(config), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["event"] for r in records] == ["intent", "response"]

    done = ibtui("journal", "--config", str(tmp_path / "missing.toml"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "missing.toml" in done.stderr
    assert "Traceback" not in done.stderr

    empty = tmp_path / "empty.toml"
    empty.write_text(f'[paths]\nstate_dir = "{tmp_path / "nothing"}"\n')
    done = ibtui("journal", "--config", str(empty), "--format", "csv")
    assert done.returncode == 0 and done.stdout == "ts,event,account,coid,order_id,details\n"
    assert "no journal yet" in done.stderr
