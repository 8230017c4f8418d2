"""The Live Session Token lifecycle: acquire by Diffie-Hellman, validate, renew early and on 401.

One :class:`LiveSession` per access token. Renewal happens under one lock, so any number of
concurrent requests that find the token expiring (or get a 401) cause exactly one new exchange.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ibtui.ibkr import oauth
from ibtui.ibkr.auth import LiveSessionToken
from ibtui.ibkr.error_mapping import connection_error, error_from_response
from ibtui.ibkr.errors import ApiTimeoutError, AuthError, LstValidationError, ProtocolError
from ibtui.ibkr.http_client import read_body
from ibtui.ibkr.oauth import Consumer  # re-exported: the client's callers name it from here
from ibtui.ibkr.recovery import EmptyDhResponseError, RecoverySettings

__all__ = ["AccessCredentials", "Consumer", "LiveSession", "api_url"]

DEFAULT_RENEW_MARGIN = 600.0
USER_AGENT = "ibtui/0.1"
# When the server's live_session_token_expiration is no usable instant (not a finite number,
# already past or about to be, or further away than any LST lasts; IBKR's last 24 hours), the
# token is taken to last DEFAULT_LST_LIFETIME: renewed every ~50 minutes, and at once if IBKR
# refuses it sooner (the signer renews on a 401). Believing such an expiry instead cost a
# Diffie-Hellman exchange per request (one in the past) or never renewed ahead (one in 3000).
DEFAULT_LST_LIFETIME = 3600.0
MIN_LST_LIFETIME = 5.0
MAX_LST_LIFETIME = 7 * 86400.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, repr=False)
class AccessCredentials:
    """An access token and its secret, encrypted as IBKR issues it (the repr masks both)."""

    access_token: str
    access_token_secret: str
    is_paper: bool | None = None

    def __repr__(self) -> str:
        return (
            f"AccessCredentials(access_token={oauth.mask_token(self.access_token)!r}, "
            f"access_token_secret=<hidden>, is_paper={self.is_paper})"
        )


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
        self._expiry_warned = False  # an unusable expiry from the server is logged once
        self._prepend_plain: oauth.Secret | None = None  # the decrypted access token secret

    def __repr__(self) -> str:
        state = "none" if self._lst is None else f"expires_at={self._lst.expires_at:.0f}"
        token = oauth.mask_token(self.access.access_token)
        return f"LiveSession(access_token={token!r}, lst={state})"

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
                self._prepend_plain = oauth.Secret(
                    oauth.decrypt_access_token_secret(
                        self.consumer.encryption_key, self.access.access_token_secret
                    )
                )
            except oauth.OAuthFormatError as exc:
                raise AuthError(
                    f"The access token secret cannot be used: {exc}. Check the encryption key "
                    "and that the secret was copied completely."
                ) from exc
        return self._prepend_plain.reveal()

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
        response_hex = body.get("diffie_hellman_response")
        if not isinstance(response_hex, str):
            raise ProtocolError(
                "oauth/live_session_token", "the reply has no diffie_hellman_response text"
            )
        if not response_hex.strip():
            raise _EmptyDhResponse()
        try:
            signature = oauth.check_lst_signature_format(body.get("live_session_token_signature"))
            raw = oauth.compute_lst(consumer.dh, exponent, response_hex, secret)
        except oauth.OAuthFormatError as exc:
            raise ProtocolError("oauth/live_session_token", str(exc)) from exc
        if not oauth.validate_lst(raw, consumer.consumer_key, signature):
            raise LstValidationError(
                "The live session token did not validate: the encryption key, the "
                "Diffie-Hellman parameters or the consumer key do not match what the server has."
            )
        now = self._clock()
        expires_at, problem = lst_expiry(body.get("live_session_token_expiration"), now)
        self._generation += 1
        self._lifetime = expires_at - now
        if problem is None:
            _log.info(
                "live session token #%d obtained; it expires in %.0f s",
                self._generation,
                self._lifetime,
            )
        elif not self._expiry_warned:
            self._expiry_warned = True
            _log.warning(
                "live session token #%d obtained, but IBKR's live_session_token_expiration %s; "
                "taking it to last %.0f minutes (renewed sooner if IBKR refuses it). This is "
                "said once.",
                self._generation,
                problem,
                DEFAULT_LST_LIFETIME / 60,
            )
        return LiveSessionToken(
            value=base64.b64encode(raw).decode("ascii"),
            expires_at=expires_at,
            generation=self._generation,
        )


def lst_expiry(value: object, now: float) -> tuple[float, str | None]:
    """When a new LST expires (epoch seconds), from the server's ``live_session_token_expiration``
    (epoch milliseconds), and None; or, when that is no usable instant, ``now`` plus
    :data:`DEFAULT_LST_LIFETIME` and what was wrong with it."""
    fallback = now + DEFAULT_LST_LIFETIME
    if value is None:
        return fallback, "is missing"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return fallback, f"is a {type(value).__name__}, not a number"
    try:
        seconds = float(value) / 1000.0
    except (ValueError, OverflowError):
        return fallback, f"is not a number ({str(value)[:40]!r})"
    if not math.isfinite(seconds):
        return fallback, f"is not a finite number ({str(value)[:40]!r})"
    lifetime = seconds - now
    if lifetime <= 0:
        return fallback, f"is {-lifetime:.0f} s in the past"
    if lifetime < MIN_LST_LIFETIME:
        return fallback, f"is only {lifetime:.1f} s away"
    if lifetime > MAX_LST_LIFETIME:
        return fallback, f"is {lifetime / 86400:.0f} days away"
    return seconds, None


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
    request = http.build_request("POST", url, headers=headers, content=b"")
    try:
        response = await http.send(request, auth=httpx.Auth(), stream=True)
        try:
            content = await read_body(response)
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        raise ApiTimeoutError(endpoint, "the server did not answer in time") from exc
    except httpx.TransportError as exc:
        failure = connection_error(endpoint, exc)
        _log.warning("POST %s: %s", failure.endpoint, failure.reason)
        raise failure from exc
    if response.status_code != 200:
        raise error_from_response(
            response.status_code, endpoint, content, response.headers.get("content-type")
        )
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(endpoint, "the reply is not JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(endpoint, "the reply is not a JSON object")
    return data
