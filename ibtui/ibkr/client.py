"""``IbkrClient``: one typed async method per IBKR endpoint ibtui uses.

Every request goes through one core (:meth:`~ibtui.ibkr.base_client.BaseClient._call`, in
:mod:`ibtui.ibkr.base_client`): a pacing slot, the signed send (the ``httpx.Auth`` on the
injected client signs and renews the LST), IBKR's error envelopes mapped to
:mod:`ibtui.ibkr.errors`, automatic retries for idempotent requests only, and the brokerage
session's recovery, and the question gate. The endpoints here return the typed models of
:mod:`ibtui.ibkr.models`. An order POST is never sent twice: when its outcome is unknown
(timeout, dropped connection, 5xx, 429) the caller gets
:class:`~ibtui.ibkr.errors.OrderOutcomeUnknownError` and reconciles by ``cOID``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ibtui.ibkr.base_client import BaseClient, TokenRenewer
from ibtui.ibkr.models import (
    POSITIONS_PAGE_SIZE,
    QUOTE_FIELDS,
    Account,
    AccountSwitch,
    AuthStatus,
    IserverAccounts,
    Position,
    Quote,
    Tickle,
    merge_accounts,
    parse_portfolio_accounts,
    parse_positions,
    parse_snapshot,
)

if TYPE_CHECKING:  # models the start does not need are imported by their calls (ibtui.ibkr.models)
    from ibtui.ibkr.models import (
        AccountSummary,
        CancelResult,
        ContractInfo,
        ContractSearchResult,
        History,
        LedgerEntry,
        LiveOrders,
        OrderError,
        OrderRequest,
        OrderStatus,
        PlaceResult,
        PnlRow,
        Trade,
        WhatIf,
    )

__all__ = ["MAX_SNAPSHOT_CONIDS", "IbkrClient", "TokenRenewer"]

MAX_SNAPSHOT_CONIDS = 100
MAX_SUPPRESS_IDS = 51  # per /iserver/questions/suppress call


class IbkrClient(BaseClient):
    """Typed access to the IBKR Web API over an ``httpx.AsyncClient`` that signs requests."""

    def __repr__(self) -> str:
        return f"IbkrClient(base_url={self._base!r})"

    # --- session -----------------------------------------------------------------------------

    async def init_brokerage(self, *, compete: bool = True) -> AuthStatus:
        """Open the brokerage session (again), wait until IBKR says it is authenticated and
        list the accounts (:attr:`gate` has them); one init at a time."""
        status, _ = await self.open_brokerage(compete=compete)
        return status

    async def open_brokerage(
        self, *, compete: bool = True
    ) -> tuple[AuthStatus, IserverAccounts | None]:
        """:meth:`init_brokerage`, with the accounts listed after it (None when the session
        did not become authenticated: competing, or IBKR still not ready)."""

        async def init() -> AuthStatus:
            return await self._call(
                "POST",
                "iserver/auth/ssodh/init",
                AuthStatus.from_json,
                body={"publish": True, "compete": compete},
                recover=False,
                reopening=True,
            )

        status = await self.gate.open(init, self._status_once, self._list_accounts)
        assert status is not None  # always opened when no epoch is given
        return status, self.gate.accounts if self.gate.ready else None

    async def auth_status(self) -> AuthStatus:
        return await self._call("POST", "iserver/auth/status", AuthStatus.from_json, body={})

    async def tickle(self, *, fresh_within: float = 0.0) -> Tickle:
        """``POST /tickle``. Callers at the same time share one request: IBKR paces ``/tickle``
        at one a second, so a second caller (the stream opening while the keep-alive runs)
        would wait out the pace for the same answer. With ``fresh_within``, an answer received
        that many seconds ago serves without a request. Each answer's session is told to the
        :meth:`watch_sessions` callbacks."""
        last = self._tickled
        if fresh_within > 0 and last is not None and time.monotonic() - last[0] <= fresh_within:
            return last[1]
        flight = self._tickling
        if flight is None:
            flight = asyncio.ensure_future(self._call("POST", "tickle", Tickle.from_json, body={}))
            flight.add_done_callback(self._tickle_answered)
            self._tickling = flight
        return await asyncio.shield(flight)  # one caller cancelled leaves the others' request

    def watch_sessions(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """``callback(session)`` with the session of every ``/tickle`` answer (the stream's
        cookie, and a nightly reset's new session); returns what stops it."""
        self._session_watchers = [*self._session_watchers, callback]

        def stop() -> None:
            self._session_watchers = [w for w in self._session_watchers if w is not callback]

        return stop

    _tickling: asyncio.Future[Tickle] | None = None
    _tickled: tuple[float, Tickle] | None = None
    _session_watchers: list[Callable[[str], None]] = []  # noqa: RUF012 (replaced, never mutated)

    def _tickle_answered(self, flight: asyncio.Future[Tickle]) -> None:
        self._tickling = None
        if flight.cancelled() or flight.exception() is not None:  # the callers got the error
            return
        tickle = flight.result()
        self._tickled = (time.monotonic(), tickle)
        for callback in self._session_watchers:
            callback(tickle.session)

    async def logout(self) -> None:
        await self._call("POST", "logout", lambda data: data, body={})

    # --- accounts ----------------------------------------------------------------------------

    async def portfolio_accounts(self) -> tuple[Account, ...]:
        return await self._call("GET", "portfolio/accounts", parse_portfolio_accounts)

    async def accounts(self) -> tuple[Account, ...]:
        """Every account, with the aliases the brokerage session knows."""
        portfolio = await self.portfolio_accounts()
        return merge_accounts(portfolio, await self.iserver_accounts())

    async def switch_account(self, account_id: str) -> AccountSwitch:
        result = await self._call(
            "POST", "iserver/account", AccountSwitch.from_json, body={"acctId": account_id}
        )
        self.selected_account = result.account_id or account_id
        return result

    async def summary(self, account_id: str) -> AccountSummary:
        from ibtui.ibkr.models import AccountSummary

        return await self._call("GET", f"portfolio/{account_id}/summary", AccountSummary.from_json)

    async def ledger(self, account_id: str) -> dict[str, LedgerEntry]:
        from ibtui.ibkr.models import parse_ledger

        return await self._call("GET", f"portfolio/{account_id}/ledger", parse_ledger)

    async def positions(self, account_id: str, *, invalidate: bool = False) -> list[Position]:
        """Every position of the account, page by page (100 a page)."""
        if invalidate:
            await self._call(
                "POST", f"portfolio/{account_id}/positions/invalidate", lambda d: d, body={}
            )
        result: list[Position] = []
        page = 0
        while True:
            rows = await self._call(
                "GET", f"portfolio/{account_id}/positions/{page}", parse_positions
            )
            result.extend(rows)
            if len(rows) < POSITIONS_PAGE_SIZE:
                return result
            page += 1

    async def pnl(self) -> dict[str, PnlRow]:
        from ibtui.ibkr.models import parse_pnl

        return await self._call("GET", "iserver/account/pnl/partitioned", parse_pnl)

    # --- contracts and market data -------------------------------------------------------

    async def search(
        self, symbol: str, *, by_name: bool = False
    ) -> tuple[ContractSearchResult, ...]:
        """IBKR's matches for ``symbol``; ``by_name``: for a company name (IBKR's ``name=true``)."""
        from ibtui.ibkr.models import parse_contract_search

        params = {"symbol": symbol, "name": "true"} if by_name else {"symbol": symbol}
        return await self._call(
            "GET", "iserver/secdef/search", parse_contract_search, params=params
        )

    async def contract_info(self, conid: int) -> ContractInfo:
        from ibtui.ibkr.models import ContractInfo

        return await self._call("GET", f"iserver/contract/{conid}/info", ContractInfo.from_json)

    async def snapshot(
        self, conids: Sequence[int], fields: Sequence[str] = QUOTE_FIELDS
    ) -> list[Quote]:
        """Quotes for ``conids`` in batches of 100; a first request for a conid is a warm-up
        (its quote has ``is_warmup`` set and no values)."""
        batches = [
            conids[i : i + MAX_SNAPSHOT_CONIDS] for i in range(0, len(conids), MAX_SNAPSHOT_CONIDS)
        ]
        field_list = ",".join(fields)

        async def one(batch: Sequence[int]) -> tuple[Quote, ...]:
            params = {"conids": ",".join(str(c) for c in batch), "fields": field_list}
            return await self._call(
                "GET", "iserver/marketdata/snapshot", parse_snapshot, params=params
            )

        results = await asyncio.gather(*(one(b) for b in batches))
        return [quote for batch in results for quote in batch]

    async def history(
        self, conid: int, period: str, bar: str, *, outside_rth: bool = False
    ) -> History:
        from ibtui.ibkr.models import History

        params = {
            "conid": str(conid),
            "period": period,
            "bar": bar,
            "outsideRth": "true" if outside_rth else "false",
        }
        return await self._call(
            "GET", "iserver/marketdata/history", History.from_json, params=params
        )

    # --- orders ------------------------------------------------------------------------------

    async def place_order(self, account_id: str, order: OrderRequest) -> PlaceResult:
        """Submit one order. Never retried: an unknown outcome raises OrderOutcomeUnknownError."""
        from ibtui.ibkr.models import order_body, parse_place_result

        return await self._call(
            "POST",
            f"iserver/account/{account_id}/orders",
            parse_place_result,
            body=order_body([order]),
        )

    async def reply(self, reply_id: str, *, confirmed: bool) -> PlaceResult:
        from ibtui.ibkr.models import parse_place_result

        return await self._call(
            "POST", f"iserver/reply/{reply_id}", parse_place_result, body={"confirmed": confirmed}
        )

    async def modify_order(
        self, account_id: str, order_id: int, order: OrderRequest
    ) -> PlaceResult:
        """Modify a working order. ``order`` repeats every field of the original ticket with only
        the changed values different (IBKR's rule). Never retried, like a placement."""
        from ibtui.ibkr.models import parse_place_result

        return await self._call(
            "POST",
            f"iserver/account/{account_id}/order/{order_id}",
            parse_place_result,
            body=order.to_json(),
        )

    async def suppress_questions(self, message_ids: Sequence[str]) -> None:
        """Auto-confirm these question categories (``o163``, ...) for the brokerage session."""
        ids = list(dict.fromkeys(message_ids))
        for start in range(0, len(ids), MAX_SUPPRESS_IDS):
            await self._call(
                "POST",
                "iserver/questions/suppress",
                _ignore,
                body={"messageIds": ids[start : start + MAX_SUPPRESS_IDS]},
            )

    async def reset_suppressed_questions(self) -> None:
        await self._call("POST", "iserver/questions/suppress/reset", _ignore, body={})

    async def whatif(self, account_id: str, order: OrderRequest) -> WhatIf:
        from ibtui.ibkr.models import WhatIf, order_body

        return await self._call(
            "POST",
            f"iserver/account/{account_id}/orders/whatif",
            WhatIf.from_json,
            body=order_body([order]),
        )

    async def live_orders(
        self, account_id: str | None = None, *, force: bool = False
    ) -> LiveOrders:
        """The live orders of ``account_id`` (default: the selected account). ``accountId`` is
        always sent: without it IBKR can answer falsely empty on multi-account logins."""
        from ibtui.ibkr.models import LiveOrders

        params: dict[str, str] = {}
        if force:
            params["force"] = "true"
        if self.selected_account is None and account_id is None:
            await self.gate.wait_ready(self._list_accounts)
            if self.selected_account is None:
                await self.iserver_accounts()
        account = account_id or self.selected_account
        if account:
            params["accountId"] = account
        return await self._call(
            "GET", "iserver/account/orders", LiveOrders.from_json, params=params or None
        )

    async def order_status(self, order_id: int) -> OrderStatus:
        from ibtui.ibkr.models import OrderStatus

        return await self._call(
            "GET", f"iserver/account/order/status/{order_id}", OrderStatus.from_json
        )

    async def cancel_order(self, account_id: str, order_id: int) -> CancelResult | OrderError:
        from ibtui.ibkr.models import parse_cancel_result

        return await self._call(
            "DELETE", f"iserver/account/{account_id}/order/{order_id}", parse_cancel_result
        )

    async def trades(self) -> tuple[Trade, ...]:
        from ibtui.ibkr.models import parse_trades

        return await self._call("GET", "iserver/account/trades", parse_trades)


def _ignore(payload: object) -> None:
    """For endpoints whose answer carries nothing beyond success."""
