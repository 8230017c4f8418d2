"""Alerts kept in the state folder: 0600, a bad file set aside with a one-line reason."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

import pytest

from ibtui.alerts.rules import AlertBook, new_alert
from ibtui.alerts.store import ALERTS_FILE_NAME, AlertStore


def test_alerts_and_their_state_survive_a_save_and_a_load(tmp_path: Path) -> None:
    book = AlertBook(
        [
            new_alert("above", "AAPL", 265598, Decimal("215.5"), repeat=True),
            new_alert("fill", "", None, None),
        ]
    )
    book.on_quote(265598, Decimal("216"), None)  # fired: disarmed
    store = AlertStore(tmp_path)
    store.save(book)
    assert stat.S_IMODE((tmp_path / ALERTS_FILE_NAME).stat().st_mode) == 0o600
    loaded, problem = AlertStore(tmp_path).load()
    assert problem is None
    assert loaded == book.alerts
    assert not loaded[0].armed and loaded[0].fired == 1


def test_no_file_is_no_alerts(tmp_path: Path) -> None:
    assert AlertStore(tmp_path).load() == ([], None)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "Expecting property name"),
        ('{"alerts": {}}', 'not {"alerts": [...]}'),
        ('{"alerts": [{"id": "a", "kind": "sideways", "conid": 1, "level": "1"}]}', "sideways"),
        ('{"alerts": [{"id": "a", "kind": "above", "conid": 1, "level": "x"}]}', "not a number"),
    ],
)
def test_a_bad_file_is_set_aside_with_a_one_line_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / ALERTS_FILE_NAME
    path.write_text(text)
    alerts, problem = AlertStore(tmp_path).load()
    assert alerts == []
    assert problem is not None and "\n" not in problem
    assert reason in problem and "alerts.json.bad" in problem
    assert (tmp_path / "alerts.json.bad").read_text() == text  # nothing lost
    assert not path.exists()
    path.write_text(text)  # a second bad file does not overwrite the first
    AlertStore(tmp_path).load()
    assert (tmp_path / "alerts.json.bad.1").read_text() == text
