"""Picking and opening an account.

Once the accounts are in (:class:`~ibtui.tui.widgets.connecting.ConnectingStatus` loads them), the
remembered account or the only one opens at once, else the trader picks one on the accounts
screen (``a`` picks another at any time). A remembered LIVE account opens too, with a red notice
that its orders are real (besides the status bar's LIVE badge): asking every start would train
the trader to press Enter without reading. Opening an account shows its positions screen and runs
the poller in the app's exclusive worker, its messages passing through ``app.session`` on their
way to the screen; with a trader, the account's one order watcher
(:mod:`ibtui.tui.order_watch`) in another; with a stream, its feed (:mod:`ibtui.tui.streaming`)
in a third, told what the trader is looking at, the poller leaving out what it covers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from textual.message import Message
from textual.screen import Screen

from ibtui.tui.balances import (
    BalancesFailed,
    BalancesSource,
    BalancesUpdated,
    BalancesWatch,
    PnlPush,
)
from ibtui.tui.controllers import exclusive, is_a
from ibtui.tui.messages import PositionsUpdated, QuotesUpdated, SessionStateChanged
from ibtui.tui.order_watch import OrdersUpdated, OrderWatch
from ibtui.tui.poller import Poller
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.streaming import StreamFeed
from ibtui.tui.viewmodels import AccountView

if TYPE_CHECKING:
    from ibtui.tui.app import IbtuiApp

__all__ = ["AccountFlow"]

_ACCOUNT = "ibtui.tui.screens.account"


class AccountFlow:
    """``app``'s accounts: ``last_account`` opens at once when available; a picked account is
    handed to ``remember_account`` (a file write, in a thread worker)."""

    def __init__(
        self,
        app: IbtuiApp,
        *,
        last_account: str | None = None,
        remember_account: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.last_account = last_account
        self.remember_account = remember_account

    def load(self) -> None:
        self.app.connecting.load(self.app.broker, self._loaded)

    def _loaded(self, accounts: list[AccountView]) -> None:
        self.app.session.accounts = accounts
        if self.app.start_notice:
            self.app.notify(self.app.start_notice, title="Clocks", timeout=20, markup=False)
            self.app.start_notice = None
        remembered = [a for a in self.app.session.accounts if a.account_id == self.last_account]
        if remembered:
            self.open(remembered[0])
            if not remembered[0].paper:  # opened without a choice this run: say it is real money
                self.app.notify(
                    f"Resumed LIVE account {remembered[0].label}: orders are real. "
                    "Press a to pick another account.",
                    title="LIVE account",
                    severity="error",
                    timeout=15,
                    markup=False,
                )
        elif len(self.app.session.accounts) == 1:
            self.open(self.app.session.accounts[0])
        else:
            self.app.action_accounts()

    def can_pick(self, screen: Screen[object]) -> bool:
        """Whether the accounts screen may open over ``screen`` (the one an action applies to)."""
        # From the positions (or the start screen) only: from the orders screen or a ticket the
        # new account's positions would open on top of them.
        return bool(self.app.session.accounts) and (
            isinstance(screen, PositionsScreen) or screen is self.app.screen_stack[0]
        )

    def pick(self) -> None:
        """The accounts screen; the account chosen on it opens."""
        session = self.app.session
        current = session.account.account_id if session.account else self.last_account
        self.app.push_screen(
            AccountsScreen(
                session.accounts,
                current=current,
                on_choose=self._remember,
                can_go_back=session.account is not None,
            ),
            self._account_chosen,
        )

    def _remember(self, account_id: str) -> None:
        self.last_account = account_id
        if self.remember_account is not None:  # a file write: off the event loop
            self.app.run_worker(
                partial(self._store_account, self.remember_account, account_id),
                name="store_account",
                group="remember",
                exclusive=True,
                exit_on_error=False,
                thread=True,
            )

    def _store_account(self, store: Callable[[str], None], account_id: str) -> None:
        try:
            store(account_id)
        except OSError as exc:
            self.app.call_from_thread(
                self.app.notify, f"Could not remember the account: {exc}", severity="warning"
            )

    def _account_chosen(self, account_id: str | None) -> None:
        session = self.app.session
        chosen = [a for a in session.accounts if a.account_id == account_id]
        if chosen and (session.account is None or chosen[0] != session.account):
            self.open(chosen[0])

    def open(self, account: AccountView) -> None:
        """Show ``account``'s positions and poll for it (replacing any previous account)."""
        app = self.app
        shown = app.screen
        app.settled_freeze.replacing(shown if isinstance(shown, PositionsScreen) else None)
        screen = PositionsScreen(
            account,
            clock=app.clock,
            poll_interval=app.poll_settings.interval,
            cursor_blink=app.cursor_blink,
            margin_warning=app.margin_warning,
            balances_interval=app.balances_seconds,
        )
        if isinstance(app.screen, PositionsScreen):
            app.switch_screen(screen)
        else:
            app.push_screen(screen)
        app.session.account = account
        app.session.positions = ()
        app.session.orders = None
        if app.trader is not None:
            app.session.orders = OrderWatch(
                app.trader,
                account.account_id,
                self._orders_seen,
                clock=app.clock,
                sleep=app.sleep,
                interval=app.order_watch_seconds,
            )
        app.session.stream = None
        if app.stream is not None:
            app.session.stream = StreamFeed(
                app.stream,
                self._via_session(screen),
                wanted=partial(self._looked_at, screen),
                orders=app.session.orders,
                pnl=self._pnl_pushed if isinstance(app.broker, BalancesSource) else None,
                clock=app.clock,
                sleep=app.sleep,
            )
            exclusive(app, app.session.stream.run, "stream", "stream", exit_on_error=False)
        exclusive(app, partial(self._poll, account, screen), "poll", "poller")
        self._watch_balances(account, screen)
        if app.session.orders is not None:
            watch = partial(self._watch_orders, app.session.orders, screen)
            exclusive(app, watch, "watch_orders", "order-watch", exit_on_error=False)
        if app.freeze_settled:
            freeze = partial(self._freeze_when_settled, screen)
            exclusive(app, freeze, "freeze_when_settled", "settle")

    def _watch_balances(self, account: AccountView, screen: PositionsScreen) -> None:
        """The account's balances, refreshed in their own worker (a broker that reads them)."""
        app, session = self.app, self.app.session
        session.balances, session.balances_changed, session.balances_watch = None, {}, None
        broker = app.broker
        if not isinstance(broker, BalancesSource):
            return

        def post(message: Message) -> bool:
            if isinstance(message, BalancesUpdated):
                session.balances, session.balances_changed = message.balances, message.changed
            if isinstance(message, BalancesUpdated | BalancesFailed):
                shown = app.screen  # the account screen, when open, follows them too
                if shown is not screen and is_a(shown, _ACCOUNT, "AccountScreen"):
                    shown.post_message(message)
            return screen.post_message(message)

        session.balances_watch = watch = BalancesWatch(
            broker,
            account.account_id,
            post,
            interval=app.balances_seconds,
            clock=app.clock,
            sleep=app.sleep,
            currency=account.base_currency or "",
        )
        exclusive(app, watch.run, "watch_balances", "balances", exit_on_error=False)

    def _pnl_pushed(self, rows: Sequence[PnlPush]) -> None:
        """The stream's P&L, to the account's balances (laid over their last refresh)."""
        watch = self.app.session.balances_watch
        if watch is not None:
            watch.pushed(rows)

    async def _freeze_when_settled(self, screen: PositionsScreen) -> None:
        app = self.app
        await app.settled_freeze.when_settled(screen, lambda: screen in app.screen_stack)

    def _looked_at(self, screen: PositionsScreen) -> list[int]:
        """What the trader is looking at, most wanted first: an open ticket's or chart's
        instrument, the rows on screen, the watchlist."""
        watchlist = self.app.watchlist
        return [*watchlist.held(), *screen.conids_in_view(), *watchlist.conids()]

    async def _poll(self, account: AccountView, screen: PositionsScreen) -> None:
        app = self.app
        feed = app.session.stream
        app.session.poller = poller = Poller(
            app.broker,
            account.account_id,
            self._via_session(screen, feed),
            settings=app.poll_settings,
            clock=app.clock,
            sleep=app.sleep,
            watched=lambda: [*app.watchlist.polled(), *app.alerts.conids()],
            first=screen.conids_in_view,
            streamed=None if feed is None else feed.streamed,
        )
        await poller.run()

    def _via_session(
        self, screen: PositionsScreen, feed: StreamFeed | None = None
    ) -> Callable[[Message], bool]:
        """The poller's (or the stream's) messages on their way to ``screen``: the session keeps
        the positions and the brokerage session's state first; with a ``feed``, a poll's quotes
        of what it streams are left out (one source of truth per instrument)."""

        def post(message: Message) -> bool:
            if feed is not None and isinstance(message, QuotesUpdated):
                polled = feed.polled(message)
                if polled is None:
                    return True
                message = polled
            if isinstance(message, PositionsUpdated):
                self.app.session.positions = message.positions
            elif isinstance(message, SessionStateChanged):
                self.app.competing_login.changed(message.state)
                watch = self.app.session.orders
                if message.state.healthy and watch is not None:
                    watch.session_back()
            return screen.post_message(message)

        return post

    def _orders_seen(self, update: OrdersUpdated) -> bool:
        """A poll of the order watch on its way to the app: the session keeps each account's
        working orders first (quitting asks about every account's, not only the one shown)."""
        if update.orders is not None:
            self.app.session.saw_orders(update.account_id, update.orders)
        return self.app.post_message(update)

    async def _watch_orders(self, watch: OrderWatch, first: PositionsScreen | None = None) -> None:
        """The account's one order watcher (:mod:`ibtui.tui.order_watch`). The first read (the
        baseline: nothing is told from it) waits until the ``first`` positions screen shows
        prices, for at most one poll: the positions come first."""
        if first is not None:
            wait = min(self.app.poll_settings.interval, watch.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(first.priced.wait(), wait)
        await watch.run()
