"""Screenshots of the console on the embedded demo, as SVG, and PNG where a converter is installed.

Drives the real demo (``build_demo`` + ``ClientBackend`` + ``IbtuiApp``) at 120x40 through the
third-party login with the verifier the simulated IBKR page shows, picks the paper account, waits
until live quotes are painted and saves each screen: login, accounts, positions, help, the
account screen (balances and margin), an order ticket with its preview, the orders screen, a
chart, a symbol search, the watchlist and the alerts.

    .venv/bin/python screenshots/make_screenshots.py [OUT_DIR]      # or: make screenshots

The market replays the current (or last) trading session, so prices differ from run to run. PNGs
come from ``rsvg-convert`` (Debian: librsvg2-bin) or else ImageMagick's ``convert``; without either
only the SVGs are written.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from ibtui.adapters.broker import ClientBackend
from ibtui.adapters.market import ClientMarketData
from ibtui.alerts.rules import new_alert
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment, build_demo
from ibtui.trading import OrderDraft, Side, TicketType
from ibtui.trading.settings import OrderSettings
from ibtui.tui.app import IbtuiApp
from ibtui.tui.market import Watchlist
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.account import AccountScreen
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.alerts import AlertDialog, AlertsScreen
from ibtui.tui.screens.chart import ChartScreen, ChartState
from ibtui.tui.screens.help import HelpScreen
from ibtui.tui.screens.login import LoginScreen
from ibtui.tui.screens.orders import OrdersScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.search import SearchScreen
from ibtui.tui.screens.ticket import TicketScreen
from ibtui.tui.screens.watchlist import WatchlistScreen

HERE = Path(__file__).resolve().parent
SIZE = (120, 40)
NAMES = (
    "login",
    "accounts",
    "positions",
    "help",
    "account",
    "ticket",
    "orders",
    "chart",
    "search",
    "watchlist",
    "alerts",
)
BACKGROUND = "#1e1e1e"  # behind the SVG's rounded window corners
WAIT_SECONDS = 60.0  # generous: the machine may be slow and shared


@dataclass
class Capture:
    """What one run produced, and what a test needs to check it."""

    svgs: dict[str, Path] = field(default_factory=dict)
    pngs: dict[str, Path] = field(default_factory=dict)
    demo: DemoEnvironment | None = None
    access: list[AccessCredentials] = field(default_factory=list)


async def _wait(pilot: Pilot[None], what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the console did not show {what} in time")
        await pilot.pause(0.05)


def _text(screen: LoginScreen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def capture(out_dir: Path, *, seed: int = 1, key_bits: int = 2048) -> Capture:
    """Run the demo and write ``<name>.svg`` for each of :data:`NAMES` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    result = Capture()
    demo = build_demo(seed=seed, key_bits=key_bits)
    result.demo = demo
    backend = ClientBackend(
        demo.base_url,
        demo.consumer,
        transport=demo.transport,
        demo=demo,
        save_access=result.access.append,
    )
    journal_dir = Path(tempfile.mkdtemp(prefix="ibtui-shots-"))
    trader = backend.trader(OrderSettings(), journal_dir)
    app = IbtuiApp(
        backend,
        login=backend,
        trader=trader,
        market=ClientMarketData(backend.client),
        watchlist=Watchlist(),
        poll=PollSettings(interval=2.0),
        cursor_blink=False,
    )

    def shoot(name: str) -> None:
        path = out_dir / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(out_dir))
        result.svgs[name] = path

    try:
        async with app.run_test(size=SIZE) as pilot:
            # login: the authorize link, its QR code and the demo's verifier hint
            await _wait(pilot, "the login screen", lambda: isinstance(app.screen, LoginScreen))
            login = app.screen
            assert isinstance(login, LoginScreen)
            await _wait(pilot, "the demo hint", lambda: "verifier" in _text(login, "#hint"))
            await _wait(pilot, "the link", lambda: "oauth_token=" in _text(login, "#url"))
            await pilot.pause()
            shoot("login")

            verifier = _text(login, "#hint").split()[-1]
            await pilot.press(*verifier)
            assert login.query_one("#verifier", Input).value == verifier
            await pilot.press("enter")

            # accounts: the paper and the live account
            await _wait(pilot, "the accounts", lambda: isinstance(app.screen, AccountsScreen))
            await pilot.pause()
            shoot("accounts")

            # positions: the paper account, once live quotes are painted (and no cell flashes)
            await pilot.press("enter")  # the paper account is first
            await _wait(pilot, "positions", lambda: isinstance(app.screen, PositionsScreen))
            positions = app.screen
            assert isinstance(positions, PositionsScreen)
            assert positions.account.account_id == PAPER_ACCOUNT
            table = positions.table

            def priced() -> bool:
                keys = table.visible_keys
                return bool(keys) and all(
                    table.cell(key, "last").text not in ("", "—") for key in keys
                )

            def live() -> bool:
                status = positions.status_bar.status
                return (
                    status.newest_quote_at is not None
                    and status.lst_expires_at is not None
                    and status.session.healthy
                )

            await _wait(pilot, "the positions", priced)
            await _wait(pilot, "live quotes", live)
            await _wait(pilot, "the end of the flashes", lambda: not table.flashing)
            await pilot.pause()
            shoot("positions")

            # help: the keys of the positions screen
            await pilot.press("question_mark")
            await _wait(pilot, "the help", lambda: isinstance(app.screen, HelpScreen))
            await pilot.pause()
            shoot("help")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # account: the balances and margin in full
            def day() -> bool:  # IBKR's first partitioned P&L is empty: the next has the day
                balances = app.session.balances
                return balances is not None and balances.daily_pnl is not None

            await _wait(pilot, "the balances", day)
            await pilot.press("dollar_sign")
            await _wait(pilot, "the account", lambda: isinstance(app.screen, AccountScreen))
            await pilot.pause(0.3)
            shoot("account")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # ticket: buy 10 AAPL at the last price, previewed (IBKR's what-if)
            aapl = f"{PAPER_ACCOUNT}:265598"
            table.grid.move_to(aapl)
            await pilot.press("b")
            await _wait(pilot, "the ticket", lambda: isinstance(app.screen, TicketScreen))
            ticket = app.screen
            assert isinstance(ticket, TicketScreen)
            ticket.query_one("#quantity", Input).value = "10"
            await pilot.pause()
            await pilot.press("enter")
            await _wait(pilot, "the preview", lambda: ticket.preview is not None)
            await pilot.pause()
            shoot("ticket")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # orders: two resting buys below the market
            last = positions.quotes[265598].last
            assert last is not None

            async def never(question: object) -> bool:
                return False

            for pct, qty in (("0.985", 10), ("0.98", 25)):  # within 3 %: no question
                price = (last * Decimal(pct)).quantize(Decimal("0.01"))
                draft = OrderDraft(
                    PAPER_ACCOUNT, 265598, "AAPL", Side.BUY, Decimal(qty),
                    TicketType.LMT, limit_price=price,
                )  # fmt: skip
                await trader.submit(draft, never)
            await pilot.press("o")
            await _wait(pilot, "the orders", lambda: isinstance(app.screen, OrdersScreen))
            orders = app.screen
            assert isinstance(orders, OrdersScreen)
            await _wait(pilot, "two orders", lambda: len(orders.orders) >= 2)
            await pilot.pause()
            shoot("orders")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # chart: AAPL's candles
            table.grid.move_to(aapl)
            await pilot.press("c")
            await _wait(pilot, "the chart", lambda: isinstance(app.screen, ChartScreen))
            chart = app.screen
            assert isinstance(chart, ChartScreen)
            await _wait(pilot, "the candles", lambda: chart.state is ChartState.READY)
            await pilot.pause(0.5)
            shoot("chart")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # search: MSFT, added to the watchlist
            await pilot.press("f")
            await _wait(pilot, "the search", lambda: isinstance(app.screen, SearchScreen))
            search = app.screen
            assert isinstance(search, SearchScreen)
            await pilot.press(*"MSFT")
            await _wait(pilot, "the results", lambda: bool(search.results))
            await pilot.pause(0.3)
            shoot("search")
            await pilot.press("down", "plus")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # watchlist: MSFT with live prices
            await pilot.press("w")
            await _wait(pilot, "the watchlist", lambda: isinstance(app.screen, WatchlistScreen))
            watch = app.screen
            await _wait(pilot, "a watched price", lambda: bool(getattr(watch, "quotes", {})))
            await pilot.pause(1.5)
            shoot("watchlist")
            await pilot.press("escape")
            await _wait(pilot, "the positions", lambda: app.screen is positions)

            # alerts: one set on AAPL with the dialog, a few more, one of them fired at once
            table.grid.move_to(aapl)
            await pilot.press("exclamation_mark")
            await _wait(pilot, "the alert dialog", lambda: isinstance(app.screen, AlertDialog))
            dialog = app.screen
            assert isinstance(dialog, AlertDialog) and dialog.target.last is not None
            level = (dialog.target.last * Decimal("1.02")).quantize(Decimal("0.01"))
            dialog.query_one("#alert-level", Input).value = str(level)
            await pilot.press("enter")
            await _wait(pilot, "the alert", lambda: len(app.alerts.book) == 1)
            msft = positions.quotes[272093].last
            assert msft is not None
            app.alerts.add(new_alert("below", "MSFT", 272093, msft * Decimal("1.01"), repeat=True))
            app.alerts.add(new_alert("move_pct", "SPY", 756733, Decimal("2"), repeat=True))
            app.alerts.add(new_alert("pnl_below", "NVDA", 4815747, Decimal("-2000")))
            app.alerts.add(new_alert("fill", "", None, None, repeat=True))
            await pilot.press("L")
            await _wait(pilot, "the alerts", lambda: isinstance(app.screen, AlertsScreen))
            await pilot.pause(0.5)
            shoot("alerts")
    finally:
        await backend.aclose()
    return result


def _converters(svg: Path, png: Path) -> list[list[str]]:
    """Commands that turn ``svg`` into ``png``, best first: librsvg draws Textual's SVG faithfully;
    ImageMagick's own SVG renderer is the fallback (it may misplace some text)."""
    commands = []
    rsvg = shutil.which("rsvg-convert")
    if rsvg:
        commands.append([rsvg, "--background-color", BACKGROUND, "-o", str(png), str(svg)])
    magick = shutil.which("magick") or shutil.which("convert")
    if magick:
        commands.append([magick, "-background", BACKGROUND, str(svg), "-flatten", str(png)])
    return commands


def svg_to_png(svg: Path) -> Path | None:
    """``svg`` as a PNG next to it; None (and a message saying why) when no tool can do it."""
    png = svg.with_suffix(".png")
    with tempfile.TemporaryDirectory() as tmp:
        # Textual pads with no-break spaces, which librsvg drops unless told to keep white space.
        source = Path(tmp) / svg.name
        source.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
        commands = _converters(source, png)
        if not commands:
            print(f"skipped {png.name}: no rsvg-convert and no ImageMagick (convert)")
            return None
        for command in commands:
            png.unlink(missing_ok=True)
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
            if done.returncode == 0 and png.exists():
                return png
            lines = (done.stderr or done.stdout).strip().splitlines()
            name = Path(command[0]).name
            print(f"{name} could not convert {svg.name}: {lines[0] if lines else '?'}")
    png.unlink(missing_ok=True)
    print(f"skipped {png.name}")
    return None


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else HERE
    result = asyncio.run(capture(out_dir))
    for name in NAMES:
        svg = result.svgs[name]
        print(f"wrote {svg}")
        png = svg_to_png(svg)
        if png is not None:
            result.pngs[name] = png
            print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
