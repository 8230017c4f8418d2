"""Request signing as an ``httpx.Auth``: HMAC-SHA256 with the current Live Session Token.

Every API request gets a fresh nonce and a non-decreasing timestamp. When the server answers 401,
the request is signed again with the same LST and retried once (IBKR answers spurious 401s to
valid requests); if that is refused too (or another request already renewed the token), the
token source renews the LST once (unless another request already did) and the request is
signed again and retried once more.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from ibtui.ibkr import oauth

__all__ = ["LiveSessionToken", "LstSigner", "TokenSource", "request_url_for_signing"]


@dataclass(frozen=True, slots=True)
class LiveSessionToken:
    """A Live Session Token (base64 text) and the instant it expires (epoch seconds)."""

    value: str = field(repr=False)
    expires_at: float
    generation: int = 0

    def remaining(self, now: float) -> float:
        return self.expires_at - now


class TokenSource(Protocol):
    """What the signer needs from the session: the current LST, renewed on demand."""

    async def current_lst(self) -> LiveSessionToken:
        """A valid LST, acquiring or renewing it first when it is missing or about to expire."""

    async def renew_lst(self, stale: LiveSessionToken | None) -> LiveSessionToken:
        """A new LST; if another caller already replaced ``stale``, that newer one."""


def request_url_for_signing(request: httpx.Request) -> str:
    """The URL exactly as sent (scheme, host, port, raw path and query) for the base string."""
    url = request.url
    raw = url.raw_path.decode("ascii")
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port is not None and url.port != default_port else ""
    return f"{url.scheme}://{url.host}{port}{raw}"


class LstSigner(httpx.Auth):
    """Signs API requests with HMAC-SHA256 keyed by the LST and retries once after a 401."""

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        *,
        consumer_key: str,
        realm: str,
        access_token: str,
        tokens: TokenSource,
        timestamper: Callable[[], str] | None = None,
        nonce: Callable[[], str] = oauth.generate_nonce,
    ) -> None:
        self._consumer_key = consumer_key
        self._realm = realm
        self._access_token = access_token
        self._tokens = tokens
        self._timestamp = timestamper or oauth.Timestamper()
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"LstSigner(consumer_key={self._consumer_key!r}, realm={self._realm!r})"

    def sign(self, request: httpx.Request, lst: LiveSessionToken) -> None:
        params = {
            "oauth_consumer_key": self._consumer_key,
            "oauth_nonce": self._nonce(),
            "oauth_signature_method": oauth.HMAC_SHA256,
            "oauth_timestamp": self._timestamp(),
            "oauth_token": self._access_token,
        }
        signed = oauth.sign_hmac_request(
            request.method, request_url_for_signing(request), self._realm, params, lst.value
        )
        request.headers["Authorization"] = signed.header

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("LstSigner works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        lst = await self._tokens.current_lst()
        self.sign(request, lst)
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        # IBKR answers a spurious 401 ("Invalid signature") to valid requests now and then: the
        # same token once more (or the one another request renewed meanwhile), freshly signed,
        # before a new Diffie-Hellman exchange.
        lst = await self._tokens.current_lst()
        self.sign(request, lst)
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        renewed = await self._tokens.renew_lst(lst)
        self.sign(request, renewed)
        yield request
