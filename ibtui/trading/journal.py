"""The audit journal: every step of every order, one JSON object per line, append-only.

Each record has ``ts`` (ISO-8601 UTC, milliseconds, ``Z``), ``event`` (one of :data:`EVENTS`),
``account`` and ``coid`` (the client order id, or null), then the event's own fields. The file
is created with mode 0600 through :func:`ibtui.local.files.append_private_line` (one ``O_APPEND``
write per line, fsynced) and lives at ``Settings.state_dir / "journal.jsonl"``. A symbolic link,
something other than a regular file or another user's file there is refused, as is a state
folder others can write to; a looser mode on the user's own journal is set back to 0600 (and
logged).

The journal only ever receives order data, and a guard makes sure of it: any key named like a
credential (``token``, ``secret``, ``lst``, ``signature``, ``password``, ``private``) is dropped
at any depth before the line is written, and the dropped key names are listed under
``redacted``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Final

from ibtui.local.files import append_private_line

__all__ = [
    "EVENTS",
    "JOURNAL_FILE_NAME",
    "Journal",
    "JournalError",
    "journal_path",
    "read_journal",
]

JOURNAL_FILE_NAME: Final = "journal.jsonl"

EVENTS: Final = frozenset(
    {
        "intent",
        "validation",
        "preview",
        "question",
        "answer",
        "submit",
        "response",
        "unknown_outcome",
        "reconciled",
        "status",
        "cancel_request",
        "cancel_response",
        "modify_request",
        "modify_response",
        "kill_switch",
        "alert",
    }
)
_RESERVED = frozenset({"ts", "event", "account", "coid"})
_SECRET_KEY = re.compile(r"token|secret|lst|signature|password|passwd|private", re.IGNORECASE)


class JournalError(Exception):
    """The journal cannot be read (the message names the file and line)."""


def journal_path(state_dir: Path) -> Path:
    """Where the journal of a state dir lives."""
    return state_dir / JOURNAL_FILE_NAME


def _timestamp(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def _plain(value: object, redacted: list[str]) -> Any:
    """``value`` as plain JSON data: Decimals as strings (exact), enums as their value, times as
    ISO text, dataclasses and mappings as objects; credential-named keys are dropped."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Enum):
        return _plain(value.value, redacted)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, datetime):
        return _timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if _SECRET_KEY.search(name):
                redacted.append(name)
                continue
            out[name] = _plain(item, redacted)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, redacted) for item in value]
    return str(value)


class Journal:
    """Append-only JSON-lines journal at ``path`` (mode 0600).

    :meth:`record` writes synchronously (it fsyncs); :meth:`arecord` does the same in a worker
    thread so an event loop is never blocked on the disk. Both raise ``OSError`` when the file
    cannot be written and ``ValueError`` for an unknown event name.
    """

    def __init__(self, path: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self._clock = clock or (lambda: datetime.now(UTC))
        self._checked_tail = False

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def entry(
        self,
        event: str,
        *,
        account: str | None = None,
        coid: str | None = None,
        **fields: object,
    ) -> dict[str, Any]:
        """The record that :meth:`record` would write (plain JSON data, secrets removed)."""
        if event not in EVENTS:
            raise ValueError(f"unknown journal event {event!r}")
        redacted: list[str] = []
        record: dict[str, Any] = {
            "ts": _timestamp(self._clock()),
            "event": event,
            "account": account,
            "coid": coid,
        }
        for key, value in fields.items():
            if key in _RESERVED:
                raise ValueError(f"journal field {key!r} is reserved")
            if _SECRET_KEY.search(key):
                redacted.append(key)
                continue
            record[key] = _plain(value, redacted)
        if redacted:
            record["redacted"] = sorted(set(redacted))
        return record

    def record(
        self,
        event: str,
        *,
        account: str | None = None,
        coid: str | None = None,
        **fields: object,
    ) -> dict[str, Any]:
        """Append one event; returns the record written."""
        record = self.entry(event, account=account, coid=coid, **fields)
        self._append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        return record

    async def arecord(
        self,
        event: str,
        *,
        account: str | None = None,
        coid: str | None = None,
        **fields: object,
    ) -> dict[str, Any]:
        """:meth:`record` off the event loop (the line is built here, written in a thread)."""
        record = self.entry(event, account=account, coid=coid, **fields)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        await asyncio.to_thread(self._append, line)
        return record

    def _append(self, line: str) -> None:
        # A crash mid-write leaves a last line without its newline: the first write of this
        # process ends it, so the new record starts on a line of its own (the reader then
        # reports the damaged line).
        append_private_line(self.path, line, end_partial_line=not self._checked_tail)
        self._checked_tail = True


def read_journal(path: Path) -> list[dict[str, Any]]:
    """Every record of the journal at ``path``, oldest first.

    A last line cut short (a crash or a writer mid-append) is skipped. A damaged line elsewhere
    is kept as ``{"event": "unreadable", "line": n, "text": ...}`` so nothing in the audit trail
    disappears silently. Raises ``FileNotFoundError`` when there is no journal and
    :class:`JournalError` when the file is not text.
    """
    try:
        data = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JournalError(f"{path}: not a journal (not UTF-8 text)") from exc
    lines = data.split("\n")
    complete = data.endswith("\n")
    if complete:
        lines.pop()  # the empty string after the final newline
    records: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            records.append(value)
        elif number == len(lines) and not complete:
            continue  # truncated last line
        else:
            records.append({"event": "unreadable", "line": number, "text": text[:500]})
    return records
