"""The simulated IBKR OAuth 1.0a Extended server (OAUTH.md §8, §9, §11).

:class:`OAuthServer` implements :class:`ibtui.sim.auth_api.Authenticator`: it serves
``/v1/api/oauth/request_token``, ``/v1/api/oauth/access_token``,
``/v1/api/oauth/live_session_token`` and the ``/authorize`` page, and verifies every other signed
request for the API app. All cryptography comes from :mod:`ibtui.ibkr.oauth`.
"""

from __future__ import annotations

import base64
import itertools
import random
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ibtui.ibkr.oauth import (
    HMAC_SHA256,
    RSA_SHA256,
    OAuthFormatError,
    compute_lst,
    dh_challenge,
    encrypt_access_token_secret,
    hmac_sha256_verify,
    lst_signature,
    parse_authorization_header,
    rsa_sha256_verify,
)
from ibtui.sim.auth_api import AuthContext
from ibtui.sim.authorize import AuthorizeError, RequestTokenView, authorize_routes
from ibtui.sim.oauth_tokens import (
    AccessToken,
    Consumer,
    DemoUser,
    LiveSession,
    NonceCache,
    RequestToken,
    TokenStore,
)
from ibtui.sim.oauth_verify import (
    Endpoint,
    IncomingRequest,
    OAuthRejection,
    candidate_base_strings,
    incoming_from_scope,
)

__all__ = ["OAuthServer", "Verified"]

API_PREFIX = "/v1/api"
_COMMON_PARAMS = ("oauth_nonce", "oauth_timestamp", "oauth_signature")
_ENDPOINT_PARAMS = {
    Endpoint.REQUEST_TOKEN: ("oauth_callback",),
    Endpoint.ACCESS_TOKEN: ("oauth_token", "oauth_verifier"),
    Endpoint.LIVE_SESSION_TOKEN: ("oauth_token", "diffie_hellman_challenge"),
    Endpoint.API: ("oauth_token",),
}


@dataclass(frozen=True)
class Verified:
    """A request that passed every check of §11 (steps 1-7)."""

    consumer: Consumer
    params: dict[str, str] = field(repr=False)
    access_token: AccessToken | None = None
    request_token: RequestToken | None = None


class OAuthServer:
    """Issues tokens and LSTs and verifies signed requests exactly as OAUTH.md §11 describes.

    ``clock`` returns epoch seconds (inject a fake one in tests); ``seed`` makes the tokens,
    secrets and DH exponents repeatable (without it they come from the system CSPRNG);
    ``dh_exponent`` overrides the server's DH exponent ``b`` (tests replaying vectors);
    ``listen_origins`` are extra ``scheme://host:port`` values the server is reachable at.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        consumers: Iterable[Consumer] = (),
        demo_user: DemoUser | None = None,
        lst_lifetime: float = 86_400.0,
        timestamp_window: float = 300.0,
        seed: int | None = None,
        dh_exponent: Callable[[], int] | None = None,
        listen_origins: Sequence[str] = (),
    ) -> None:
        self._clock = clock
        # A seed makes a simulation repeatable; without one, tokens come from the CSPRNG.
        self._rng: random.Random = (
            random.Random(seed)  # noqa: S311
            if seed is not None
            else secrets.SystemRandom()
        )
        self._consumers: dict[str, Consumer] = {c.key: c for c in consumers}
        self.demo_user = demo_user if demo_user is not None else DemoUser()
        self.lst_lifetime = lst_lifetime
        self.timestamp_window = timestamp_window
        self._dh_exponent = dh_exponent or self._random_exponent
        self._listen_origins: list[str] = list(listen_origins)
        self._tokens = TokenStore(self._rng)
        self._nonces = NonceCache(timestamp_window)
        self._error_ids = itertools.count(self._rng.randrange(1000, 9000))

    # --- registry ---------------------------------------------------------------------------

    def register_consumer(self, consumer: Consumer) -> None:
        self._consumers[consumer.key] = consumer

    def set_consumer_enabled(self, consumer_key: str, enabled: bool) -> None:
        self._consumers[consumer_key] = replace(self._consumers[consumer_key], enabled=enabled)

    def add_listen_origin(self, origin: str) -> None:
        """Also accept signatures over ``origin`` (e.g. ``http://127.0.0.1:8123``)."""
        if origin not in self._listen_origins:
            self._listen_origins.append(origin)

    def provision_access_token(
        self, consumer_key: str, *, is_paper: bool = True
    ) -> tuple[str, str]:
        """First-party provisioning (§9): a new access token and its encrypted secret."""
        consumer = self._consumers[consumer_key]
        record = self._tokens.issue_access_token(consumer_key, is_paper=is_paper)
        return record.token, encrypt_access_token_secret(consumer.encryption_key, record.secret)

    def install_access_token(
        self, consumer_key: str, access_token: str, secret: bytes, *, is_paper: bool = True
    ) -> None:
        """Register an access token issued earlier (a restarted server, or test vectors)."""
        if consumer_key not in self._consumers:
            raise KeyError(f"unknown consumer {consumer_key!r}")
        self._tokens.add_access_token(AccessToken(access_token, consumer_key, secret, is_paper))

    def install_request_token(
        self, consumer_key: str, request_token: str, verifier: str | None = None
    ) -> None:
        """Test hook: a request token issued earlier, approved when ``verifier`` is given."""
        if consumer_key not in self._consumers:
            raise KeyError(f"unknown consumer {consumer_key!r}")
        record = RequestToken(request_token, consumer_key, self._clock(), verifier)
        self._tokens.request_tokens[request_token] = record

    def install_lst(self, access_token: str, lst: str, expires_at: float) -> None:
        """Test hook: make ``lst`` (base64) the current LST of ``access_token``."""
        self._tokens.set_session(access_token, LiveSession(lst, expires_at))

    def lst_expires_at(self, access_token: str) -> float | None:
        session = self._tokens.sessions.get(access_token)
        return None if session is None else session.expires_at

    def access_token_info(self, access_token: str) -> AccessToken | None:
        return self._tokens.access_tokens.get(access_token)

    # --- Authenticator ----------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """Absolute-path routes: mount them on the top-level app, not under ``/v1/api``."""
        endpoints = {
            "request_token": self._request_token,
            "access_token": self._access_token,
            "live_session_token": self._live_session_token,
        }
        routes: list[BaseRoute] = []
        for name, endpoint in endpoints.items():
            for suffix in ("", "/"):
                routes.append(
                    Route(f"{API_PREFIX}/oauth/{name}{suffix}", endpoint, methods=["POST"])
                )
        routes.extend(authorize_routes(self))
        return routes

    async def authenticate(self, request: Request) -> AuthContext | Response:
        try:
            verified = self.verify(self._incoming(request), Endpoint.API)
        except OAuthRejection as rejection:
            return self.rejection_response(rejection)
        assert verified.access_token is not None
        return AuthContext(verified.consumer.key, verified.access_token.token)

    def stream_context(self, access_token: str) -> AuthContext | None:
        """An unsigned WebSocket upgrade (API.md §10.1): the access token must be known, its
        consumer enabled and its live session token current."""
        record = self._tokens.access_tokens.get(access_token)
        session = self._tokens.sessions.get(access_token)
        if record is None or session is None or session.expired(self._clock()):
            return None
        consumer = self._consumers.get(record.consumer_key)
        if consumer is None or not consumer.enabled:
            return None
        return AuthContext(consumer.key, access_token)

    def revoke(self, access_token: str) -> None:
        self._tokens.drop_session(access_token)

    def expire_all_lsts(self) -> None:
        self._tokens.expire_sessions(self._clock())

    # --- the authorize page's backend ------------------------------------------------------

    @property
    def demo_login(self) -> tuple[str, str]:
        return self.demo_user.username, self.demo_user.password

    def describe_request_token(self, token: str) -> RequestTokenView | None:
        record = self._tokens.request_tokens.get(token)
        if record is None:
            return None
        return RequestTokenView(record.consumer_key, record.authorized, record.used)

    def approve(self, request_token: str, username: str, password: str) -> str:
        """The user logs in on the authorize page and approves; returns the verifier."""
        record = self._tokens.request_tokens.get(request_token)
        if record is None or record.used:
            raise AuthorizeError("This authorization link is invalid or has already been used.")
        if (username, password) != self.demo_login:
            raise AuthorizeError("Invalid username or password.")
        if record.verifier is None:
            record.verifier = format(self._rng.getrandbits(80), "020x")
        return record.verifier

    def verifier_for(self, request_token: str) -> str | None:
        """The verifier shown to the user for ``request_token`` (None until approved)."""
        record = self._tokens.request_tokens.get(request_token)
        return None if record is None else record.verifier

    # --- verification (§11 steps 1-7) -------------------------------------------------------

    def verify(self, request: IncomingRequest, endpoint: Endpoint) -> Verified:
        """Run every check of §11 on ``request``; raises :class:`OAuthRejection`."""
        now = self._clock()
        params = self._parse_header(request.authorization)
        consumer = self._consumers.get(params.get("oauth_consumer_key", ""))
        if consumer is None or not consumer.enabled:
            raise OAuthRejection("invalid consumer")
        if params.get("realm") != consumer.realm:
            raise OAuthRejection("invalid realm")
        expected_method = RSA_SHA256 if endpoint.uses_rsa else HMAC_SHA256
        if params.get("oauth_signature_method") != expected_method:
            raise OAuthRejection("invalid signature method")
        for name in (*_COMMON_PARAMS, *_ENDPOINT_PARAMS[endpoint]):
            if not params.get(name):
                raise OAuthRejection(f"missing parameter {name}")
        self._check_timestamp(params["oauth_timestamp"], now)
        nonce_key = (consumer.key, params.get("oauth_token", ""), params["oauth_nonce"])
        if self._nonces.seen(nonce_key, now):
            raise OAuthRejection("nonce already used")
        verified = self._check_tokens(endpoint, consumer, params, now)
        self._check_signature(request, endpoint, verified)
        self._nonces.add(nonce_key, now)
        if verified.request_token is not None:
            # Single use, whatever the outcome: after a wrong verifier the flow starts over.
            verified.request_token.used = True
            expected = (verified.request_token.verifier or "").encode("ascii")
            if not secrets.compare_digest(expected, params["oauth_verifier"].encode("utf-8")):
                raise OAuthRejection("invalid verifier")
        return verified

    @staticmethod
    def _parse_header(value: str | None) -> dict[str, str]:
        if not value:
            raise OAuthRejection("missing Authorization header")
        try:
            return parse_authorization_header(value)
        except OAuthFormatError as exc:
            raise OAuthRejection("malformed Authorization header") from exc

    def _check_timestamp(self, value: str, now: float) -> None:
        if (
            not (value.isascii() and value.isdigit())
            or abs(int(value) - now) > self.timestamp_window
        ):
            raise OAuthRejection("timestamp out of range")

    def _check_tokens(
        self, endpoint: Endpoint, consumer: Consumer, params: dict[str, str], now: float
    ) -> Verified:
        if endpoint is Endpoint.REQUEST_TOKEN:
            if params["oauth_callback"] != "oob":
                raise OAuthRejection("invalid callback, only oob is supported")
            return Verified(consumer, params)
        token = params["oauth_token"]
        if endpoint is Endpoint.ACCESS_TOKEN:
            return Verified(
                consumer, params, request_token=self._check_request_token(consumer, params)
            )
        access = self._tokens.access_tokens.get(token)
        if access is None or access.consumer_key != consumer.key:
            if endpoint is Endpoint.LIVE_SESSION_TOKEN:
                raise OAuthRejection(f"LST failed, error: No access secret key found for {token}")
            raise OAuthRejection("unknown token")
        if endpoint is Endpoint.API:
            session = self._tokens.sessions.get(token)
            if session is None:
                raise OAuthRejection("no live session token")
            if session.expired(now):
                raise OAuthRejection("expired live session token")
        return Verified(consumer, params, access_token=access)

    def _check_request_token(self, consumer: Consumer, params: dict[str, str]) -> RequestToken:
        record = self._tokens.request_tokens.get(params["oauth_token"])
        if record is None or record.consumer_key != consumer.key:
            raise OAuthRejection("unknown token")
        if record.used:
            raise OAuthRejection("request token already used")
        if record.verifier is None:
            raise OAuthRejection("request token not authorized")
        return record  # the verifier is compared once the signature is known to be genuine

    def _check_signature(self, request: IncomingRequest, endpoint: Endpoint, v: Verified) -> None:
        signature = v.params["oauth_signature"]
        signed = [(k, val) for k, val in v.params.items() if k not in ("realm", "oauth_signature")]
        for base in candidate_base_strings(request, signed):
            if endpoint is Endpoint.API:
                assert v.access_token is not None
                lst = self._tokens.sessions[v.access_token.token].lst
                if hmac_sha256_verify(lst, base, signature):
                    return
            else:
                prepend = ""
                if endpoint is Endpoint.LIVE_SESSION_TOKEN:
                    assert v.access_token is not None
                    prepend = v.access_token.secret.hex()
                if rsa_sha256_verify(v.consumer.signature_key, prepend + base, signature):
                    return
        raise OAuthRejection("invalid signature")

    # --- endpoints --------------------------------------------------------------------------

    def rejection_response(self, rejection: OAuthRejection) -> Response:
        body = {"error": f"id: {next(self._error_ids)}, error: {rejection.reason}"}
        return JSONResponse({**body, "statusCode": rejection.status}, status_code=rejection.status)

    def _incoming(self, request: Request) -> IncomingRequest:
        return incoming_from_scope(request.scope, self._listen_origins)

    async def _request_token(self, request: Request) -> Response:
        try:
            verified = self.verify(self._incoming(request), Endpoint.REQUEST_TOKEN)
        except OAuthRejection as rejection:
            return self.rejection_response(rejection)
        record = self._tokens.issue_request_token(verified.consumer.key, self._clock())
        return JSONResponse({"oauth_token": record.token})

    async def _access_token(self, request: Request) -> Response:
        try:
            verified = self.verify(self._incoming(request), Endpoint.ACCESS_TOKEN)
        except OAuthRejection as rejection:
            return self.rejection_response(rejection)
        consumer = verified.consumer
        record = self._tokens.issue_access_token(consumer.key, is_paper=self.demo_user.is_paper)
        secret = encrypt_access_token_secret(consumer.encryption_key, record.secret)
        body = {"is_paper": record.is_paper, "oauth_token": record.token}
        return JSONResponse({**body, "oauth_token_secret": secret})

    async def _live_session_token(self, request: Request) -> Response:
        try:
            verified = self.verify(self._incoming(request), Endpoint.LIVE_SESSION_TOKEN)
            return self._issue_lst(verified)
        except OAuthRejection as rejection:
            return self.rejection_response(rejection)

    def _issue_lst(self, verified: Verified) -> Response:
        """§11.8: check A, draw b, derive the LST, keep it as the only one of its access token."""
        assert verified.access_token is not None
        dh = verified.consumer.dh
        exponent = self._dh_exponent()
        try:
            lst_raw = compute_lst(
                dh,
                exponent,
                verified.params["diffie_hellman_challenge"],
                verified.access_token.secret,
            )
        except OAuthFormatError as exc:
            raise OAuthRejection("invalid diffie_hellman_challenge") from exc
        now = self._clock()
        expires_ms = round(now * 1000) + round(self.lst_lifetime * 1000)
        lst = _b64(lst_raw)
        self._tokens.set_session(verified.access_token.token, LiveSession(lst, expires_ms / 1000))
        return JSONResponse(
            {
                "diffie_hellman_response": dh_challenge(dh, exponent),
                "live_session_token_signature": lst_signature(lst_raw, verified.consumer.key),
                "live_session_token_expiration": expires_ms,
            }
        )

    def _random_exponent(self) -> int:
        return max(2, self._rng.getrandbits(256))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
