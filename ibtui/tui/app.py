"""``IbtuiApp``: wiring only — screens, global keys, the command palette, the poller's worker.

The flow: login (skipped without a :class:`~ibtui.tui.protocols.LoginFlow`) → accounts (skipped when
the remembered account or the only account is available) → positions, with the poller running in
an exclusive worker that posts to the positions screen. ``a`` goes back to the account picker at
any time, ``?`` lists the keys, ``ctrl+p`` offers every action by name.

Only the screens of that flow are imported at start; the others (orders, ticket, chart, search,
watchlist, help, lock, ...) when first opened, so that the first positions come sooner. Checks
whether such a screen is shown skip the import when its module has not been imported yet (no
screen of it can exist then).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Static

from ibtui.text import clean_text
from ibtui.tui import keymap as ids
from ibtui.tui import textual_compat
from ibtui.tui.commands import ActionsProvider
from ibtui.tui.key_order import KeyOrder
from ibtui.tui.keymap import KeymapProblem, apply_keymap, binding_ids, describe_active_bindings
from ibtui.tui.market import MarketData, MarketDataError, TicketRequested, Watchlist
from ibtui.tui.market_screens import (
    SymbolSearchProvider,
    open_chart_for,
    open_search,
    open_watchlist,
)
from ibtui.tui.poller import Poller, PollSettings
from ibtui.tui.protocols import Broker, LoginFlow
from ibtui.tui.screens.accounts import AccountsScreen, AccountTable
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.viewmodels import AccountView, PositionView, SessionState
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.positions_grid import PositionsGrid
from ibtui.tui.widgets.positions_table import PositionsTable

if TYPE_CHECKING:
    from ibtui.trading import SubmitOutcome
    from ibtui.tui.screens.orders import OrdersScreen
    from ibtui.tui.screens.question import QuestionScreen
    from ibtui.tui.trading import OrderView, Trader

__all__ = ["IbtuiApp", "console_runtime", "run_app"]

ACCOUNTS_RETRY_SECONDS = 5.0
ACCOUNTS_RETRY_MAX = 60.0
_ACTIVITY = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)
ORDER_WATCH_SECONDS = 5.0  # IBKR's live-orders pacing: one request every 5 s
# How long the event loop may hold the GIL while Textual's output thread waits for it (Python's
# default is 5 ms, and a frame's write waits for it several times: for the queue, after the write,
# for the flush); see run_app.
OUTPUT_SWITCH_INTERVAL = 0.001
# Seconds after an account's first prices are shown at which what the console holds is frozen out
# of the cyclic garbage collector's walks (see IbtuiApp._freeze_when_settled).
SETTLE_SECONDS = 2.0
SETTLE_TRIES = 15  # waits of SETTLE_SECONDS for a replaced account's screen to be freed
_SCREENS = (Path(__file__).parent / "screens").resolve()
_LOGIN = "ibtui.tui.screens.login"
_LOCK = "ibtui.tui.screens.lock"
_HELP = "ibtui.tui.screens.help"
_ORDERS = "ibtui.tui.screens.orders"
_COMPETING = "ibtui.tui.screens.competing"
_SEARCH = "ibtui.tui.screens.search"
_WATCHLIST = "ibtui.tui.screens.watchlist"


def _is_a(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: nothing is an instance of
    a class whose module has not been imported."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


def binding_classes() -> tuple[type, ...]:
    """Every class whose bindings the keymap may remap (imports every screen)."""
    from ibtui.tui.screens.chart import ChartScreen
    from ibtui.tui.screens.competing import CompetingSessionScreen
    from ibtui.tui.screens.help import HelpScreen
    from ibtui.tui.screens.lock import LockScreen
    from ibtui.tui.screens.login import LoginScreen
    from ibtui.tui.screens.modify import ModifyScreen
    from ibtui.tui.screens.orders import OrdersScreen
    from ibtui.tui.screens.question import QuestionScreen
    from ibtui.tui.screens.search import SearchScreen
    from ibtui.tui.screens.ticket import TicketScreen
    from ibtui.tui.screens.watchlist import WatchlistScreen
    from ibtui.tui.widgets.blotter import BlotterTable

    return (
        LoginScreen,
        AccountsScreen,
        AccountTable,
        PositionsTable,
        PositionsGrid,
        PositionsScreen,
        TicketScreen,
        OrdersScreen,
        BlotterTable,
        ModifyScreen,
        QuestionScreen,
        ChartScreen,
        SearchScreen,
        WatchlistScreen,
        LockScreen,
        CompetingSessionScreen,
        HelpScreen,
    )


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
    ) -> None:
        super().__init__()
        self.market = market  # charts and symbol search (the palette's provider reads it too)
        self.watchlist = watchlist if watchlist is not None else Watchlist()
        self.idle_lock_minutes = idle_lock_minutes
        self._last_input = clock()
        self.ring_bell = bell
        self.order_watch_seconds = ORDER_WATCH_SECONDS
        self.working_orders: list[OrderView] = []  # as the order watcher last saw them
        self._quit_question: QuestionScreen | None = None
        self._retry_now = asyncio.Event()
        self.key_order = KeyOrder(self, super().on_event)
        self.broker = broker
        self.poller: Poller | None = None  # the current account's
        self.session_state = SessionState.CONNECTING  # as the poller last reported it
        self.cursor_blink = cursor_blink
        self.login_flow = login
        self.trader = trader
        self.poll_settings = poll or PollSettings()
        self.clock = clock
        self.sleep = sleep
        self.last_account = last_account
        self.remember_account = remember_account
        self.accounts: list[AccountView] = []
        self.account: AccountView | None = None
        self.freeze_settled = freeze_settled  # run_app's console: see _freeze_when_settled
        self._frozen = False
        self._replaced: weakref.ref[PositionsScreen] | None = None  # the last account's screen
        # Checking the keymap's ids needs every screen's bindings: only when there is one.
        known = binding_ids((type(self), *binding_classes())) if keymap else set()
        self.keymap_problems: list[KeymapProblem] = apply_keymap(self, keymap or {}, known)
        if theme and theme in self.available_themes:
            self.theme = theme
        elif theme:
            self.keymap_problems.append(KeymapProblem("theme", f"unknown theme {theme!r}"))

    def compose(self) -> ComposeResult:
        yield Static("Connecting to IBKR…", id="connecting", markup=False)
        yield Footer()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, _ACTIVITY):  # the idle lock's clock restarts on any input
            self._last_input = self.clock()
        if isinstance(event, events.Key) and not event.is_forwarded:  # from the driver
            await self.key_order.receive(event)  # in the order typed (ibtui/tui/key_order.py)
            return
        await super().on_event(event)

    def on_key_order_settled(self, message: KeyOrder.Settled) -> None:
        self.key_order.settled(message)

    def _check_idle(self) -> None:
        locked = any(_is_a(s, _LOCK, "LockScreen") for s in self.screen_stack)
        if self.idle_lock_minutes <= 0 or locked:
            return
        if self.clock() - self._last_input >= self.idle_lock_minutes * 60:
            from ibtui.tui.screens.lock import LockScreen

            account = self.account.account_id if self.account else None
            self.push_screen(LockScreen(self.idle_lock_minutes, account), self._unlocked)

    def _unlocked(self, _: None) -> None:
        self.session_changed(self.session_state)  # what happened while it was locked

    def on_mount(self) -> None:
        if self.idle_lock_minutes > 0:
            self.set_interval(1.0, self._check_idle)
        for problem in self.keymap_problems:
            self.notify(str(problem), severity="warning", timeout=10, markup=False)
        if self.login_flow is not None:
            from ibtui.tui.screens.login import LoginScreen

            login = LoginScreen(self.login_flow, cursor_blink=self.cursor_blink)
            self.push_screen(login, self._logged_in)
        else:
            self.load_accounts()

    def _logged_in(self, ok: bool | None) -> None:
        if ok:
            self.load_accounts()

    # --- accounts -----------------------------------------------------------------------------
    @work(exclusive=True, group="accounts")
    async def load_accounts(self) -> None:
        status = self.query_one("#connecting", Static)
        delay = ACCOUNTS_RETRY_SECONDS
        while True:
            self._retry_now.clear()
            try:
                self.accounts = list(await self.broker.accounts())
                break
            except Exception as exc:  # shown; retried until it works or the user quits
                problem = f"Could not connect to IBKR: {clean_text(str(exc))}"
                if getattr(exc, "needs_attention", False):  # retrying cannot cure it
                    status.update(f"{problem}\n\nFix that, then press r to try again.")
                    await self._retry_now.wait()
                    continue
                for left in range(max(1, round(delay)), 0, -1):  # a visible countdown
                    status.update(f"{problem}\n\nRetrying in {left} s (r: now).")
                    try:
                        await asyncio.wait_for(self._retry_now.wait(), 1.0)
                        break
                    except TimeoutError:
                        pass
                delay = min(delay * 2, ACCOUNTS_RETRY_MAX)
            status.update("Connecting to IBKR…")
        status.update("Connected.")
        remembered = [a for a in self.accounts if a.account_id == self.last_account]
        if remembered:
            self.open_account(remembered[0])
        elif len(self.accounts) == 1:
            self.open_account(self.accounts[0])
        else:
            self.action_accounts()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "accounts":
            return self._can_pick_account()
        if action == "retry":
            return self.account is None and self.screen is self.screen_stack[0]
        if action in ("ticket", "orders"):
            return self.trader is not None and isinstance(self._working_screen(), PositionsScreen)
        if action == "chart":
            return self.market is not None and isinstance(self._working_screen(), PositionsScreen)
        if action in ("search", "watchlist"):
            screen = self._working_screen()
            return (
                self.account is not None
                and (action == "watchlist" or self.market is not None)
                and not isinstance(screen, AccountsScreen)
                and not any(
                    _is_a(screen, module, name)
                    for module, name in (
                        (_LOGIN, "LoginScreen"),
                        (_HELP, "HelpScreen"),
                        (_SEARCH, "SearchScreen"),
                        (_WATCHLIST, "WatchlistScreen"),
                    )
                )
            )
        return True

    def _can_pick_account(self) -> bool:
        # From the positions (or the start screen) only: from the orders screen or a ticket the
        # new account's positions would open on top of them.
        screen = self._working_screen()
        return bool(self.accounts) and (
            isinstance(screen, PositionsScreen) or screen is self.screen_stack[0]
        )

    def _working_screen(self) -> Screen[object]:
        """The screen an action applies to: the one under the command palette when it is open."""
        stack = self.screen_stack
        if isinstance(stack[-1], CommandPalette) and len(stack) > 1:
            return stack[-2]
        return stack[-1]

    def action_accounts(self) -> None:
        if not self._can_pick_account():
            return
        current = self.account.account_id if self.account else self.last_account
        self.push_screen(
            AccountsScreen(
                self.accounts,
                current=current,
                on_choose=self._remember,
                can_go_back=self.account is not None,
            ),
            self._account_chosen,
        )

    def _remember(self, account_id: str) -> None:
        self.last_account = account_id
        if self.remember_account is not None:  # a file write: off the event loop
            self._store_account(self.remember_account, account_id)

    @work(thread=True, exclusive=True, group="remember", exit_on_error=False)
    def _store_account(self, store: Callable[[str], None], account_id: str) -> None:
        try:
            store(account_id)
        except OSError as exc:
            self.call_from_thread(
                self.notify, f"Could not remember the account: {exc}", severity="warning"
            )

    def _account_chosen(self, account_id: str | None) -> None:
        chosen = [a for a in self.accounts if a.account_id == account_id]
        if chosen and (self.account is None or chosen[0] != self.account):
            self.open_account(chosen[0])

    def open_account(self, account: AccountView) -> None:
        """Show ``account``'s positions and poll for it (replacing any previous account)."""
        if self._frozen:  # the previous account's screen is collected once it is gone
            gc.unfreeze()
            self._frozen = False
        if isinstance(self.screen, PositionsScreen):
            self._replaced = weakref.ref(self.screen)
        screen = PositionsScreen(
            account,
            clock=self.clock,
            poll_interval=self.poll_settings.interval,
            cursor_blink=self.cursor_blink,
        )
        if isinstance(self.screen, PositionsScreen):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)
        self.account = account
        self.poll(account, screen)
        if self.trader is not None:
            self.watch_orders(account, self.trader, screen)
        if self.freeze_settled:
            self._freeze_when_settled(screen)

    @work(exclusive=True, group="settle")
    async def _freeze_when_settled(self, screen: PositionsScreen) -> None:
        """Once an account's first prices are shown and its screen has settled, collect the
        garbage once and freeze what is left (``gc.freeze``): the collector no longer walks it.

        With 1,000 positions the console holds about 100,000 objects that live as long as the
        account is shown (rows, cells, widgets, caches). Each full collection walked them all
        (about 50 ms, every twenty ticks or so) and each middle-generation collection many of
        them: frozen, a tick's collections take about half as long. Opening another account
        unfreezes them (:meth:`open_account`), and nothing is frozen while the replaced screen
        is still held (its workers end a moment after it is gone): frozen, its cycles would never
        be freed. A replaced screen still held after ``SETTLE_TRIES`` waits is held for good: then
        nothing is frozen, rather than collecting everything every ``SETTLE_SECONDS``."""
        await screen.priced.wait()
        for _ in range(SETTLE_TRIES):  # then it is held for good: nothing is frozen
            await self.sleep(SETTLE_SECONDS)
            if screen not in self.screen_stack:
                return
            gc.collect()
            if self._replaced is None or self._replaced() is None:
                self._replaced = None
                gc.freeze()
                self._frozen = True
                return

    @work(exclusive=True, group="poller")
    async def poll(self, account: AccountView, screen: PositionsScreen) -> None:
        self.poller = poller = Poller(
            self.broker,
            account.account_id,
            screen.post_message,
            settings=self.poll_settings,
            clock=self.clock,
            sleep=self.sleep,
            watched=self.watchlist.polled,
            first=screen.conids_in_view,
        )
        await poller.run()

    def action_retry(self) -> None:
        self._retry_now.set()

    # --- a competing login --------------------------------------------------------------------
    def session_changed(self, state: SessionState) -> None:
        """The poller's view of the brokerage session: another login holding it gets a screen
        that says so and offers to take it back; it closes itself when the session is back."""
        self.session_state = state
        if _is_a(self.screen, _LOCK, "LockScreen"):
            return  # shown when unlocked: nothing is offered to whoever passes the terminal
        shown = [s for s in self.screen_stack if _is_a(s, _COMPETING, "CompetingSessionScreen")]
        if state is SessionState.COMPETING and not shown:
            from ibtui.tui.screens.competing import CompetingSessionScreen

            self.push_screen(CompetingSessionScreen(), self._competing_answered)
        elif state.healthy and shown and self.screen is shown[-1]:
            shown[-1].dismiss(False)

    def _competing_answered(self, take_back: bool | None) -> None:
        if take_back and self.poller is not None:
            self.poller.take_back()
            self.notify("Taking the brokerage session back…", title="IBKR", timeout=4, markup=False)

    # --- orders -------------------------------------------------------------------------------
    def action_ticket(self, side: str) -> None:
        """An order ticket for the position under the cursor: ``BUY``, ``SELL`` or ``CLOSE``
        (the side and quantity that close the position)."""
        screen = self._working_screen()
        if self.trader is None or not isinstance(screen, PositionsScreen):
            return
        view = screen.table.selected_view()
        if view is None:
            self.notify("No position selected.", severity="warning", markup=False)
            return
        from ibtui.trading import Side, TicketType
        from ibtui.tui.screens.ticket import TicketScreen

        closing = Side.SELL if view.quantity > 0 else Side.BUY
        chosen = closing if side == "CLOSE" else Side(side)
        quote = screen.quotes.get(view.conid)

        ticket = TicketScreen(
            self.trader,
            screen.account,
            conid=view.conid,
            symbol=view.symbol,
            description=view.description,
            side=chosen,
            quantity=abs(view.quantity) if chosen is closing else None,
            kind=TicketType.LMT,
            limit_price=quote.last if quote is not None else view.last,
            currency=view.currency,
            quote=quote,
            cursor_blink=self.cursor_blink,
        )
        self.push_screen(ticket, self._ticket_done)

    def action_orders(self) -> None:
        """Working and recent orders of the account: cancel, modify, the kill switch, trades."""
        if self.trader is None or self.account is None:
            return
        if not isinstance(self._working_screen(), PositionsScreen):
            return
        from ibtui.tui.screens.orders import OrdersScreen

        self.push_screen(
            OrdersScreen(
                self.trader,
                self.account,
                clock=self.clock,
                bell=self.ring_bell,
                cursor_blink=self.cursor_blink,
            )
        )

    def on_ticket_requested(self, message: TicketRequested) -> None:
        """An order ticket for an instrument on the chart, search or watchlist screen, in the
        instrument's currency: a held position's, else IBKR's contract details'."""
        if self.trader is None or self.account is None:
            self.notify(
                "Trading is not available in this session.", severity="warning", markup=False
            )
            return
        if self.market is not None and not self._held(message.conid):
            self._ticket_in_its_currency(message)
        else:
            self._open_ticket(message, None)

    def _held(self, conid: int) -> list[PositionView]:
        return [
            view
            for screen in self.screen_stack
            if isinstance(screen, PositionsScreen)
            for view in screen.table.views.values()
            if view.conid == conid
        ]

    @work(exclusive=True, group="ticket-currency", exit_on_error=False)
    async def _ticket_in_its_currency(self, message: TicketRequested) -> None:
        assert self.market is not None
        try:
            currency = await asyncio.wait_for(self.market.currency(message.conid), 10.0)
        except (MarketDataError, TimeoutError) as exc:
            currency = None
            self.notify(
                f"The currency of {message.symbol} is not known ({exc or 'no answer'}); the "
                "ticket shows amounts without it. The preview shows IBKR's.",
                severity="warning",
                timeout=6,
                markup=False,
            )
        self._open_ticket(message, currency or "")

    def _open_ticket(self, message: TicketRequested, currency: str | None) -> None:
        if self.trader is None or self.account is None:
            return
        from ibtui.trading import Side, TicketType
        from ibtui.tui.screens.ticket import TicketScreen

        quote = message.quote
        held = self._held(message.conid)
        side = Side(message.side)
        closing = bool(held) and (held[0].quantity > 0) == (side is Side.SELL)

        ticket = TicketScreen(
            self.trader,
            self.account,
            conid=message.conid,
            symbol=message.symbol,
            description=message.description,
            side=side,
            quantity=abs(held[0].quantity) if closing else None,
            kind=TicketType.LMT,
            limit_price=quote.last if quote is not None else None,
            currency=held[0].currency if held else currency if currency is not None else "USD",
            quote=quote,
            cursor_blink=self.cursor_blink,
        )
        self.push_screen(ticket, self._ticket_done)

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

    def _ticket_done(self, result: SubmitOutcome | None) -> None:
        if result is not None:
            self.notify(result.message, title="Order sent", timeout=8, markup=False)

    @work(exclusive=True, group="order-watch", exit_on_error=False)
    async def watch_orders(
        self, account: AccountView, trader: Trader, first: PositionsScreen | None = None
    ) -> None:
        """Fills, rejections and cancels notified wherever the trader is in the app, and a
        working order IBKR stops listing without a final state (a server restart drops them).

        While the orders screen is open it polls and notifies itself; this loop pauses and
        then carries on from that screen's last view, so nothing is told twice or missed.
        The first read (the baseline: nothing is told from it but the outcome of an order sent
        from here meanwhile) waits until the ``first`` positions screen shows prices, for at
        most one poll: the positions come first.
        """
        from ibtui.tui.trading import VanishedOrders

        known: dict[int, OrderView] | None = None
        vanished = VanishedOrders()  # working orders IBKR stopped listing (a server restart)
        started = self.clock()
        orders_screen: OrdersScreen | None = None
        if first is not None:
            wait = min(self.poll_settings.interval, self.order_watch_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first.priced.wait(), wait)
        while True:
            shown = self._orders_screen()
            if shown is not None:
                orders_screen = shown
                await asyncio.sleep(self.order_watch_seconds)
                continue
            if orders_screen is not None:
                if orders_screen.loaded:
                    known = dict(orders_screen.orders)
                    self.working_orders = [o for o in known.values() if o.working]
                orders_screen = None
            try:
                fresh = {o.order_id: o for o in await trader.orders(account.account_id)}
            except Exception:  # the status bar shows connection trouble; try again later
                await asyncio.sleep(2 * self.order_watch_seconds)
                continue
            self._notify_order_news(known, fresh, started)
            for order in vanished.update(known, fresh):
                self._notify_vanished(order)
            known = fresh
            self.working_orders = [o for o in fresh.values() if o.working]
            await asyncio.sleep(self.order_watch_seconds)

    def _orders_screen(self) -> OrdersScreen | None:
        """The orders screen on the stack, if any."""
        if _ORDERS not in sys.modules:
            return None  # never opened
        from ibtui.tui.screens.orders import OrdersScreen

        return next((s for s in self.screen_stack if isinstance(s, OrdersScreen)), None)

    def _notify_vanished(self, order: OrderView) -> None:
        from ibtui.tui.widgets.blotter import describe_order

        self.notify(
            f"Order {order.order_id} ({describe_order(order)}) was working and IBKR no longer "
            "lists it: it may have been dropped. Check it before trading on.",
            title="Orders",
            severity="error",
            markup=False,
        )
        if self.ring_bell:
            self.bell()

    def _notify_order_news(
        self, known: dict[int, OrderView] | None, fresh: dict[int, OrderView], since: float
    ) -> None:
        """Notify what changed from ``known`` to ``fresh`` (``known`` None: ``fresh`` is the
        first read, where only an order sent from here is news)."""
        from ibtui.tui.widgets.blotter import order_outcome, outcome_notice

        rang = False
        for order in fresh.values():
            outcome = order_outcome(order.status)
            if outcome is None or (known is None and not order.placed_here):
                continue
            before = None if known is None else known.get(order.order_id)
            if before is not None and order_outcome(before.status) == outcome:
                continue
            stamped_before = order.updated_at is None or order.updated_at < since
            if before is None and stamped_before and not order.placed_here:
                continue  # finished before ibtui started watching (and not sent from here)
            severity: SeverityLevel = (
                "information"
                if outcome == "Filled"
                else "error"
                if outcome == "Rejected"
                else "warning"
            )
            self.notify(
                outcome_notice(order, outcome), title="Orders", severity=severity, markup=False
            )
            if self.ring_bell and not rang:
                self.bell()
                rang = True

    # --- quitting -----------------------------------------------------------------------------
    def action_leave(self) -> None:
        """Quit; with orders still working, say so and ask first (they stay working at IBKR)."""
        working = self._working_orders_now()
        if not working or (self._quit_question is not None and self.screen is self._quit_question):
            self.exit()  # nothing working, or ctrl+q again on the question itself
            return
        if self._quit_question is not None and self._quit_question in self.screen_stack:
            return
        from ibtui.tui.screens.question import QuestionScreen
        from ibtui.tui.trading import QuestionView
        from ibtui.tui.widgets.blotter import describe_order

        account = self.account.account_id if self.account else "the account"
        lines = [f"{len(working)} order(s) are still working on {account}:"]
        lines += [f"  {describe_order(o)}" for o in working[:8]]
        if len(working) > 8:
            lines.append(f"  … and {len(working) - 8} more")
        lines.append("They stay working at IBKR after ibtui quits. Quit anyway?")
        question = QuestionScreen(
            QuestionView("\n".join(lines)),
            title="Orders are working",
            confirm_label="Quit",
            reject_label="Stay",
        )
        self._quit_question = question

        def answered(quit_anyway: bool | None) -> None:
            self._quit_question = None
            if quit_anyway:
                self.exit()

        self.push_screen(question, answered)

    def action_help_quit(self) -> None:
        """ctrl+c: it does not quit (in a text box it copies), so say which key does. Textual's
        own hint looks for an action named ``quit``; ours is ``leave``."""
        for key, active in self.active_bindings.items():
            if active.binding.action in ("leave", "app.leave"):
                self.notify(
                    f"Press {key} to quit ibtui.", title="Do you want to quit?", markup=False
                )
                return

    def _working_orders_now(self) -> list[OrderView]:
        shown = self._orders_screen()
        if shown is not None and shown.loaded:
            return [o for o in shown.orders.values() if o.working]
        return self.working_orders

    # --- help ---------------------------------------------------------------------------------
    def action_help(self) -> None:
        from ibtui.tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(describe_active_bindings(self.screen)))


def run_app(
    broker: Broker,
    *,
    login: LoginFlow | None = None,
    trader: Trader | None = None,
    keymap: Mapping[str, str] | None = None,
    poll_interval: float = 2.0,
    last_account: str | None = None,
    remember_account: Callable[[str], None] | None = None,
    theme: str | None = None,
    bell: bool = True,
    idle_lock_minutes: float = 0,
    market: MarketData | None = None,
    watchlist: Watchlist | None = None,
) -> int:
    """Run the console until the user quits, in the :func:`console_runtime` and freezing what
    an account's screen holds once it has settled (``IbtuiApp._freeze_when_settled``); the exit
    code for the command line. Textual's patches (:mod:`ibtui.tui.textual_compat`) are applied
    here, once, and the app writes through the terminal writer."""
    textual_compat.apply_patches()
    app = IbtuiApp(
        broker,
        login=login,
        trader=trader,
        keymap=keymap,
        poll=PollSettings(interval=poll_interval),
        last_account=last_account,
        remember_account=remember_account,
        theme=theme,
        bell=bell,
        idle_lock_minutes=idle_lock_minutes,
        market=market,
        watchlist=watchlist,
        freeze_settled=True,
    )
    textual_compat.install(app)
    with console_runtime():
        app.run()
    return app.return_code or 0


@contextlib.contextmanager
def console_runtime() -> Iterator[None]:
    """The interpreter's settings while the console runs; the previous ones are back afterwards.

    Python hands the GIL to a waiting thread after ``OUTPUT_SWITCH_INTERVAL`` instead of 5 ms:
    Textual writes each frame from a thread of its own, which took the GIL back from a busy event
    loop two or three times a frame, so a frame reached the terminal 5-20 ms after it was drawn
    (the account picker at start, each tick's prices). The threads that ask for the GIL
    (Textual's output and input threads) are idle otherwise, so this costs nothing while nothing
    is written.

    The cyclic garbage collector keeps Python's thresholds: a young threshold of 10,000 cut a
    1,000-position tick's collections from about 7 ms to 1 ms, but in a ten-minute run with
    5,000 positions the memory then grew by 5 MB a minute (0.02 MB with Python's)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, OUTPUT_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
