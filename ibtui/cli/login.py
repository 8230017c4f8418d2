"""``ibtui login``: the third-party OAuth login in a plain terminal, for SSH sessions and scripts.

It prints the authorize URL, reads the verifier (typed at the terminal, or the first line of
standard input when that is not a terminal), exchanges it for an access token, checks that a live
session token can be had with it, and stores the token (mode 0600) so that ``ibtui`` and the
scriptable commands start without a login. On failure: one line on stderr, exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx

from ibtui.config import ConfigError, Settings, load_settings, save_tokens
from ibtui.config.credentials import load_credentials
from ibtui.ibkr.connect import connect
from ibtui.ibkr.deadline import COMMAND_DEADLINE, command_deadline, waiting_for
from ibtui.ibkr.errors import IbkrError, VerifierError
from ibtui.ibkr.http_client import new_http_client
from ibtui.ibkr.login import ThirdPartyLogin
from ibtui.ibkr.session import AccessCredentials, Consumer
from ibtui.logfile import setup_logging

__all__ = ["main"]

_log = logging.getLogger(__name__)
TTY_ATTEMPTS = 3  # a wrong verifier typed at a terminal: a new link, and try again


class LoginAborted(Exception):
    """The user gave no verifier (end of input or Ctrl-C)."""


def _say(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")
    out.flush()


def _terminal_reader(stdin: TextIO, out: TextIO) -> Callable[[], str]:
    def read() -> str:
        out.write("Verifier: ")
        out.flush()
        line = stdin.readline()
        if not line:
            raise LoginAborted("no verifier entered")
        return line

    return read


def _pipe_reader(stdin: TextIO) -> Callable[[], str]:
    def read() -> str:
        line = stdin.readline()
        if not line.strip():
            raise LoginAborted("no verifier on the first line of standard input")
        return line

    return read


async def login(
    settings: Settings,
    read_verifier: Callable[[], str],
    out: TextIO,
    *,
    attempts: int = 1,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AccessCredentials:
    """Run the flow; store and return the access token. Raises IbkrError/ConfigError."""
    creds = load_credentials(settings.ibkr, None)  # a new login: any stored token is replaced
    consumer = Consumer(
        creds.consumer_key, creds.realm, creds.signature_key, creds.encryption_key, creds.dh
    )
    base_url = settings.ibkr.base_url
    async with new_http_client(transport=transport) as http:
        flow = ThirdPartyLogin(http, base_url, consumer)
        for attempt in range(1, attempts + 1):
            async with command_deadline(COMMAND_DEADLINE):
                with waiting_for("a request token (oauth/request_token)"):
                    request = await flow.request_token()
            _say(out, "Open this link in a browser, log in to IBKR and allow ibtui:")
            _say(out, f"  {request.authorize_url}")
            _say(out, "Then enter the verifier the page shows.")
            verifier = await asyncio.to_thread(read_verifier)  # the trader takes their time
            try:
                async with command_deadline(COMMAND_DEADLINE):
                    with waiting_for("the access token (oauth/access_token)"):
                        access = await flow.access_token(request, verifier)
                break
            except VerifierError as exc:
                if attempt == attempts:
                    raise
                _say(out, f"{exc}")
                _say(out, "Here is a new link; try again.")
    _say(out, "Access token received; checking it with a live session token…")
    conn = connect(base_url, consumer, access, transport=transport)
    async with conn, command_deadline(COMMAND_DEADLINE):
        with waiting_for("a live session token (oauth/live_session_token)"):
            await conn.session.current_lst()
    save_tokens(settings.token_file, access.access_token, access.access_token_secret, None)
    _say(out, f"Logged in. The access token is stored in {settings.token_file} (mode 0600).")
    return access


def main(
    argv: list[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    parser = argparse.ArgumentParser(
        prog="ibtui login",
        description=(
            "Authorize ibtui with IBKR (OAuth, out of band) and store the access token. "
            "The verifier is read from the terminal, or from the first line of standard input."
        ),
    )
    parser.add_argument("--config", type=Path, help="configuration file (TOML)")
    parser.add_argument(
        "--force", action="store_true", help="log in again even if a token is already stored"
    )
    args = parser.parse_args(argv)
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = stdin.isatty()
    try:
        settings = load_settings(args.config, require_credentials=True)
        setup_logging(settings.state_dir, "login")
        if settings.ibkr.access_token and settings.ibkr.access_token_secret:
            raise ConfigError(
                f"{settings.config_path} sets ibkr.access_token (a first-party token): "
                "no login is needed; remove it from the config to use the third-party login"
            )
        if settings.token_file.exists() and not args.force:
            _say(
                out,
                f"A token is already stored in {settings.token_file}; use --force to log in again.",
            )
            return 0
        reader = _terminal_reader(stdin, out) if interactive else _pipe_reader(stdin)
        asyncio.run(
            login(
                settings,
                reader,
                out,
                attempts=TTY_ATTEMPTS if interactive else 1,
                transport=transport,
            )
        )
    except KeyboardInterrupt:
        print("\nibtui login: interrupted; nothing stored", file=sys.stderr)
        return 1
    except (ConfigError, IbkrError, OSError, LoginAborted) as exc:
        _log.error("ibtui login failed: %s", exc)
        print(f"ibtui login: {exc}", file=sys.stderr)
        return 1
    return 0
