"""The audit journal: JSON lines, mode 0600, no secrets, tolerant reading (``ibtui journal``:
tests/cli/test_journal.py)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibtui.ibkr.models import Side
from ibtui.trading.journal import Journal, journal_path, read_journal

MOMENT = datetime(2024, 11, 4, 15, 0, 1, 234000, tzinfo=UTC)


def _journal(tmp_path: Path) -> Journal:
    return Journal(journal_path(tmp_path / "state"), clock=lambda: MOMENT)


def test_records_are_json_lines_with_the_common_fields_and_mode_0600(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.record("intent", account="DU1", coid="c-1", side=Side.BUY, quantity=Decimal("10.5"))
    journal.record("response", account="DU1", coid="c-1", order_id=7, status="Submitted")
    lines = journal.path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "ts": "2024-11-04T15:00:01.234Z",
            "event": "intent",
            "account": "DU1",
            "coid": "c-1",
            "side": "BUY",
            "quantity": "10.5",
        },
        {
            "ts": "2024-11-04T15:00:01.234Z",
            "event": "response",
            "account": "DU1",
            "coid": "c-1",
            "order_id": 7,
            "status": "Submitted",
        },
    ]
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(journal.path.parent).st_mode) == 0o700


def test_credential_named_keys_are_stripped_at_any_depth(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.record(
        "submit",
        coid="c-1",
        order={"conid": 1, "access_token": "CANARY-1", "nested": {"LST": "CANARY-2"}},
        oauth_signature="CANARY-3",
        secret="CANARY-4",
    )
    text = journal.path.read_text()
    assert "CANARY" not in text
    (record,) = read_journal(journal.path)
    assert record["order"] == {"conid": 1, "nested": {}}
    assert record["redacted"] == ["LST", "access_token", "oauth_signature", "secret"]


def test_unknown_events_and_reserved_fields_are_refused(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    with pytest.raises(ValueError, match="unknown journal event"):
        journal.record("whatever")
    with pytest.raises(ValueError, match="reserved"):
        journal.record("intent", ts="x")
    assert not journal.path.exists()


async def test_arecord_writes_the_same_line(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    written = await journal.arecord("kill_switch", account="DU1", requested=[1, 2])
    assert read_journal(journal.path) == [written]


def test_a_truncated_last_line_is_skipped_and_repaired_before_the_next_write(
    tmp_path: Path,
) -> None:
    journal = _journal(tmp_path)
    journal.record("intent", coid="a")
    with journal.path.open("a") as f:
        f.write('{"ts": "2024-11-04T15:00:02Z", "event": "sub')  # a crash mid-line
    assert [r["coid"] for r in read_journal(journal.path)] == ["a"]

    _journal(tmp_path).record("intent", coid="b")  # a new process appends
    records = read_journal(journal.path)
    assert [r["event"] for r in records] == ["intent", "unreadable", "intent"]
    assert records[1]["line"] == 2 and records[2]["coid"] == "b"


def test_a_symlink_planted_at_the_journal_is_not_followed(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.path.parent.mkdir(mode=0o700)
    elsewhere = tmp_path / "bashrc"
    elsewhere.write_text("# the user's file\n")
    journal.path.symlink_to(elsewhere)
    with pytest.raises(OSError, match="is a symbolic link, which ibtui does not follow"):
        journal.record("intent", coid="a")
    assert elsewhere.read_text() == "# the user's file\n"


def test_a_journal_in_a_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.path.parent.mkdir()
    journal.path.parent.chmod(0o777)
    with pytest.raises(OSError, match=r"permissions 0777 are too open: the folder is writable"):
        journal.record("intent", coid="a")
    assert not journal.path.exists()


def test_a_loose_journal_mode_is_set_back_to_0600(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.record("intent", coid="a")
    journal.path.chmod(0o666)
    _journal(tmp_path).record("intent", coid="b")
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert [r["coid"] for r in read_journal(journal.path)] == ["a", "b"]
