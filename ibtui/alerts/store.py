"""The alerts kept between runs: ``alerts.json`` in the state folder, mode 0600, rewritten
atomically (:func:`ibtui.local.files.write_private`).

A file that cannot be read as alerts is never overwritten: it is moved aside (``alerts.json.bad``,
or ``.bad.1``, ... when that exists), :meth:`AlertStore.load` says so in one line, and the console
starts with no alerts; the alerts in the moved file are still there to repair by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, cast

from ibtui.alerts.rules import KINDS, Alert, Kind
from ibtui.local.files import write_private
from ibtui.text import clean_text

__all__ = ["ALERTS_FILE_NAME", "AlertStore", "alert_from_json", "alert_to_json"]

ALERTS_FILE_NAME: Final = "alerts.json"
_VERSION: Final = 1


def alert_to_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "symbol": alert.symbol,
        "conid": alert.conid,
        "level": None if alert.level is None else str(alert.level),
        "repeat": alert.repeat,
        "paused": alert.paused,
        "armed": alert.armed,
        "side": alert.side,
        "done": alert.done,
        "fired": alert.fired,
    }


def alert_from_json(data: object) -> Alert:
    """An alert from its JSON form; ``ValueError`` saying what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("an alert is not an object")
    kind = data.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    conid = data.get("conid")
    if conid is not None and (not isinstance(conid, int) or isinstance(conid, bool)):
        raise ValueError(f"conid {conid!r} is not a whole number")
    level_text = data.get("level")
    try:
        level = None if level_text is None else Decimal(str(level_text))
    except InvalidOperation:
        raise ValueError(f"level {level_text!r} is not a number") from None
    if level is not None and not level.is_finite():
        raise ValueError(f"level {level_text!r} is not a number")
    if kind != "fill" and (level is None or conid is None):
        raise ValueError(f"a {kind} alert without an instrument or a level")
    alert_id, symbol = data.get("id"), data.get("symbol", "")
    if not isinstance(alert_id, str) or not alert_id or not isinstance(symbol, str):
        raise ValueError("an alert without an id or with a symbol that is not text")
    flags = {name: data.get(name, default) for name, default in _FLAGS.items()}
    if not all(isinstance(value, bool) for value in flags.values()):
        raise ValueError("repeat, paused, armed and done must be true or false")
    side, fired = data.get("side", 0), data.get("fired", 0)
    if side not in (-1, 0, 1) or not isinstance(fired, int) or fired < 0:
        raise ValueError("side or fired out of range")
    return Alert(
        clean_text(alert_id),
        cast(Kind, kind),
        clean_text(symbol),
        conid,
        level,
        side=side,
        fired=fired,
        **flags,
    )


_FLAGS: Final = {"repeat": False, "paused": False, "armed": True, "done": False}


class AlertStore:
    """``alerts.json`` in ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / ALERTS_FILE_NAME

    def load(self) -> tuple[list[Alert], str | None]:
        """The saved alerts, and a one-line problem when the file could not be read (it is then
        moved aside, and no alert is loaded from it)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], None
        except (OSError, UnicodeDecodeError) as exc:
            return [], self._set_aside(f"cannot be read ({exc.__class__.__name__})")
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
                raise ValueError('not {"alerts": [...]}')
            alerts = [alert_from_json(item) for item in data["alerts"]]
        except ValueError as exc:  # json.JSONDecodeError is one
            return [], self._set_aside(clean_text(str(exc)).splitlines()[0][:200])
        return alerts, None

    def save(self, alerts: Iterable[Alert]) -> None:
        data = {"version": _VERSION, "alerts": [alert_to_json(a) for a in alerts]}
        write_private(self.path, json.dumps(data, indent=2) + "\n")

    def _set_aside(self, why: str) -> str:
        aside = self.path.with_name(self.path.name + ".bad")
        number = 0
        while aside.exists():
            number += 1
            aside = self.path.with_name(f"{self.path.name}.bad.{number}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return f"{self.path}: not alerts ({why}) and it could not be moved aside: {exc}"
        return f"{self.path}: not alerts ({why}); moved to {aside.name}, starting with no alerts"
