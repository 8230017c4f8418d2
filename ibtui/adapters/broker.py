"""The broker adapter: the ``Broker`` and ``LoginFlow`` the screens use, over :class:`IbkrClient`,
and the trader (:class:`ClientTrader`, which loads the order service when first used).

The order service (``ibtui.adapters.trader`` and ``ibtui.trading``), the credentials files and the
third-party login are imported when first used: the first positions need none of them. The
simulator is never imported here: ``ibtui demo`` hands its bootstrap in as a :class:`DemoLogin`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.connect import Connection, Recovery, connect
from ibtui.ibkr.errors import ApiConnectionError, ApiTimeoutError, IbkrError, VerifierError
from ibtui.ibkr.http_client import new_http_client
from ibtui.ibkr.session import AccessCredentials, Consumer
from ibtui.tui.balances import BalancesView
from ibtui.tui.convert import account_view, fx_rates, position_view, quote_view
from ibtui.tui.protocols import LinkUsedUp, LoginPrompt, LoginStep, Progress
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, SessionState

if TYPE_CHECKING:
    from ibtui.adapters.stream import ClientStream
    from ibtui.adapters.trader import ClientTrader
    from ibtui.config import Settings
    from ibtui.ibkr.login import RequestToken
    from ibtui.trading.settings import OrderSettings

__all__ = ["ClientBackend", "DemoLogin", "backend_from_settings"]


class DemoLogin(Protocol):
    """The embedded demo's side of the login (``ibtui.sim.demo.DemoEnvironment``): it approves
    a request token as the demo user, so the login screen can show the verifier."""

    def demo_verifier(self, request_token: str) -> str: ...


class ClientBackend:
    """Implements the console's ``Broker`` and ``LoginFlow`` over :class:`IbkrClient`."""

    def __init__(
        self,
        base_url: str,
        consumer: Consumer,
        *,
        access: AccessCredentials | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        demo: DemoLogin | None = None,
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

        async with new_http_client(transport=self._transport) as http:
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

        async with new_http_client(transport=self._transport) as http:
            login = ThirdPartyLogin(http, self._base_url, self._consumer, clock=self._clock)
            try:
                access = await login.access_token(self._request, verifier)
            except VerifierError as exc:  # the request token is spent either way
                raise LinkUsedUp(str(exc)) from exc
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

    def base_currency(self, account_id: str) -> str | None:
        account = self._accounts.get(account_id)
        return None if account is None else account.base_currency

    def trader(self, settings: OrderSettings, state_dir: Path) -> ClientTrader:
        """Trading for the screens, journaled in ``state_dir``."""
        from ibtui.adapters.trader import ClientTrader
        from ibtui.trading.journal import Journal, journal_path

        return ClientTrader(
            self.client,
            Journal(journal_path(state_dir)),
            settings,
            is_paper=self.is_paper,
            base_currency=self.base_currency,
            on_change=self._positions_changed,
        )

    def stream(
        self,
        line_allowance: int,
        trader: ClientTrader | None = None,
        *,
        stream_http: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]] | None = None,
    ) -> ClientStream:
        """Quotes and, with a ``trader``, orders pushed over IBKR's WebSocket for the screens
        (``stream_http``: the in-process simulator's, for the demo)."""
        from ibtui.adapters.stream import ClientStream

        def access_token() -> str | None:
            return None if self._access is None else self._access.access_token

        return ClientStream(
            self.client,
            access_token,
            line_allowance=line_allowance,
            order_view=None if trader is None else trader.pushed_order,
            clock=self._clock,
            stream_http=stream_http,
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

    async def balances(self, account_id: str) -> BalancesView:
        """The account's summary, ledger and partitioned P&L as one view (three requests, each
        paced by the client as IBKR asks)."""
        from ibtui.adapters.balances import balances_view

        conn = await self._ensure_started()
        summary = await conn.client.summary(account_id)
        ledger = await conn.client.ledger(account_id)
        pnl = await conn.client.pnl()
        return balances_view(account_id, self.base_currency(account_id), summary, ledger, pnl)

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        conn = await self._ensure_started()
        quotes = await conn.client.snapshot(list(conids))
        received = self._clock()
        return [quote_view(q, received) for q in quotes if not q.is_warmup]

    def snapshot_rate(self) -> float | None:
        """Snapshot requests a second the client's pacer allows (the poller plans by it)."""
        if self._conn is None:
            return None
        return self._conn.client.pacer.rate("GET", "/iserver/marketdata/snapshot")

    async def keep_alive(self, *, take_back: bool = False) -> SessionState:
        """Tickle; a lost or competing brokerage session is reopened by the connection. A server
        that cannot be reached (or does not answer) leaves the session's state unknown:
        ``UNREACHABLE``, never the ``CONNECTED`` it was."""
        conn = await self._ensure_started()
        try:
            result = await conn.keep_alive(take_back=take_back)
        except (ApiConnectionError, ApiTimeoutError):
            return SessionState.UNREACHABLE
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


def backend_from_settings(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> ClientBackend:
    """The backend for a configured consumer: first-party token from the config, a token stored
    by an earlier login, or none (the login screen runs and stores the token it gets)."""
    from ibtui.config.credentials import load_credentials

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
