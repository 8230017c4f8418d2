"""Wiring between the IBKR client and the console: the ``Broker`` and ``LoginFlow`` the screens use,
``ibtui run`` (the console on IBKR, or on ``ibtui sim`` via ``--config``) and ``ibtui demo`` (the
console on the embedded simulator).

The order service (``ibtui.console_trading`` and ``ibtui.trading``), the credentials files and the
third-party login are imported when first used: the first positions need none of them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ibtui.console_market import ClientMarketData, StateWatchlistStore
from ibtui.demo import DemoEnvironment, build_demo
from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.connect import Connection, Recovery, connect
from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.session import AccessCredentials, Consumer
from ibtui.paths import default_state_dir
from ibtui.state import StateStore
from ibtui.tui.convert import account_view, fx_rates, position_view, quote_view
from ibtui.tui.market import Watchlist
from ibtui.tui.protocols import LoginPrompt, LoginStep, Progress
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, SessionState

if TYPE_CHECKING:
    from ibtui.config import OrderSettings, Settings
    from ibtui.console_trading import ClientTrader
    from ibtui.ibkr.login import RequestToken
    from ibtui.tui.trading import (
        Ask,
        CancelAllResult,
        OrderDraft,
        OrderView,
        PreviewView,
        SubmitResult,
        TicketCheck,
        Trader,
        TradeView,
    )

__all__ = ["ClientBackend", "DeferredTrader", "backend_from_settings", "main", "run_main"]


class ClientBackend:
    """Implements the console's ``Broker`` and ``LoginFlow`` over :class:`IbkrClient`."""

    def __init__(
        self,
        base_url: str,
        consumer: Consumer,
        *,
        access: AccessCredentials | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        demo: DemoEnvironment | None = None,
        save_access: Callable[[AccessCredentials], None] | None = None,
        clock: Callable[[], float] = time.time,
        state_dir: Path | None = None,
    ) -> None:
        self._state_dir = state_dir  # IBKR's pacing shared with other ibtui processes there
        self._base_url = base_url
        self._consumer = consumer
        self._access = access
        self._transport = transport
        self._demo = demo
        self._save_access = save_access
        self._clock = clock
        self._conn: Connection | None = None
        self._started = False
        self._request: RequestToken | None = None
        self._accounts: dict[str, AccountView] = {}
        self._stale_positions: set[str] = set()  # accounts with orders since the last read
        self._session_listener: Callable[[SessionState], None] | None = None

    @property
    def needs_login(self) -> bool:
        return self._access is None

    # --- LoginFlow -----------------------------------------------------------------------

    async def start(self) -> LoginPrompt:
        from ibtui.ibkr.login import ThirdPartyLogin

        async with httpx.AsyncClient(transport=self._transport) as http:
            login = ThirdPartyLogin(http, self._base_url, self._consumer, clock=self._clock)
            self._request = await login.request_token()
        hint = None
        if self._demo is not None:
            verifier = self._demo.demo_verifier(self._request.token)
            hint = f"Demo: the simulated IBKR page shows the verifier {verifier}"
        return LoginPrompt(self._request.authorize_url, hint)

    async def complete(self, verifier: str, progress: Progress) -> None:
        if self._request is None:
            await self.start()
        assert self._request is not None
        progress(LoginStep.ACCESS_TOKEN)
        from ibtui.ibkr.login import ThirdPartyLogin

        async with httpx.AsyncClient(transport=self._transport) as http:
            login = ThirdPartyLogin(http, self._base_url, self._consumer, clock=self._clock)
            access = await login.access_token(self._request, verifier)
        self._access = access
        if self._save_access is not None:
            self._save_access(access)
        progress(LoginStep.LIVE_SESSION_TOKEN)
        conn = self._connection()
        await conn.session.current_lst()
        progress(LoginStep.BROKERAGE_SESSION)
        await self._ensure_started()

    # --- Broker ----------------------------------------------------------------------------

    def _connection(self) -> Connection:
        if self._access is None:
            raise IbkrError("Not logged in: complete the authorization first.")
        if self._conn is None:
            pacer = None
            if self._state_dir is not None:
                from ibtui.ibkr.pacing import Pacer, SharedPacing

                shared = SharedPacing.for_user(
                    self._state_dir, self._consumer.consumer_key, self._access.access_token
                )
                pacer = Pacer(shared=shared)
            self._conn = connect(
                self._base_url,
                self._consumer,
                self._access,
                transport=self._transport,
                clock=self._clock,
                pacer=pacer,
            )
            self._conn.client.gate.listen(self._reconnecting)
        return self._conn

    def watch_session(self, listener: Callable[[SessionState], None] | None) -> None:
        """Tell ``listener`` when a lost brokerage session is being reopened and when it works
        again (the status bar's "reconnecting…", then "connected")."""
        self._session_listener = listener

    def _reconnecting(self, reconnecting: bool) -> None:
        if self._session_listener is not None:
            state = SessionState.RECONNECTING if reconnecting else SessionState.CONNECTED
            self._session_listener(state)

    async def _ensure_started(self) -> Connection:
        conn = self._connection()
        if not self._started:
            await conn.start()
            self._started = True
        return conn

    async def client(self) -> IbkrClient:
        """The connected client (the order service's way in)."""
        return (await self._ensure_started()).client

    def is_paper(self, account_id: str) -> bool | None:
        account = self._accounts.get(account_id)
        return None if account is None else account.paper

    def trader(self, settings: OrderSettings, state_dir: Path) -> ClientTrader:
        """Trading for the screens, journaled in ``state_dir``."""
        from ibtui.console_trading import ClientTrader
        from ibtui.trading.journal import Journal, journal_path

        return ClientTrader(
            self.client,
            Journal(journal_path(state_dir)),
            settings,
            is_paper=self.is_paper,
            on_change=self._positions_changed,
        )

    def _positions_changed(self, account_id: str) -> None:
        self._stale_positions.add(account_id)

    async def accounts(self) -> Sequence[AccountView]:
        conn = await self._ensure_started()
        views = [account_view(a) for a in await conn.client.accounts()]
        self._accounts = {v.account_id: v for v in views}
        return views

    async def select_account(self, account_id: str) -> None:
        conn = await self._ensure_started()
        if len(self._accounts) > 1:
            await conn.client.switch_account(account_id)

    async def positions(self, account_id: str) -> Sequence[PositionView]:
        conn = await self._ensure_started()
        # After an order IBKR's cached positions are stale: ask it to rebuild them once.
        stale = account_id in self._stale_positions
        self._stale_positions.discard(account_id)
        positions = await conn.client.positions(account_id, invalidate=stale)
        base = self._accounts.get(account_id)
        currency = base.base_currency if base else None
        rates: dict[str, Decimal] = {}
        if any(p.currency and p.currency != currency for p in positions):
            rates = fx_rates(await conn.client.ledger(account_id))
        return [position_view(p, currency, rates) for p in positions]

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        conn = await self._ensure_started()
        quotes = await conn.client.snapshot(list(conids))
        received = self._clock()
        return [quote_view(q, received) for q in quotes if not q.is_warmup]

    async def keep_alive(self, *, take_back: bool = False) -> SessionState:
        """Tickle; a lost or competing brokerage session is reopened by the connection."""
        conn = await self._ensure_started()
        result = await conn.keep_alive(take_back=take_back)
        if result.healthy:
            return SessionState.CONNECTED
        status = result.status
        if result.recovery is Recovery.COMPETING or (status is not None and status.competing):
            return SessionState.COMPETING
        if status is None or not status.connected:
            return SessionState.NO_BRIDGE
        return SessionState.DISCONNECTED

    def lst_expires_at(self) -> float | None:
        if self._conn is None or self._conn.session.lst is None:
            return None
        return self._conn.session.lst.expires_at

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.aclose()


class DeferredTrader:
    """A :class:`~ibtui.tui.trading.Trader` made by ``make`` when first used: the console starts
    without importing the order service, which its first screens do not use."""

    def __init__(self, make: Callable[[], Trader]) -> None:
        self._make = make
        self._trader: Trader | None = None

    @property
    def trader(self) -> Trader:
        if self._trader is None:
            self._trader = self._make()
        return self._trader

    def check(self, draft: OrderDraft, quote: QuoteView | None) -> TicketCheck:
        return self.trader.check(draft, quote)

    async def preview(self, draft: OrderDraft) -> PreviewView:
        return await self.trader.preview(draft)

    async def submit(
        self,
        draft: OrderDraft,
        ask: Ask,
        *,
        confirmation: str | None = None,
        quote: QuoteView | None = None,
    ) -> SubmitResult:
        return await self.trader.submit(draft, ask, confirmation=confirmation, quote=quote)

    async def orders(self, account_id: str) -> Sequence[OrderView]:
        return await self.trader.orders(account_id)

    async def trades(self, account_id: str) -> Sequence[TradeView]:
        return await self.trader.trades(account_id)

    async def cancel(self, account_id: str, order_id: int) -> str:
        return await self.trader.cancel(account_id, order_id)

    async def modify(
        self,
        order: OrderView,
        *,
        quantity: Decimal | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        ask: Ask,
    ) -> SubmitResult:
        return await self.trader.modify(
            order, quantity=quantity, limit_price=limit_price, stop_price=stop_price, ask=ask
        )

    async def cancel_all(self, account_id: str) -> CancelAllResult:
        return await self.trader.cancel_all(account_id)


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
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the demo keeps its order journal (default: a new temporary folder)",
    )
    args = parser.parse_args(argv)
    from ibtui.tui.app import run_app

    demo = build_demo(seed=args.seed, key_dir=_demo_key_dir())
    access = None
    if args.skip_login:
        token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
        access = AccessCredentials(token, secret)
    backend = ClientBackend(
        demo.base_url, demo.consumer, access=access, transport=demo.transport, demo=demo
    )
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="ibtui-demo-"))
    return run_app(
        backend,
        login=backend if backend.needs_login else None,
        trader=DeferredTrader(lambda: _demo_trader(backend, state_dir)),
        market=ClientMarketData(backend.client),
        watchlist=Watchlist.load(StateWatchlistStore(StateStore(state_dir))),
        poll_interval=args.poll_interval,
    )


def _demo_trader(backend: ClientBackend, state_dir: Path) -> ClientTrader:
    from ibtui.config import OrderSettings

    return backend.trader(OrderSettings(), state_dir)


def _demo_key_dir() -> Path | None:
    """Where ``ibtui demo`` keeps its consumer keys between runs: the state dir's ``demo``."""
    try:
        return default_state_dir() / "demo"
    except (OSError, RuntimeError):  # no home folder to keep them in: fresh keys each run
        return None


def backend_from_settings(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> ClientBackend:
    """The backend for a configured consumer: first-party token from the config, a token stored
    by an earlier login, or none (the login screen runs and stores the token it gets)."""
    from ibtui.credentials import load_credentials

    creds = load_credentials(settings.ibkr, settings.token_file)
    consumer = Consumer(
        creds.consumer_key, creds.realm, creds.signature_key, creds.encryption_key, creds.dh
    )
    access = None
    if creds.access_token is not None and creds.access_token_secret is not None:
        access = AccessCredentials(creds.access_token, creds.access_token_secret, creds.is_paper)
    token_file = settings.token_file

    def save(new: AccessCredentials) -> None:
        from ibtui.config import save_tokens

        save_tokens(token_file, new.access_token, new.access_token_secret, new.is_paper)

    return ClientBackend(
        settings.ibkr.base_url,
        consumer,
        access=access,
        transport=transport,
        save_access=save,
        state_dir=settings.state_dir,
    )


def show_problem(title: str, message: str) -> bool:
    """The problem on a screen of its own; True when the user asks to try again."""
    from ibtui.tui.problem import ProblemApp

    app = ProblemApp(title, message + "\n\nFix it, then press r to try again, or q to quit.")
    return bool(app.run())


def run_main(argv: list[str]) -> int:
    """``ibtui [run] [--config PATH]``: the console on IBKR (or whatever ``base_url`` names)."""
    parser = argparse.ArgumentParser(
        prog="ibtui run",
        description="Run the console against IBKR (or a simulator named by the config).",
    )
    parser.add_argument("--config", type=Path, help="configuration file (TOML)")
    parser.add_argument("--poll-interval", type=float, help="seconds between polls")
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

    state = StateStore(settings.state_dir)
    return run_app(
        backend,
        login=backend if backend.needs_login else None,
        keymap=settings.keymap,
        poll_interval=args.poll_interval or settings.ui.poll_interval,
        trader=DeferredTrader(lambda: backend.trader(settings.orders, settings.state_dir)),
        market=ClientMarketData(backend.client),
        watchlist=Watchlist.load(StateWatchlistStore(state)),
        last_account=state.last_account,
        remember_account=state.remember_account,
        theme=settings.ui.theme,
        bell=settings.ui.bell,
        idle_lock_minutes=settings.ui.idle_lock_minutes,
    )
