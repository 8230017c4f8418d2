"""``ibtui demo``: the console on the embedded simulated IBKR server, through the real login flow.

The user's config file gives the demo its ``[ui]``, ``[orders]``, ``[keymap]`` and ``[stream]``
(never ``[ibkr]``: the demo logs in to its own simulator); its state folder is its own.

The only command (with ``ibtui sim``) that imports the simulator: its bootstrap,
:mod:`ibtui.sim.demo`, starts the simulator in-process and registers a consumer with it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ibtui.adapters.broker import ClientBackend
from ibtui.adapters.market import ClientMarketData, StateWatchlistStore
from ibtui.cli.run import alert_settings, show_problem
from ibtui.ibkr.session import AccessCredentials
from ibtui.local.paths import default_state_dir
from ibtui.local.state import StateStore
from ibtui.logfile import setup_logging
from ibtui.sim.demo import NEW_YORK, build_demo
from ibtui.tui.market import Watchlist

if TYPE_CHECKING:
    from ibtui.config import Settings

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """``ibtui demo``: the console on the embedded simulator, through the real login flow."""
    parser = argparse.ArgumentParser(
        prog="ibtui demo", description="Run the console on the embedded simulated IBKR server."
    )
    parser.add_argument("--seed", type=int, default=1, help="market seed (default 1)")
    parser.add_argument(
        "--skip-login",
        action="store_true",
        help="start with a first-party access token instead of the third-party login screen",
    )
    parser.add_argument(
        "--poll-interval", type=float, help="seconds between polls (default: [ui] poll_interval)"
    )
    parser.add_argument(
        "--no-stream",
        action="store_true",
        help="poll every price and order instead of streaming them (default: [stream] enabled)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="configuration file whose [ui], [orders], [keymap], [stream] and [alerts] the demo "
        "uses (default: the usual config file, if any; its [ibkr] is never used)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the demo keeps its order journal, watchlist, alerts and log (default: the "
        "demo's own folder in the state dir, apart from the real console's)",
    )
    args = parser.parse_args(argv)
    settings = _user_settings(args.config)
    if settings is None:
        return 1
    from ibtui.tui.app import run_app

    demo_dir = _demo_dir()
    demo = build_demo(seed=args.seed, key_dir=demo_dir)
    access = None
    if args.skip_login:
        token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
        access = AccessCredentials(token, secret)
    backend = ClientBackend(
        demo.base_url, demo.consumer, access=access, transport=demo.transport, demo=demo
    )
    state_dir = args.state_dir or demo_dir or Path(tempfile.mkdtemp(prefix="ibtui-demo-"))
    setup_logging(state_dir, "demo")
    trader = backend.trader(settings.orders, state_dir)
    streaming = settings.stream.enabled and not args.no_stream
    return run_app(
        backend,
        login=backend if backend.needs_login else None,
        trader=trader,
        stream=backend.stream(settings.stream.line_allowance, trader, stream_http=demo.stream_http)
        if streaming
        else None,
        market=ClientMarketData(backend.client),
        watchlist=Watchlist.load(StateWatchlistStore(StateStore(state_dir))),
        keymap=settings.keymap,
        poll_interval=args.poll_interval or settings.ui.poll_interval,
        background_poll_seconds=settings.stream.background_poll_seconds,
        theme=settings.ui.theme,
        bell=settings.ui.bell,
        margin_warning=settings.ui.margin_warning,
        idle_lock_minutes=settings.ui.idle_lock_minutes,
        start_notice=clocks_notice(demo.sim.clock.now() - time.time()),
        alerts=alert_settings(settings, state_dir),
    )


def clocks_notice(offset: float, now: float | None = None) -> str:
    """Which clock each time on screen is, for a demo market ``offset`` seconds from now (the
    demo replays a weekday's open hours when the US market is closed)."""
    if abs(offset) < 60:
        return (
            "Demo: the market runs on the real clock. Times are this machine's local time; the "
            "chart's axis is the exchange's time."
        )
    market = datetime.fromtimestamp((time.time() if now is None else now) + offset, NEW_YORK)
    return (
        f"Demo: the market replays {market:%a %b %d from %H:%M} New York time. Orders and "
        "trades carry the replayed time (shown in local time); 'as of' and quote ages are the "
        "real clock; the chart's axis is the exchange's time."
    )


def _user_settings(config: Path | None) -> Settings | None:
    """The user's settings for their ``[ui]``, ``[orders]`` and ``[keymap]`` (the demo never
    uses ``[ibkr]``): from ``config``, else ``IBTUI_CONFIG`` or the usual file when there is one.
    A problem is shown as ``ibtui run`` shows it; None when the user gives up."""
    from ibtui.config import ConfigError, load_settings

    while True:
        try:
            return load_settings(config)
        except (ConfigError, OSError) as exc:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                print(f"ibtui: {exc}", file=sys.stderr)
                return None
            if not show_problem("ibtui demo cannot start", str(exc)):
                return None


def _demo_dir() -> Path | None:
    """Where ``ibtui demo`` keeps its consumer keys, journal, watchlist, alerts and log between
    runs: the platform state dir's ``demo``, apart from the real console's files."""
    try:
        return default_state_dir() / "demo"
    except (OSError, RuntimeError):  # no home folder to keep them in: fresh keys each run
        return None
