"""The request core under :class:`~ibtui.ibkr.client.IbkrClient` (its endpoints).

Every request goes through :meth:`BaseClient._call`: a pacing slot, the signed send (the
``httpx.Auth`` on the injected client signs and renews the LST), IBKR's error envelopes mapped to
:mod:`ibtui.ibkr.errors`, automatic retries for idempotent requests only, and the brokerage
session's recovery (a reopen after "no bridge", the accounts listed when IBKR wants them first, a
run of 410 Gone answered with a new LST). An order POST is never sent twice: when its outcome is
unknown (timeout, dropped connection, 5xx, and 429 too: IBKR has been seen to carry an order
out and answer 429, and a resend then meets its duplicate-cOID check) the caller gets
:class:`~ibtui.ibkr.errors.OrderOutcomeUnknownError` and reconciles by ``cOID``. A cancel
answered 429 is sent again after the pacer's penalty. While an order question is open every
other request waits at the :class:`~ibtui.ibkr.gate.QuestionGate` (:attr:`question_gate`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from ibtui.ibkr.error_mapping import (
    connection_error,
    endpoint_path,
    error_from_response,
    is_order_action_path,
)
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
)
from ibtui.ibkr.gate import QuestionGate
from ibtui.ibkr.http_client import read_body
from ibtui.ibkr.models import AuthStatus, IserverAccounts, decode_body
from ibtui.ibkr.pacing import Pacer, RetryPolicy, refuse_long_wait
from ibtui.ibkr.recovery import BrokerageGate, RecoverySettings, is_session_setup

if TYPE_CHECKING:
    from ibtui.ibkr.auth import LiveSessionToken

__all__ = ["BaseClient", "TokenRenewer"]

T = TypeVar("T")
_MAX_429_RETRIES = 5
_MAX_REOPENS = 2  # brokerage-session reopens one call may start ("no bridge" each time)
_EXCERPT = 300  # characters of an answer that could not be read, kept in the log
_log = logging.getLogger(__name__)


class TokenRenewer(Protocol):
    """What the client needs from the LST session to start over after a run of 410 Gone."""

    @property
    def lst(self) -> LiveSessionToken | None: ...

    async def renew_lst(self, stale: LiveSessionToken | None) -> LiveSessionToken: ...


class BaseClient:
    """The request core: send, map errors, retry, recover the brokerage session."""

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
        self.question_gate = QuestionGate()  # held by the order service while IBKR asks

    @property
    def http(self) -> httpx.AsyncClient:
        """The ``httpx.AsyncClient`` requests go through (the WebSocket rides on it too)."""
        return self._http

    @property
    def base_url(self) -> str:
        """The API's base URL, ending in ``/`` (``https://api.ibkr.com/v1/api/``)."""
        return self._base

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: object,
        *,
        exempt: bool = False,
    ) -> object:
        """One request, sent again after a 429 that refused it. ``exempt``: never held by an
        order question (see :mod:`ibtui.ibkr.gate`)."""
        endpoint = endpoint_path(path)
        order = _is_order_action(method, endpoint)
        coid = _coid_of(body) if order else None
        for _ in range(_MAX_429_RETRIES + 1):
            response, content, sent_at = await self._exchange(
                method, path, params, body, endpoint, exempt=exempt, order=order, coid=coid
            )
            if response.status_code == 429:
                _log.warning("%s %s: 429 (too many requests)", method, endpoint)
                wait = self.pacer.penalize(
                    endpoint, _retry_after(response), method=method, sent_at=sent_at
                )
                if order and method == "POST":  # it may have been carried out: never resent
                    raise OrderOutcomeUnknownError(
                        coid or "", "IBKR answered 429 (too many requests)", endpoint=endpoint
                    )
                # Refused before it was handled: anything else goes again once the penalty is
                # over (a cancel too: cancelling twice is harmless)
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
            retry_after=self.pacer.blocked_for(endpoint, method),  # when the pacer lets it by
            message=(
                f"IBKR keeps answering 429 (too many requests) for {endpoint}: its penalty box "
                "can last up to 10 minutes; wait before trying again"
            ),
        )

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: object,
        endpoint: str,
        *,
        exempt: bool,
        order: bool,
        coid: str | None,
    ) -> tuple[httpx.Response, bytes, float]:
        """The request on the wire once the pacer gives it its turn, and the answer: the
        response, its body and when it was sent (the pacer's clock).

        The question gate is met before the turn is waited for and again when it comes: a
        question opened meanwhile (by another task) holds the request until it is answered (the
        turn is spent; the next is waited for afterwards). So a request waiting for its turn is
        not on the wire, and an order's hold does not wait for it
        (:meth:`~ibtui.ibkr.gate.QuestionGate.passage` counts only the requests being sent)."""
        gate = self.question_gate
        while True:
            if not exempt:
                await gate.wait()
            async with self.pacer.slot(method, endpoint):
                if not exempt and gate.blocks():
                    continue  # a question opened while it waited for its turn: after it
                async with gate.passage(exempt=exempt):
                    request = self._http.build_request(
                        method,
                        self._base + path.lstrip("/"),
                        params=params,
                        json=body if body is not None else None,
                        content=b"" if body is None and method != "GET" else None,
                        headers=_EMPTY_BODY if body is None and method != "GET" else None,
                    )
                    sent_at = self.pacer.now()
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
                return response, content, sent_at

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[object], T],
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        recover: bool = True,
        reopening: bool = False,
    ) -> T:
        """One API call, with its recoveries (``recover``). ``reopening``: a request of the
        brokerage gate's own reopening (under its lock), never held by an order question (see
        :mod:`ibtui.ibkr.gate`)."""
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
                # nothing but the order's own actions while its question is open
                data = await self._send(
                    method,
                    path,
                    params,
                    body,
                    exempt=reopening or _is_order_action(method, endpoint),
                )
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

    # --- the brokerage session's recovery ------------------------------------------------------

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
                reopening=True,
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
            "POST",
            "iserver/auth/status",
            AuthStatus.from_json,
            body={},
            recover=False,
            reopening=True,
        )

    async def _list_accounts(self) -> IserverAccounts:
        return await self._call(
            "GET", "iserver/accounts", self._note_accounts, recover=False, reopening=True
        )

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

    async def iserver_accounts(self) -> IserverAccounts:
        result = await self._call("GET", "iserver/accounts", self._note_accounts)
        self.gate.ready = self.gate.ready or self.gate.epoch > 0
        return result


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


def _is_order_action(method: str, endpoint: str) -> bool:
    """A placement, reply, modification or cancel (not a what-if, not a read)."""
    return method != "GET" and is_order_action_path(endpoint) and not endpoint.endswith("/whatif")


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
