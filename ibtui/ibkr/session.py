"""The Live Session Token lifecycle: acquire by Diffie-Hellman, validate, renew early and on 401.

One :class:`LiveSession` per access token. Renewal happens under one lock, so any number of
concurrent requests that find the token expiring (or get a 401) cause exactly one new exchange.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from Crypto.PublicKey.RSA import RsaKey

from ibtui.ibkr import oauth
from ibtui.ibkr.auth import LiveSessionToken
from ibtui.ibkr.errors import (
    ApiConnectionError,
    ApiTimeoutError,
    AuthError,
    LstValidationError,
    ProtocolError,
    error_from_response,
)
from ibtui.ibkr.recovery import EmptyDhResponseError, RecoverySettings

__all__ = ["AccessCredentials", "Consumer", "LiveSession", "api_url"]

DEFAULT_RENEW_MARGIN = 600.0
USER_AGENT = "ibtui/0.1"


@dataclass(frozen=True, slots=True)
class Consumer:
    """An OAuth consumer: its key, realm and the private material registered with IBKR."""

    consumer_key: str
    realm: str
    signature_key: RsaKey = field(repr=False)
    encryption_key: RsaKey = field(repr=False)
    dh: oauth.DHParams = field(repr=False)


@dataclass(frozen=True, slots=True)
class AccessCredentials:
    """An access token and its secret, encrypted as IBKR issues it."""

    access_token: str
    access_token_secret: str = field(repr=False)
    is_paper: bool | None = None


_log = logging.getLogger(__name__)


class _EmptyDhResponse(Exception):
    """The LST answer had an empty ``diffie_hellman_response``: ask again."""


def api_url(base_url: str, path: str) -> str:
    """Join the API base (``https://api.ibkr.com/v1/api/``) and an endpoint path."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


class LiveSession:
    """Owns the LST for one access token; the :class:`~ibtui.ibkr.auth.LstSigner` asks it."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        consumer: Consumer,
        access: AccessCredentials,
        *,
        clock: Callable[[], float] = time.time,
        renew_margin: float = DEFAULT_RENEW_MARGIN,
        timestamper: Callable[[], str] | None = None,
        recovery: RecoverySettings | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.recovery = recovery or RecoverySettings()
        self._sleep = sleep
        self._http = http
        self._base_url = base_url
        self.consumer = consumer
        self.access = access
        self._clock = clock
        self.renew_margin = renew_margin
        self._timestamp = timestamper or oauth.Timestamper(clock)
        self._lock = asyncio.Lock()
        self._lst: LiveSessionToken | None = None
        self._generation = 0
        self._lifetime: float | None = None  # how long the current token was issued for
        self._prepend_plain: bytes | None = None

    def __repr__(self) -> str:
        state = "none" if self._lst is None else f"expires_at={self._lst.expires_at:.0f}"
        return f"LiveSession(access_token={self.access.access_token!r}, lst={state})"

    @property
    def lst(self) -> LiveSessionToken | None:
        """The current token, if any (it may be close to expiry)."""
        return self._lst

    @property
    def renewals(self) -> int:
        """How many LSTs this session has obtained."""
        return self._generation

    def seconds_left(self) -> float | None:
        return None if self._lst is None else self._lst.remaining(self._clock())

    def _fresh(self, token: LiveSessionToken | None) -> bool:
        if token is None:
            return False
        # Renew ``renew_margin`` ahead, but never more than half a lifetime ahead: a server that
        # issues tokens shorter than the margin would otherwise get a DH exchange with every
        # request, each new token invalidating the one concurrent requests were signed with.
        margin = self.renew_margin
        if self._lifetime is not None:
            margin = min(margin, self._lifetime / 2)
        return token.remaining(self._clock()) > margin

    async def current_lst(self) -> LiveSessionToken:
        token = self._lst
        if token is not None and self._fresh(token):
            return token
        return await self.renew_lst(token)

    async def renew_lst(self, stale: LiveSessionToken | None) -> LiveSessionToken:
        async with self._lock:
            current = self._lst
            if (
                current is not None
                and current is not stale
                and current.remaining(self._clock()) > 0
            ):
                return current  # someone renewed while we waited for the lock
            self._lst = await self._exchange_retrying()
            return self._lst

    async def _exchange_retrying(self) -> LiveSessionToken:
        """:meth:`_exchange`, asked again with back-off while IBKR answers it without a
        Diffie-Hellman response (IBKR's own sample says to retry)."""
        attempts = max(1, self.recovery.dh_attempts)
        for attempt in range(attempts):
            try:
                return await self._exchange()
            except _EmptyDhResponse:
                _log.info("empty Diffie-Hellman response (attempt %d of %d)", attempt + 1, attempts)
                if attempt + 1 < attempts:
                    await self._sleep(self.recovery.dh_backoff * 2**attempt)
        raise EmptyDhResponseError(attempts)

    def forget(self) -> None:
        """Drop the token (after a logout); the next request starts a new exchange."""
        self._lst = None

    def _secret_plaintext(self) -> bytes:
        if self._prepend_plain is None:
            try:
                self._prepend_plain = oauth.decrypt_access_token_secret(
                    self.consumer.encryption_key, self.access.access_token_secret
                )
            except oauth.OAuthFormatError as exc:
                raise AuthError(
                    f"The access token secret cannot be used: {exc}. Check the encryption key "
                    "and that the secret was copied completely."
                ) from exc
        return self._prepend_plain

    async def _exchange(self) -> LiveSessionToken:
        consumer = self.consumer
        secret = self._secret_plaintext()
        exponent = oauth.generate_dh_exponent()
        params = {
            "diffie_hellman_challenge": oauth.dh_challenge(consumer.dh, exponent),
            "oauth_consumer_key": consumer.consumer_key,
            "oauth_nonce": oauth.generate_nonce(),
            "oauth_signature_method": oauth.RSA_SHA256,
            "oauth_timestamp": self._timestamp(),
            "oauth_token": self.access.access_token,
        }
        url = api_url(self._base_url, "oauth/live_session_token")
        signed = oauth.sign_rsa_request(
            "POST", url, consumer.realm, params, consumer.signature_key, secret.hex()
        )
        body = await post_oauth(self._http, url, signed.header, "oauth/live_session_token")
        try:
            response_hex = str(body["diffie_hellman_response"])
            signature = str(body["live_session_token_signature"])
            expires_ms = float(body["live_session_token_expiration"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(
                "oauth/live_session_token", "the reply lacks the Diffie-Hellman fields"
            ) from exc
        if not response_hex.strip():
            raise _EmptyDhResponse()
        try:
            raw = oauth.compute_lst(consumer.dh, exponent, response_hex, secret)
        except oauth.OAuthFormatError as exc:
            raise ProtocolError("oauth/live_session_token", str(exc)) from exc
        if not oauth.validate_lst(raw, consumer.consumer_key, signature):
            raise LstValidationError(
                "The live session token did not validate: the encryption key, the "
                "Diffie-Hellman parameters or the consumer key do not match what the server has."
            )
        self._generation += 1
        self._lifetime = expires_ms / 1000.0 - self._clock()
        return LiveSessionToken(
            value=base64.b64encode(raw).decode("ascii"),
            expires_at=expires_ms / 1000.0,
            generation=self._generation,
        )


async def post_oauth(
    http: httpx.AsyncClient, url: str, authorization: str, endpoint: str
) -> dict[str, Any]:
    """POST one of the RSA-signed ``/oauth/*`` requests (empty body) and return its JSON."""
    headers = {
        "Authorization": authorization,
        "User-Agent": USER_AGENT,
        "Content-Length": "0",
        "Accept": "application/json",
    }
    try:
        response = await http.post(url, headers=headers, content=b"", auth=httpx.Auth())
    except httpx.TimeoutException as exc:
        raise ApiTimeoutError(endpoint, "the server did not answer in time") from exc
    except httpx.TransportError as exc:
        raise ApiConnectionError(
            endpoint, f"cannot reach the server ({type(exc).__name__})"
        ) from exc
    if response.status_code != 200:
        raise error_from_response(
            response.status_code, endpoint, response.content, response.headers.get("content-type")
        )
    try:
        data = response.json()
    except ValueError as exc:
        raise ProtocolError(endpoint, "the reply is not JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(endpoint, "the reply is not a JSON object")
    return data
