"""``ibtui [run] [--config PATH]``: the console on IBKR (or on ``ibtui sim``, named by the config).

The composition root of the real console: the settings, the broker adapter over the client, the
order service (made when first used), market data and the watchlist, handed to ``run_app``.
Nothing of the simulator is imported on this path (``tests/test_import_hygiene.py`` checks it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ibtui.adapters.broker import backend_from_settings
from ibtui.adapters.market import ClientMarketData, StateWatchlistStore
from ibtui.local.state import StateStore
from ibtui.logfile import setup_logging
from ibtui.tui.market import Watchlist

if TYPE_CHECKING:
    from ibtui.config import Settings
    from ibtui.tui.alerts import AlertSettings

__all__ = ["main", "show_problem"]


def show_problem(title: str, message: str) -> bool:
    """The problem on a screen of its own; True when the user asks to try again."""
    from ibtui.tui.problem import ProblemApp

    app = ProblemApp(title, message + "\n\nFix it, then press r to try again, or q to quit.")
    return bool(app.run())


def main(argv: list[str]) -> int:
    """``ibtui [run] [--config PATH]``: the console on IBKR (or whatever ``base_url`` names)."""
    parser = argparse.ArgumentParser(
        prog="ibtui run",
        description="Run the console against IBKR (or a simulator named by the config).",
    )
    parser.add_argument("--config", type=Path, help="configuration file (TOML)")
    parser.add_argument("--poll-interval", type=float, help="seconds between polls")
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="poll every price and order instead of streaming them (default: [stream] enabled)",
    )
    args = parser.parse_args(argv)
    from ibtui.config import ConfigError, load_settings

    while True:
        try:
            settings = load_settings(args.config, require_credentials=True)
            backend = backend_from_settings(settings)
            break
        except (ConfigError, OSError) as exc:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                print(f"ibtui: {exc}", file=sys.stderr)
                return 1
            if not show_problem("ibtui cannot start", str(exc)):
                return 1
    from ibtui.tui.app import run_app

    setup_logging(settings.state_dir, "run")
    state = StateStore(settings.state_dir)
    trader = backend.trader(settings.orders, settings.state_dir)
    streaming = settings.stream.enabled and not args.no_stream
    return run_app(
        backend,
        login=backend if backend.needs_login else None,
        keymap=settings.keymap,
        poll_interval=args.poll_interval or settings.ui.poll_interval,
        background_poll_seconds=settings.stream.background_poll_seconds,
        trader=trader,
        stream=backend.stream(settings.stream.line_allowance, trader) if streaming else None,
        market=ClientMarketData(backend.client),
        watchlist=Watchlist.load(StateWatchlistStore(state)),
        last_account=state.last_account,
        remember_account=state.remember_account,
        theme=settings.ui.theme,
        bell=settings.ui.bell,
        margin_warning=settings.ui.margin_warning,
        idle_lock_minutes=settings.ui.idle_lock_minutes,
        alerts=alert_settings(settings, settings.state_dir),
    )


def alert_settings(settings: Settings, state_dir: Path) -> AlertSettings:
    """The alerts kept in ``state_dir``, told as ``[alerts]`` says, each firing journaled."""
    from decimal import Decimal

    from ibtui.alerts.store import AlertStore
    from ibtui.trading.journal import Journal, journal_path
    from ibtui.tui.alerts import AlertSettings
    from ibtui.tui.desktop_notify import DESKTOP_MODES

    journal = Journal(journal_path(state_dir))

    def journal_line(fields: Mapping[str, object]) -> None:
        rest = dict(fields)
        account = rest.pop("account", None)
        journal.record("alert", account=str(account) if account else None, coid=None, **rest)

    desktop = settings.alerts.desktop
    return AlertSettings(
        store=AlertStore(state_dir),
        desktop=desktop if desktop in DESKTOP_MODES else "off",
        rearm_pct=Decimal(str(settings.alerts.rearm_pct)),
        journal=journal_line,
    )
