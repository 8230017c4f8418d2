"""Small pieces of UI state kept between runs (the last account, ...), in the state dir.

One JSON object in ``state.json``, rewritten atomically (mode 0600, like everything in the state
dir). A missing or damaged file is an empty state: losing a preference must never stop the app.
"""

from __future__ import annotations

import json
from pathlib import Path

from ibtui.local.files import write_private

__all__ = ["STATE_FILE_NAME", "StateStore"]

STATE_FILE_NAME = "state.json"

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class StateStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE_NAME

    def load(self) -> dict[str, JsonValue]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> JsonValue:
        return self.load().get(key)

    def set(self, key: str, value: JsonValue) -> None:
        data = self.load()
        data[key] = value
        write_private(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")

    @property
    def last_account(self) -> str | None:
        value = self.get("last_account")
        return value if isinstance(value, str) else None

    def remember_account(self, account_id: str) -> None:
        self.set("last_account", account_id)
