"""``IbkrClient``: one typed async method per IBKR endpoint ibtui uses.

Every request goes through one core (:meth:`IbkrClient._call`): a pacing slot, the signed send
(the ``httpx.Auth`` on the injected client signs and renews the LST), IBKR's error envelopes
mapped to :mod:`ibtui.ibkr.errors`, automatic retries for idempotent requests only, and the
typed models of :mod:`ibtui.ibkr.models` as results. An order POST is never sent twice: when its
outcome is unknown (timeout, dropped connection, 5xx) the caller gets
:class:`~ibtui.ibkr.errors.OrderOutcomeUnknownError` and reconciles by ``cOID``. A 429 is not
unknown: IBKR refused the request unhandled, so it is sent again after the pacer's penalty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from ibtui.ibkr.errors import (
    AccountsNotQueriedError,
    ApiConnectionError,
    ApiStatusError,
    ApiTimeoutError,
    CompetingSessionError,
    IbkrError,
    NoBridgeError,
    OrderOutcomeUnknownError,
    ProtocolError,
    RateLimitedError,
    ResponseTooLargeError,
    SessionExpiredError,
    TlsVerificationError,
    connection_error,
    endpoint_path,
    error_from_response,
    is_order_action_path,
)
from ibtui.ibkr.http_client import read_body
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
    decode_body,
    merge_accounts,
    parse_portfolio_accounts,
    parse_positions,
    parse_snapshot,
)
from ibtui.ibkr.pacing import Pacer, RetryPolicy, refuse_long_wait
from ibtui.ibkr.recovery import BrokerageGate, RecoverySettings, is_session_setup

if TYPE_CHECKING:  # models the start does not need are imported by their calls (ibtui.ibkr.models)
    from ibtui.ibkr.auth import LiveSessionToken
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

T = TypeVar("T")
MAX_SNAPSHOT_CONIDS = 100
MAX_SUPPRESS_IDS = 51  # per /iserver/questions/suppress call
_MAX_429_RETRIES = 5
_MAX_REOPENS = 2  # brokerage-session reopens one call may start ("no bridge" each time)
_EXCERPT = 300  # characters of an answer that could not be read, kept in the log
_log = logging.getLogger(__name__)


class TokenRenewer(Protocol):
    """What the client needs from the LST session to start over after a run of 410 Gone."""

    @property
    def lst(self) -> LiveSessionToken | None: ...

    async def renew_lst(self, stale: LiveSessionToken | None) -> LiveSessionToken: ...


class IbkrClient:
    """Typed access to the IBKR Web API over an ``httpx.AsyncClient`` that signs requests."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        recovery: RecoverySettings | None = None,
        tokens: TokenRenewer | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/"
        self.pacer = pacer or Pacer()
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.recovery = recovery or RecoverySettings()
        self.gate = BrokerageGate(self.recovery, sleep)
        self.tokens = tokens  # to start over after a run of 410 Gone (None: never)
        self.selected_account: str | None = None  # as IBKR last said or was told

    def __repr__(self) -> str:
        return f"IbkrClient(base_url={self._base!r})"

    # --- the request core ------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, params: Mapping[str, str] | None, body: object
    ) -> object:
        endpoint = endpoint_path(path)
        order = (
            method != "GET" and is_order_action_path(endpoint) and not endpoint.endswith("/whatif")
        )
        coid = _coid_of(body) if order else None
        for _ in range(_MAX_429_RETRIES + 1):
            async with self.pacer.slot(method, endpoint):
                request = self._http.build_request(
                    method,
                    self._base + path.lstrip("/"),
                    params=params,
                    json=body if body is not None else None,
                    content=b"" if body is None and method != "GET" else None,
                    headers=_EMPTY_BODY if body is None and method != "GET" else None,
                )
                try:
                    response = await self._http.send(request, stream=True)
                    try:
                        content = await read_body(response)
                    finally:
                        await response.aclose()
                except httpx.TimeoutException as exc:
                    if order:
                        raise OrderOutcomeUnknownError(
                            coid or "", "no answer in time", endpoint=endpoint
                        ) from exc
                    raise ApiTimeoutError(endpoint, "no answer in time") from exc
                except httpx.TransportError as exc:
                    failure = connection_error(endpoint, exc)
                    _log.warning("%s %s: %s", method, endpoint, failure.reason)
                    if order and not isinstance(failure, TlsVerificationError):
                        raise OrderOutcomeUnknownError(
                            coid or "", "the connection dropped", endpoint=endpoint
                        ) from exc
                    raise failure from exc
                except ResponseTooLargeError as exc:
                    _log.warning("%s", exc)
                    if order:  # answered, so handled: what IBKR did with it is unknown
                        raise OrderOutcomeUnknownError(
                            coid or "", str(exc.reason), endpoint=endpoint
                        ) from exc
                    raise
            if response.status_code == 429:
                _log.warning(
                    "%s %s: 429 (too many requests); waiting out IBKR's penalty", method, endpoint
                )
                # Refused before it was handled, so even an order action goes again once the
                # penalty is over: nothing was placed (and its cOID guards against a second).
                wait = self.pacer.penalize(endpoint, _retry_after(response), method=method)
                refuse_long_wait(endpoint, wait)
                continue
            self.pacer.record_success(endpoint, method=method)
            if response.status_code >= 500 and order:
                raise OrderOutcomeUnknownError(
                    coid or "", f"the server answered {response.status_code}", endpoint=endpoint
                )
            if response.status_code >= 400:
                raise error_from_response(
                    response.status_code,
                    endpoint,
                    content,
                    response.headers.get("content-type"),
                    retry_after=response.headers.get("retry-after"),
                )
            try:
                return decode_body(content, endpoint)
            except ProtocolError as exc:
                _log_unreadable(method, endpoint, exc, response, content)
                raise exc.with_endpoint(endpoint) from None
        raise RateLimitedError(
            endpoint=endpoint,
            message=(
                f"IBKR keeps answering 429 (too many requests) for {endpoint}: its penalty box "
                "can last up to 10 minutes; wait before trying again"
            ),
        )

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[object], T],
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        recover: bool = True,
    ) -> T:
        endpoint = endpoint_path(path)
        attempt = 0
        # Each recovery at most once per call (a reopen twice: the session may end again while
        # it reopens); a reopened brokerage session wants the account list again, so one call
        # may need both in turn.
        listed = renewed = False
        reopens = 0
        gone = 0
        iserver = recover and endpoint.startswith("/iserver/") and not is_session_setup(endpoint)
        while True:
            attempt += 1
            epoch = self.gate.epoch
            try:
                if iserver:  # after an init: wait for it, and the accounts come first
                    await self.gate.wait_ready(self._list_accounts)
                data = await self._send(method, path, params, body)
                try:
                    return parse(data)
                except ProtocolError as exc:
                    _log.warning(
                        "%s %s: %s; the answer began: %s",
                        method,
                        endpoint,
                        exc.reason,
                        _excerpt(repr(data)),
                    )
                    raise exc.with_endpoint(endpoint) from None
            except NoBridgeError as exc:
                if reopens >= _MAX_REOPENS or not recover or not endpoint.startswith("/iserver/"):
                    raise
                reopens += 1
                if await self._held_elsewhere():
                    # Taken back only by the keep-alive's rule (Connection.keep_alive), never by
                    # every request: two platforms must not take it from each other in a loop.
                    raise CompetingSessionError(exc.status, endpoint, exc.server_text) from None
                await self._reopen(seen=epoch)
            except AccountsNotQueriedError:
                if listed or not recover:
                    raise
                listed = True
                await self.iserver_accounts()
            except SessionExpiredError as exc:
                # 410 Gone on a valid session: IBKR's intermittent hiccup. The same token again
                # after a pause; only a run of them makes a new one (and a new brokerage session).
                if exc.status != 410 or renewed or not recover:
                    raise
                gone += 1
                if gone < self.recovery.gone_limit:
                    await self._sleep(self.recovery.gone_pause)
                    continue
                if self.tokens is None:
                    raise
                renewed = True
                await self._start_over(epoch)
            except (ApiTimeoutError, ApiConnectionError, ApiStatusError) as exc:
                if isinstance(exc, OrderOutcomeUnknownError) or not self.retry.should_retry(
                    method, endpoint, attempt, exc
                ):
                    raise
                delay = self.retry.delay(attempt, exc)
                _log.info(
                    "%s %s failed (%s); try %d in %.1f s", method, endpoint, exc, attempt + 1, delay
                )
                await self._sleep(delay)

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
            )

        status = await self.gate.open(init, self._status_once, self._list_accounts)
        assert status is not None  # always opened when no epoch is given
        return status, self.gate.accounts if self.gate.ready else None

    async def _reopen(self, *, seen: int) -> None:
        """The brokerage session is gone: open it again, unless another request already did
        since this one saw it (epoch ``seen``); requests meanwhile wait for it."""
        await self.gate.open(
            lambda: self._call(
                "POST",
                "iserver/auth/ssodh/init",
                AuthStatus.from_json,
                body={"publish": True, "compete": True},
                recover=False,
            ),
            self._status_once,
            self._list_accounts,
            seen=seen,
        )

    async def _start_over(self, seen: int) -> None:
        """IBKR keeps answering 410 Gone: a new LST, then a new brokerage session (when one was
        open: a new token ends it)."""
        assert self.tokens is not None
        await self.tokens.renew_lst(self.tokens.lst)
        if self.gate.epoch > 0:
            await self._reopen(seen=seen)

    async def _status_once(self) -> AuthStatus:
        return await self._call(
            "POST", "iserver/auth/status", AuthStatus.from_json, body={}, recover=False
        )

    async def _list_accounts(self) -> IserverAccounts:
        return await self._call("GET", "iserver/accounts", self._note_accounts, recover=False)

    def _note_accounts(self, data: object) -> IserverAccounts:
        accounts = IserverAccounts.from_json(data)
        if accounts.selected_account:
            self.selected_account = accounts.selected_account
        return accounts

    async def _held_elsewhere(self) -> bool:
        """Whether another login (TWS, IBKR Mobile, another ibtui) holds the brokerage session;
        False when the status cannot be read (a reopen then tells)."""
        try:
            data = await self._send("POST", "iserver/auth/status", None, {})
            return AuthStatus.from_json(data).competing
        except IbkrError:
            return False

    async def auth_status(self) -> AuthStatus:
        return await self._call("POST", "iserver/auth/status", AuthStatus.from_json, body={})

    async def tickle(self) -> Tickle:
        return await self._call("POST", "tickle", Tickle.from_json, body={})

    async def logout(self) -> None:
        await self._call("POST", "logout", lambda data: data, body={})

    # --- accounts ----------------------------------------------------------------------------

    async def portfolio_accounts(self) -> tuple[Account, ...]:
        return await self._call("GET", "portfolio/accounts", parse_portfolio_accounts)

    async def iserver_accounts(self) -> IserverAccounts:
        result = await self._call("GET", "iserver/accounts", self._note_accounts)
        self.gate.ready = self.gate.ready or self.gate.epoch > 0
        return result

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


def _excerpt(text: str) -> str:
    """The start of an answer for the log: one line, no control characters."""
    cut = text[:_EXCERPT]
    cut = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)
    return cut + ("…" if len(text) > _EXCERPT else "")


def _log_unreadable(
    method: str, endpoint: str, exc: ProtocolError, response: httpx.Response, content: bytes
) -> None:
    _log.warning(
        "%s %s: %s (status %d, %s, %d bytes); the answer began: %s",
        method,
        endpoint,
        exc.reason,
        response.status_code,
        response.headers.get("content-type") or "no content type",
        len(content),
        _excerpt(content[: _EXCERPT * 4].decode("utf-8", "replace")),
    )


# httpx sends no Content-Length for an empty body; IBKR's samples (and requests) send 0, and some
# proxies in front of it refuse a DELETE without it.
_EMPTY_BODY = {"Content-Length": "0"}


def _ignore(payload: object) -> None:
    """For endpoints whose answer carries nothing beyond success."""


def _coid_of(body: object) -> str | None:
    if not isinstance(body, dict):
        return None
    orders = body.get("orders")
    order = orders[0] if isinstance(orders, list) and orders else body  # place | modify
    coid = order.get("cOID") if isinstance(order, dict) else None
    return coid if isinstance(coid, str) else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
