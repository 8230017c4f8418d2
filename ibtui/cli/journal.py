"""``ibtui journal``: print the audit journal of orders (JSON lines, CSV or a table) and exit.

On any failure: one line on stderr, exit code 1, no traceback. The journal keeps what was written
to it as it was; what this prints is cleaned of control characters (:func:`ibtui.text.clean_data`):
a journal's text, planted or not, never reaches the terminal raw.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ibtui.config import ConfigError, load_settings
from ibtui.text import clean_data, clean_text
from ibtui.trading.journal import JournalError, journal_path, read_journal

__all__ = ["main"]

COLUMNS = ("ts", "event", "account", "coid", "order_id", "details")
_FIXED = frozenset({"ts", "event", "account", "coid", "order_id"})


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row(record: dict[str, Any]) -> list[str]:
    details = {k: v for k, v in record.items() if k not in _FIXED}
    fixed = [_cell(record.get(name)) for name in COLUMNS[:-1]]
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":")) if details else ""
    return [*fixed, text]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write(records: Sequence[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """``records`` in ``fmt`` (``jsonl``, ``csv`` or ``table``) on ``out``."""
    records = clean_data(list(records), lines=True)
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
        return
    rows = [_row(r) for r in records]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return
    cells = [[_one_line(c) for c in row] for row in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(COLUMNS)]
    for line in [list(COLUMNS), *cells]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibtui journal",
        description="Print the audit journal of orders (state dir, journal.jsonl) and exit.",
    )
    parser.add_argument("--config", type=Path, help="configuration file (TOML)")
    parser.add_argument("--format", choices=("jsonl", "csv", "table"), default="table")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        path = journal_path(settings.state_dir)
        try:
            records = read_journal(path)
        except FileNotFoundError:
            print(f"ibtui journal: no journal yet ({clean_text(str(path))})", file=sys.stderr)
            records = []
        write(records, args.format, sys.stdout)
    except BrokenPipeError:
        raise  # the reader stopped early: the command line ends quietly (ibtui.cli)
    except (ConfigError, JournalError, OSError) as exc:
        print(f"ibtui journal: {_one_line(clean_text(str(exc)))}", file=sys.stderr)
        return 1
    return 0
