"""``IbtuiApp``: wiring only — screens, global keys, the command palette, and the pieces it
composes (:mod:`ibtui.tui.controllers`: the idle lock, a competing login, the accounts, tickets).

The flow: login (skipped without a :class:`~ibtui.tui.protocols.LoginFlow`) → accounts (skipped when
the remembered account or the only account is available) → positions, with the poller running in
an exclusive worker that posts to the positions screen and, with a trader, the account's one order
watcher (:mod:`ibtui.tui.order_watch`); :class:`~ibtui.tui.controllers.accounts.AccountFlow` runs
them. What the app reads of them is in ``app.session`` (:class:`~ibtui.tui.session.Session`), never
in a screen's widgets. ``a`` goes back to the account picker at any time, ``?`` lists the keys,
``ctrl+p`` offers every action by name. ``run_app`` (:mod:`ibtui.tui.runtime`) runs the console.

Only the screens of that flow are imported at start; the others (orders, ticket, chart, search,
watchlist, help, lock, ...) when first opened, so that the first positions come sooner. Checks
whether such a screen is shown skip the import when its module has not been imported yet (no
screen of it can exist then).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen

from ibtui.tui import keymap as ids
from ibtui.tui.alerts import AlertSettings, AlertWatch, set_alert_on
from ibtui.tui.commands import ActionsProvider
from ibtui.tui.controllers import is_a
from ibtui.tui.controllers.accounts import AccountFlow
from ibtui.tui.controllers.competing import CompetingLogin
from ibtui.tui.controllers.idle_lock import IdleLock
from ibtui.tui.controllers.tickets import TicketFlow
from ibtui.tui.key_order import KeyOrder
from ibtui.tui.keymap import (
    KeymapProblem,
    apply_keymap,
    binding_classes,
    binding_ids,
    describe_active_bindings,
)
from ibtui.tui.market import MarketData, TicketRequested, Watchlist
from ibtui.tui.market_screens import (
    SymbolSearchProvider,
    open_chart_for,
    open_search,
    open_watchlist,
)
from ibtui.tui.messages import PositionsUpdated, QuotesUpdated
from ibtui.tui.order_watch import MIN_POLL_INTERVAL, OrdersUpdated, tell_order_news
from ibtui.tui.poller import PollSettings
from ibtui.tui.protocols import Broker, LoginFlow
from ibtui.tui.runtime import SettledFreeze, console_runtime, run_app
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.session import Session
from ibtui.tui.widgets.connecting import ConnectingStatus
from ibtui.tui.widgets.footer import Footer

if TYPE_CHECKING:
    from ibtui.tui.streaming import Stream
    from ibtui.tui.trading import Trader

__all__ = ["IbtuiApp", "console_runtime", "run_app"]

_SCREENS = (Path(__file__).parent / "screens").resolve()
_LOGIN = "ibtui.tui.screens.login"
_HELP = "ibtui.tui.screens.help"
_QUIT = "ibtui.tui.screens.quit"
_SEARCH = "ibtui.tui.screens.search"
_WATCHLIST = "ibtui.tui.screens.watchlist"
_ALERTS = "ibtui.tui.screens.alerts"


class IbtuiApp(App[None], inherit_bindings=False):
    TITLE = "ibtui"
    # The start screens' own files (their CSS_PATH too), read with the app's at start: Textual
    # re-parses every stylesheet source when a screen brings a file it has not read yet. Absolute:
    # Textual resolves a relative CSS_PATH against the file of the app's class, a subclass's too.
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        _SCREENS / "accounts.tcss",
        _SCREENS / "positions.tcss",
    ]
    COMMANDS = App.COMMANDS | {ActionsProvider, SymbolSearchProvider}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "leave", "Quit", id=ids.APP_QUIT, priority=True),
        Binding("ctrl+c", "help_quit", show=False, system=True, id=ids.APP_HELP_QUIT),
        Binding(
            "ctrl+p", "command_palette", "Commands", show=False, id=ids.APP_PALETTE, priority=True
        ),
        Binding("question_mark", "help", "Help", id=ids.APP_HELP),
        Binding("a", "accounts", "Accounts", id=ids.APP_ACCOUNTS),
        Binding("o", "orders", "Orders", id=ids.APP_ORDERS),
        Binding("c", "chart", "Chart", id=ids.APP_CHART),
        Binding("w", "watchlist", "Watchlist", id=ids.APP_WATCHLIST),
        Binding("f", "search", "Find symbol", id=ids.APP_SEARCH),
        Binding("r", "retry", "Retry now", id=ids.APP_RETRY),
        Binding("dollar_sign", "balances", "Balances", id=ids.APP_BALANCES),
        Binding("exclamation_mark", "set_alert", "Set alert", show=False, id=ids.APP_SET_ALERT),
        Binding("L", "alerts", "Alerts", show=False, id=ids.APP_ALERTS),
    ]

    def __init__(
        self,
        broker: Broker,
        *,
        login: LoginFlow | None = None,
        trader: Trader | None = None,
        keymap: Mapping[str, str] | None = None,
        poll: PollSettings | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        last_account: str | None = None,
        remember_account: Callable[[str], None] | None = None,
        theme: str | None = None,
        cursor_blink: bool = True,
        bell: bool = True,
        idle_lock_minutes: float = 0,
        market: MarketData | None = None,
        watchlist: Watchlist | None = None,
        freeze_settled: bool = False,
        margin_warning: float = 0.10,
        balances_seconds: float = 20.0,
        start_notice: str | None = None,
        stream: Stream | None = None,
        alerts: AlertSettings | None = None,
    ) -> None:
        super().__init__()
        self.start_notice = start_notice  # said once logged in (the demo's replayed market)
        self.stream = stream  # prices and orders pushed (ibtui.tui.streaming), polling the rest
        self.market = market  # charts and symbol search (the palette's provider reads it too)
        self.watchlist = watchlist if watchlist is not None else Watchlist()
        self.idle_lock = IdleLock(self, idle_lock_minutes, clock)
        self.competing_login = CompetingLogin(self)
        self.ticket_flow = TicketFlow(self)
        self.account_flow = AccountFlow(
            self, last_account=last_account, remember_account=remember_account
        )
        self.ring_bell = bell
        self.margin_warning = margin_warning  # a margin cushion below it: the warning colour
        self.balances_seconds = balances_seconds
        self.alerts = AlertWatch(self, alerts or AlertSettings(), bell=bell)
        self.order_watch_seconds = MIN_POLL_INTERVAL  # IBKR's live-orders pacing
        self.key_order = KeyOrder(self, super().on_event)
        self.broker = broker
        self.session = Session()  # what the screens render from, as the workers report it
        self.cursor_blink = cursor_blink
        self.login_flow = login
        self.trader = trader
        self.poll_settings = poll or PollSettings()
        self.clock = clock
        self.sleep = sleep
        self.freeze_settled = freeze_settled  # run_app's console: see SettledFreeze
        self.settled_freeze = SettledFreeze(sleep)
        # Checking the keymap's ids needs every screen's bindings: only when there is one.
        known = binding_ids((type(self), *binding_classes())) if keymap else set()
        self.keymap_problems: list[KeymapProblem] = apply_keymap(self, keymap or {}, known)
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.keymap_problems.append(KeymapProblem("theme", f"unknown theme {theme!r}"))

    def compose(self) -> ComposeResult:
        self.connecting = ConnectingStatus(id="connecting")
        yield self.connecting
        yield Footer()

    async def on_event(self, event: events.Event) -> None:
        self.idle_lock.saw(event)
        if isinstance(event, events.Key) and not event.is_forwarded:  # from the driver
            await self.key_order.receive(event)  # in the order typed (ibtui/tui/key_order.py)
            return
        await super().on_event(event)

    def on_key_order_settled(self, message: KeyOrder.Settled) -> None:
        self.key_order.settled(message)

    def on_mount(self) -> None:
        self.idle_lock.start()
        for problem in self.keymap_problems:
            self.notify(str(problem), severity="warning", timeout=10, markup=False)
        if self.alerts.problem:
            self.notify(self.alerts.problem, severity="error", timeout=20, markup=False)
        self.alerts.check_desktop()  # inside tmux: its passthrough, asked in a thread
        if self.login_flow is not None:
            from ibtui.tui.screens.login import LoginScreen

            login = LoginScreen(self.login_flow, cursor_blink=self.cursor_blink)
            self.push_screen(login, self._logged_in)
        else:
            self.account_flow.load()

    def _logged_in(self, ok: bool | None) -> None:
        if ok:
            self.account_flow.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accounts":
            return self.account_flow.can_pick(self._working_screen())
        if action == "retry":
            return self.session.account is None and self.screen is self.screen_stack[0]
        if action == "balances":
            return self.session.balances_watch is not None and isinstance(
                self._working_screen(), PositionsScreen
            )
        if action in ("ticket", "orders"):
            return self.trader is not None and isinstance(self._working_screen(), PositionsScreen)
        if action == "chart":
            return self.market is not None and isinstance(self._working_screen(), PositionsScreen)
        if action == "set_alert":
            from ibtui.tui.market_screens import chart_target

            screen = self._working_screen()
            return not is_a(screen, _ALERTS, "AlertsScreen") and chart_target(screen) is not None
        if action == "alerts":
            screen = self._working_screen()
            return self.session.account is not None and not is_a(screen, _ALERTS, "AlertsScreen")
        if action in ("search", "watchlist"):
            screen = self._working_screen()
            return (
                self.session.account is not None
                and (action == "watchlist" or self.market is not None)
                and not isinstance(screen, AccountsScreen)
                and not any(
                    is_a(screen, module, name)
                    for module, name in (
                        (_LOGIN, "LoginScreen"),
                        (_HELP, "HelpScreen"),
                        (_SEARCH, "SearchScreen"),
                        (_WATCHLIST, "WatchlistScreen"),
                    )
                )
            )
        return True

    def _working_screen(self) -> Screen[object]:
        """The screen an action applies to: the one under the command palette when it is open."""
        stack = self.screen_stack
        if isinstance(stack[-1], CommandPalette) and len(stack) > 1:
            return stack[-2]
        return stack[-1]

    def action_accounts(self) -> None:
        if self.account_flow.can_pick(self._working_screen()):
            self.account_flow.pick()

    def action_retry(self) -> None:
        self.connecting.retry_now()

    # --- orders -------------------------------------------------------------------------------
    def action_ticket(self, side: str) -> None:
        """An order ticket for the position under the cursor: ``BUY``, ``SELL`` or ``CLOSE``
        (the side and quantity that close the position)."""
        self.ticket_flow.for_position(self._working_screen(), side)

    def action_orders(self) -> None:
        """Working and recent orders of the account: cancel, modify, the kill switch, trades."""
        if self.trader is None or self.session.account is None:
            return
        if not isinstance(self._working_screen(), PositionsScreen):
            return
        from ibtui.tui.screens.orders import OrdersScreen

        watch = self.session.orders
        if watch is not None:
            self.push_screen(
                OrdersScreen(
                    self.trader,
                    self.session.account,
                    watch,
                    clock=self.clock,
                    cursor_blink=self.cursor_blink,
                )
            )

    def action_balances(self) -> None:
        """The account's balances and margin in full."""
        session = self.session
        if session.account is None or session.balances_watch is None:
            return
        if not isinstance(self._working_screen(), PositionsScreen):
            return
        from ibtui.tui.screens.account import AccountScreen

        self.push_screen(
            AccountScreen(
                session.account.account_id,
                session.balances,
                session.balances_changed,
                threshold=self.margin_warning,
                interval=session.balances_watch.interval,
            )
        )

    def on_ticket_requested(self, message: TicketRequested) -> None:
        self.ticket_flow.requested(message)

    def on_orders_updated(self, message: OrdersUpdated) -> None:
        """Fills, rejections and cancels notified wherever the trader is in the app."""
        watch = self.session.orders
        if watch is not None and message.account_id == watch.account_id:
            tell_order_news(
                self,
                message.news,
                bell=self.ring_bell,
                vanished=message.vanished,
                fills=message.fills,
            )
            balances = self.session.balances_watch
            if (message.news or message.fills) and balances is not None:  # cash and margin
                balances.refresh_soon()
            poller = self.session.poller
            filled = any(outcome == "Filled" for _, outcome in message.news)
            if poller is not None and (filled or message.fills):
                poller.refresh_positions()  # a fill (or part fill) moved a position: the list, soon
            self.alerts.fills(message.news)

    # --- alerts -------------------------------------------------------------------------------
    def on_quotes_updated(self, message: QuotesUpdated) -> None:
        """The prices the grid shows (bubbled up from the positions screen), for the alerts."""
        self.alerts.quotes(message.quotes)

    def on_positions_updated(self, message: PositionsUpdated) -> None:
        if (
            self.session.account is not None
            and message.account_id == self.session.account.account_id
        ):
            self.alerts.positions_updated(message.positions)

    def action_set_alert(self) -> None:
        """An alert on the position under the cursor, the chart's or the watchlist row's
        instrument: price above, below or crossing, % move, unrealized P&L, a fill."""
        if not set_alert_on(self, self.alerts, self._working_screen()):
            self.notify("Select an instrument first.", severity="warning", markup=False)

    def action_alerts(self) -> None:
        """Every alert: edit, pause or resume, delete."""
        from ibtui.tui.screens.alerts import AlertsScreen

        if not isinstance(self.screen, AlertsScreen):
            self.push_screen(AlertsScreen(self.alerts))

    # --- charts, symbol search, watchlist -----------------------------------------------------
    def action_chart(self) -> None:
        """A chart of the position under the cursor."""
        if self.market is not None:
            open_chart_for(self, self.market, self.watchlist, screen=self._working_screen())

    def action_search(self) -> None:
        if self.market is not None:
            open_search(self, self.market, self.watchlist)

    def action_watchlist(self) -> None:
        open_watchlist(self, self.watchlist, self.market)

    # --- quitting -----------------------------------------------------------------------------
    def action_leave(self) -> None:
        """Quit; with orders still working, say so and ask first (they stay working at IBKR)."""
        working = self.session.working_by_account()  # every account seen this run, LIVE first
        asking = [s for s in self.screen_stack if is_a(s, _QUIT, "QuitQuestion")]
        if not working or (asking and self.screen is asking[-1]):
            self.exit()  # nothing working, or ctrl+q again on the question itself
        elif not asking:
            from ibtui.tui.screens.quit import QuitQuestion

            shown = self.session.account.account_id if self.session.account else None
            self.push_screen(QuitQuestion(working, shown), self._quit_answered)

    def _quit_answered(self, quit_anyway: bool | None) -> None:
        if quit_anyway:
            self.exit()

    def action_help_quit(self) -> None:
        """ctrl+c: it does not quit (in a text box it copies), so say which key does. Textual's
        own hint looks for an action named ``quit``; ours is ``leave``."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("leave", "app.leave"):
                self.notify(
                    f"Press {key} to quit ibtui.", title="Do you want to quit?", markup=False
                )
                return

    # --- help ---------------------------------------------------------------------------------
    def action_help(self) -> None:
        from ibtui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(describe_active_bindings(self.screen)))
