"""Scriptable commands for cron and pipes: ``ibtui accounts`` and ``ibtui positions``.

They print and exit. On any failure: one line on stderr and a non-zero exit code, no traceback.
What they print is cleaned of control characters once more (:func:`ibtui.text.clean_data`): the
models already cleaned IBKR's text, and the terminal is the last place to make sure.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from ibtui.config import ConfigError, load_settings
from ibtui.config.credentials import load_credentials
from ibtui.ibkr.connect import Connection, connect
from ibtui.ibkr.deadline import COMMAND_DEADLINE, command_deadline, waiting_for
from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.pacing import Pacer, SharedPacing
from ibtui.ibkr.session import AccessCredentials, Consumer
from ibtui.logfile import setup_logging
from ibtui.text import clean_data, clean_text
from ibtui.tui.format import fmt_money, fmt_price, fmt_quantity

__all__ = ["accounts_main", "positions_main"]

Row = dict[str, Any]
_log = logging.getLogger(__name__)


def _open(config: Path | None) -> Connection:
    settings = load_settings(config, require_credentials=True)
    setup_logging(settings.state_dir, "a scripting command (accounts, positions)")
    creds = load_credentials(settings.ibkr, settings.token_file)
    if creds.access_token is None or creds.access_token_secret is None:
        raise ConfigError("no access token yet: run 'ibtui login' first")
    consumer = Consumer(
        creds.consumer_key, creds.realm, creds.signature_key, creds.encryption_key, creds.dh
    )
    access = AccessCredentials(creds.access_token, creds.access_token_secret)
    # IBKR's pacing is per user: back-to-back commands share it through the state folder.
    shared = SharedPacing.for_user(settings.state_dir, creds.consumer_key, creds.access_token)
    return connect(settings.ibkr.base_url, consumer, access, pacer=Pacer(shared=shared))


async def _start(conn: Connection) -> None:
    with waiting_for("the live session token and the brokerage session"):
        await conn.start()


async def _accounts(config: Path | None) -> list[Row]:
    async with _open(config) as conn:
        await _start(conn)
        with waiting_for("the account list"):
            accounts = await conn.client.accounts()
        return [
            {"id": a.id, "alias": a.alias, "currency": a.currency, "paper": a.paper}
            for a in accounts
        ]


async def _positions(config: Path | None, account: str | None) -> list[Row]:
    async with _open(config) as conn:
        await _start(conn)
        with waiting_for("the account list"):
            accounts = [a.id for a in await conn.client.accounts()]
        if account is not None and account not in accounts:
            raise IbkrError(f"unknown account {account!r}; accounts: {', '.join(accounts)}")
        rows: list[Row] = []
        for account_id in [account] if account else accounts:
            with waiting_for(f"the positions of {account_id}"):
                positions = await conn.client.positions(account_id)
            for p in positions:
                rows.append(
                    {
                        "account": p.account,
                        "conid": p.conid,
                        "symbol": p.symbol,
                        "quantity": p.quantity,
                        "last": p.market_price,
                        "market_value": p.market_value,
                        "avg_cost": p.avg_price,
                        "unrealized_pnl": p.unrealized_pnl,
                        "realized_pnl": p.realized_pnl,
                        "currency": p.currency,
                    }
                )
        return rows


# The table shows numbers as the console's positions grid does; csv gives them exactly.
_TABLE_NUMBERS: dict[str, Callable[[Decimal], str]] = {
    "quantity": fmt_quantity,
    "last": fmt_price,
    "market_value": fmt_money,
    "avg_cost": fmt_price,
    "unrealized_pnl": functools.partial(fmt_money, signed=True),
    "realized_pnl": functools.partial(fmt_money, signed=True),
}


def _exact(value: Decimal) -> str:
    """A number as plain text, exact, without exponent or trailing zeros: 60, -1478, 207.4215."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _json_number(value: object) -> float:
    if isinstance(value, Decimal):
        return float(value)  # the float IBKR sent: exact
    raise TypeError(f"{type(value).__name__} is not JSON")


def _write(rows: Sequence[Row], columns: Sequence[str], fmt: str, out: TextIO) -> None:
    rows = clean_data(list(rows))
    if fmt == "json":
        json.dump(list(rows), out, indent=2, default=_json_number)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _exact(v) if isinstance(v, Decimal) else v for c, v in row.items()})
    else:

        def cell(column: str, value: object) -> str:
            if value is None:
                return ""
            if isinstance(value, Decimal):
                return _TABLE_NUMBERS.get(column, _exact)(value)
            return str(value)

        cells = [[cell(c, r[c]) for c in columns] for r in rows]
        widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
        numeric = [any(isinstance(r[c], Decimal) for r in rows) for c in columns]
        for line in [list(columns), *cells]:
            texts = [
                v.rjust(w) if right else v.ljust(w)
                for v, w, right in zip(line, widths, numeric, strict=True)
            ]
            out.write("  ".join(texts).rstrip())
            out.write("\n")


def _run(
    name: str, job: Callable[[], Coroutine[Any, Any, list[Row]]], deadline: float
) -> list[Row] | None:
    async def bounded() -> list[Row]:
        async with command_deadline(deadline):
            return await job()

    try:
        return asyncio.run(bounded())
    except (ConfigError, IbkrError, OSError) as exc:
        _log.error("ibtui %s failed: %s", name, exc)
        print(f"ibtui {name}: {clean_text(str(exc))}", file=sys.stderr)
        return None


def _parser(name: str, description: str, formats: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"ibtui {name}", description=description)
    parser.add_argument("--config", type=Path, help="configuration file (TOML)")
    parser.add_argument("--format", choices=formats, default="table")
    parser.add_argument(
        "--timeout",
        type=float,
        default=COMMAND_DEADLINE,
        metavar="SECONDS",
        help=f"give up after this long (default {COMMAND_DEADLINE:g})",
    )
    return parser


def accounts_main(argv: list[str]) -> int:
    parser = _parser("accounts", "Print the accounts and exit.", ("table", "json"))
    args = parser.parse_args(argv)
    rows = _run("accounts", lambda: _accounts(args.config), args.timeout)
    if rows is None:
        return 1
    _write(rows, ["id", "alias", "currency", "paper"], args.format, sys.stdout)
    return 0


POSITION_COLUMNS = [
    "account",
    "conid",
    "symbol",
    "quantity",
    "last",
    "market_value",
    "avg_cost",
    "unrealized_pnl",
    "realized_pnl",
    "currency",
]


def positions_main(argv: list[str]) -> int:
    parser = _parser("positions", "Print the positions and exit.", ("table", "json", "csv"))
    parser.add_argument("--account", help="only this account")
    args = parser.parse_args(argv)
    rows = _run("positions", lambda: _positions(args.config, args.account), args.timeout)
    if rows is None:
        return 1
    _write(rows, POSITION_COLUMNS, args.format, sys.stdout)
    return 0
