"""One exception hierarchy for everything that can go wrong talking to IBKR.

Every error carries a message a trader can act on (what happened and what to do next) plus the
attributes code needs to decide (status, endpoint, ``retry_after``...). Messages never contain
secrets: the server text quoted in them is shortened and any OAuth parameter in it is redacted.
Messages are one line without control characters (:func:`ibtui.text.clean_text`): whatever text a
message quotes (a server's, a key's name), it is safe to print to a terminal.

::

    IbkrError
    ├── AuthError                     the OAuth handshake or the session was refused
    │   ├── InvalidConsumerError      consumer key unknown or not active yet
    │   ├── LstValidationError        the live session token signature did not match
    │   ├── VerifierError             wrong or expired verifier in the third-party login
    │   └── SessionExpiredError       401/410 on a signed request: renew the LST / log in again
    ├── RateLimitedError              429 (retry_after seconds or None, endpoint)
    ├── ApiStatusError                any other non-2xx answer (status, endpoint, server_text)
    │   ├── NoBridgeError             400 "no bridge": the brokerage session is not open
    │   ├── CompetingSessionError     another platform holds the brokerage session
    │   └── AccountsNotQueriedError   400 "Please query /accounts first"
    ├── ApiConnectionError            the server could not be reached
    │   └── TlsVerificationError      its TLS certificate could not be verified
    ├── ApiTimeoutError               the server did not answer in time
    ├── ProtocolError                 the answer could not be understood (endpoint, reason)
    │   └── ResponseTooLargeError     the answer was larger than ibtui reads (BODY_LIMIT)
    ├── OrderRejectedError            IBKR refused an order, a reply, a modify or a cancel
    └── OrderOutcomeUnknownError      an order POST may or may not have reached IBKR

:func:`error_from_response` turns an HTTP error answer (any of IBKR's envelopes, API.md §0.4 and
§11.3) into the right class, :func:`connection_error` an httpx transport failure.
:func:`endpoint_path` normalises a URL or path for messages and pacing.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import socket
import ssl
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit

from ibtui.logfile import log_path
from ibtui.text import clean_text

__all__ = [
    "AccountsNotQueriedError",
    "ApiConnectionError",
    "ApiStatusError",
    "ApiTimeoutError",
    "AuthError",
    "CompetingSessionError",
    "IbkrError",
    "InvalidConsumerError",
    "LstValidationError",
    "NoBridgeError",
    "OrderOutcomeUnknownError",
    "OrderRejectedError",
    "ProtocolError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "SessionExpiredError",
    "TlsVerificationError",
    "VerifierError",
    "connection_error",
    "endpoint_path",
    "error_from_response",
    "is_order_action_path",
    "parse_retry_after",
]

_MAX_SERVER_TEXT = 200
_API_PREFIX = "/v1/api"
_REDACT = re.compile(
    r"(?i)\b(oauth_[a-z_]+|live_session_token|diffie_hellman_[a-z_]+|access_token_secret)"
    r"(\s*[=:]\s*)(\"[^\"]*\"|[^\s,&\"]+)"
)
# POST /iserver/account/{acct}/orders (+ /whatif), POST|DELETE /iserver/account/{acct}/order/{id},
# POST /iserver/reply/{id}: the endpoints whose failures are order rejections.
_ORDER_ACTION = re.compile(
    r"^/iserver/(?:account/[^/]+/orders(?:/whatif)?|account/(?!order/)[^/]+/order/[^/]+|reply/[^/]+)$",
    re.IGNORECASE,
)


def endpoint_path(path_or_url: str) -> str:
    """The API path of a request: no host, no query, no ``/v1/api`` prefix, no trailing ``/``.

    >>> endpoint_path("https://api.ibkr.com/v1/api/iserver/account/orders?force=true")
    '/iserver/account/orders'
    >>> endpoint_path("iserver/account/trades/")
    '/iserver/account/trades'
    """
    text = path_or_url.strip()
    path = urlsplit(text).path if "://" in text else text.split("?", 1)[0].split("#", 1)[0]
    path = "/" + "/".join(part for part in path.split("/") if part)
    if path.lower() == _API_PREFIX or path.lower().startswith(_API_PREFIX + "/"):
        path = path[len(_API_PREFIX) :] or "/"
    return path


def is_order_action_path(path: str) -> bool:
    """True for the order placement, what-if, reply, modify and cancel endpoints."""
    return _ORDER_ACTION.match(endpoint_path(path)) is not None


def _clean(text: str) -> str:
    """Server text fit for a message: one line, redacted, at most ~200 characters."""
    text = _REDACT.sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)
    text = " ".join(clean_text(text).split())
    if len(text) > _MAX_SERVER_TEXT:
        text = text[: _MAX_SERVER_TEXT - 1] + "…"
    return text


def parse_retry_after(value: str | float | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), else None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class IbkrError(Exception):
    """Base of every ibtui error about IBKR. ``message`` is the text shown to the trader.

    ``needs_attention`` marks the errors that trying again cannot cure (wrong keys, an unknown
    consumer): the console stops retrying and says what to fix.
    """

    needs_attention: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        message = clean_text(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------------------------
# Authentication


class AuthError(IbkrError):
    """IBKR refused the OAuth handshake or the signed session."""

    needs_attention: ClassVar[bool] = True

    default_message = (
        "IBKR refused the login. Check the consumer key, the access token and the key files "
        "in the configuration."
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        server_text: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.server_text = server_text
        if message is None:
            message = self.default_message
            if server_text:
                message = f"{message} (IBKR said: {server_text})"
        super().__init__(message)


class InvalidConsumerError(AuthError):
    """401 ``invalid consumer``: the consumer key is unknown to IBKR or not active yet."""

    default_message = (
        "IBKR does not recognise the consumer key (invalid consumer). Check consumer_key in the "
        "configuration; a newly registered key can take a day, or until after the weekend, "
        "to become active."
    )


class LstValidationError(AuthError):
    """The live session token IBKR sent back did not validate against our keys."""

    default_message = (
        "The live session token did not validate: the keys in the configuration do not match "
        "the ones registered with IBKR, or the server is not IBKR."
    )


class VerifierError(AuthError):
    """The verifier typed in the third-party login was wrong, already used or expired."""

    default_message = (
        "IBKR did not accept the verification code (wrong, already used or expired). "
        "Start the login again to get a new code."
    )


class SessionExpiredError(AuthError):
    """A signed request got 401 (or 410 Gone): the live session token or session is gone."""

    needs_attention: ClassVar[bool] = False  # renewed automatically

    default_message = (
        "IBKR no longer accepts this session (expired or logged out). ibtui renews it "
        "automatically; if this keeps happening, run `ibtui login` again."
    )


# --------------------------------------------------------------------------------------------
# HTTP status errors


class RateLimitedError(IbkrError):
    """429 Too Many Requests. ``retry_after`` is in seconds when IBKR said how long to wait."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        retry_after: float | None = None,
        server_text: str | None = None,
        message: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.server_text = server_text
        self.status = 429
        if message is None:
            where = f" on {endpoint}" if endpoint else ""
            wait = (
                f"wait {retry_after:g} s before retrying"
                if retry_after is not None
                else "ibtui slows down and retries"
            )
            message = (
                f"IBKR's rate limit was hit{where}: {wait}. Repeated violations can lock this "
                "IP address out for 10 minutes."
            )
        super().__init__(message)


class ApiStatusError(IbkrError):
    """IBKR answered with an error status (or a 200 error envelope) not covered by a subclass."""

    def __init__(
        self,
        status: int,
        endpoint: str,
        server_text: str | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.server_text = server_text
        if message is None:
            message = self._default_message()
        super().__init__(message)

    def _default_message(self) -> str:
        said = f": {self.server_text}" if self.server_text else ""
        hint = ""
        if self.status == 503:
            hint = " IBKR's backend did not answer in time; try again in a moment."
        elif self.status >= 500:
            hint = " IBKR reported a problem on its side; try again, and check the request."
        elif self.status == 404:
            hint = " The item does not exist (any more)."
        return f"IBKR answered {self.status} on {self.endpoint}{said}.{hint}"


class NoBridgeError(ApiStatusError):
    """400 ``no bridge``: the brokerage session is not open (e.g. after the nightly reset)."""

    def _default_message(self) -> str:
        return (
            f"IBKR has no brokerage session for {self.endpoint} (no bridge). ibtui reopens it; if "
            "this persists, another IBKR login (TWS, mobile, Client Portal) may be holding it."
        )


class CompetingSessionError(ApiStatusError):
    """Another platform (TWS, mobile, Client Portal) took the brokerage session."""

    def _default_message(self) -> str:
        return (
            "Another IBKR login (TWS, IBKR Mobile, Client Portal or another ibtui) holds the "
            "brokerage session. ibtui takes it back at most every 5 minutes, so the two never "
            "fight over it; log out of the other platform, or take it back now from the console."
        )


class AccountsNotQueriedError(ApiStatusError):
    """400 ``Please query /accounts first``: call ``GET /iserver/accounts`` and retry."""

    def _default_message(self) -> str:
        return (
            f"IBKR wants the account list loaded before {self.endpoint}; ibtui reloads it and "
            "retries."
        )


# --------------------------------------------------------------------------------------------
# Transport and protocol


class ApiConnectionError(IbkrError):
    """The request did not reach IBKR or the connection broke before an answer arrived."""

    def __init__(self, endpoint: str | None, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        where = f" for {endpoint}" if endpoint else ""
        super().__init__(
            f"Cannot reach IBKR{where}: {reason}. Check the network connection and the API URL."
        )


class TlsVerificationError(ApiConnectionError):
    """The server's TLS certificate could not be verified; nothing was sent to it."""

    needs_attention: ClassVar[bool] = True  # trying again reaches the same certificate

    def __init__(self, endpoint: str | None, reason: str) -> None:
        super().__init__(endpoint, f"the server's TLS certificate could not be verified: {reason}")
        where = f" (for {endpoint})" if endpoint else ""
        self.message = (
            f"The server's TLS certificate could not be verified{where}: {reason}. ibtui only "
            "talks to a server it can verify: check base_url in the configuration (the "
            "simulator serves plain http on 127.0.0.1) and the system's CA certificates."
        )
        self.args = (self.message,)


class ApiTimeoutError(IbkrError):
    """IBKR did not answer in time. ``timeout`` is the limit that was exceeded, in seconds."""

    def __init__(
        self,
        endpoint: str | None,
        reason: str = "no answer in time",
        *,
        timeout: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.timeout = timeout
        where = f" on {endpoint}" if endpoint else ""
        limit = f" (limit {timeout:g} s)" if timeout is not None else ""
        super().__init__(f"IBKR timed out{where}{limit}: {reason}. Try again in a moment.")


class ProtocolError(IbkrError):
    """IBKR's answer could not be understood: not JSON, or not the expected shape.

    ``reason`` is short and never contains the whole body. Parsers that do not know the endpoint
    pass ``None``; the client adds it with :meth:`with_endpoint`.
    """

    def __init__(self, endpoint: str | None, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        where = f" for {endpoint}" if endpoint else ""
        super().__init__(
            f"Unexpected answer from IBKR{where}: {reason}. If this keeps happening, the API "
            f"may have changed: {_report_hint()}"
        )

    def with_endpoint(self, endpoint: str) -> ProtocolError:
        """The same error naming ``endpoint`` (keeps the cause)."""
        err = ProtocolError(endpoint, self.reason)
        err.__cause__ = self.__cause__
        return err


class ResponseTooLargeError(ProtocolError):
    """An answer longer than ibtui reads (``limit`` bytes); it was refused unread."""

    def __init__(self, method: str, endpoint: str, limit: int) -> None:
        super().__init__(endpoint, f"the answer is larger than {_size(limit)}")
        self.method = method
        self.limit = limit
        self.message = (
            f"IBKR's answer to {method} {endpoint} was larger than {_size(limit)}; refused "
            f"(ibtui reads at most {_size(limit)} of one answer). {_report_hint()}"
        )
        self.args = (self.message,)

    def with_endpoint(self, endpoint: str) -> ProtocolError:
        err = ResponseTooLargeError(self.method, endpoint, self.limit)
        err.__cause__ = self.__cause__
        return err


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n:,} bytes"


def _report_hint() -> str:
    path = log_path()
    if path is None:
        return "please report it."
    return f"please report it with the log file {path}."


def _describe_transport_error(exc: BaseException) -> tuple[str, bool]:
    """(what went wrong, in words; whether it was the TLS certificate) for an httpx error, from
    the cause its chain carries (httpx wraps httpcore's error, which wraps the OS's)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or "certificate verify failed"
            return _clean(str(reason)), True
    for cause in chain:
        if isinstance(cause, ssl.SSLError):
            reason = _clean(str(cause.reason or cause)).lower().replace("_", " ")
            return f"the TLS handshake failed ({reason})", False
        if isinstance(cause, ConnectionRefusedError):
            return "the connection was refused (is the server running on that port?)", False
        if isinstance(cause, socket.gaierror):
            return f"the host name could not be resolved ({_clean(cause.strerror or '')})", False
        if isinstance(cause, ConnectionResetError):
            return "the server closed the connection", False
    text = _clean(str(exc))
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__), False


def connection_error(endpoint: str | None, exc: BaseException) -> ApiConnectionError:
    """The error for an httpx transport failure: a certificate that could not be verified is
    :class:`TlsVerificationError`, anything else :class:`ApiConnectionError` saying what
    happened (refused, unknown host, a failed TLS handshake...)."""
    reason, tls = _describe_transport_error(exc)
    endpoint = endpoint_path(endpoint) if endpoint else endpoint
    if tls:
        return TlsVerificationError(endpoint, reason)
    return ApiConnectionError(endpoint, reason)


# --------------------------------------------------------------------------------------------
# Orders


class OrderRejectedError(IbkrError):
    """IBKR refused an order, a reply, a modify or a cancel. ``text`` is IBKR's reason."""

    def __init__(
        self,
        text: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
    ) -> None:
        self.text = text
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"IBKR rejected the order: {text}")


class OrderOutcomeUnknownError(IbkrError):
    """An order POST failed in a way that leaves its fate unknown; it is never retried.

    ``coid`` is the client order id sent with it (empty for replies and cancels), ``reason`` what
    went wrong. The trader must look at the order list before sending the order again.
    """

    def __init__(self, coid: str, reason: str, *, endpoint: str | None = None) -> None:
        self.coid = coid
        self.reason = reason
        self.endpoint = endpoint
        name = f"Order {coid}" if coid else "The order request"
        super().__init__(
            f"{name} may or may not have reached IBKR ({reason}). Check the order list before "
            "sending it again."
        )


# --------------------------------------------------------------------------------------------
# Mapping an HTTP answer to an error


def _server_text(body: bytes | str, content_type: str | None) -> tuple[str | None, object]:
    """(error text, decoded JSON or None) from an error body of any of IBKR's envelopes."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    data: object = None
    looks_json = stripped[:1] in ("{", "[") or "json" in (content_type or "").lower()
    if looks_json and stripped:
        try:
            data = json.loads(stripped)
        except (ValueError, RecursionError):
            data = None
    if isinstance(data, dict):
        for key in ("error", "message", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return _clean(value), data
        if data.get("error") is not None:  # e.g. {"error": {"code": ...}}: keep it short
            return _clean(json.dumps(data.get("error"))[:_MAX_SERVER_TEXT]), data
        return None, data
    if data is not None:
        return None, data
    return (_clean(stripped) or None), None


def error_from_response(
    status: int,
    path: str,
    body: bytes | str,
    content_type: str | None,
    *,
    retry_after: str | float | None = None,
) -> IbkrError:
    """The error for an IBKR answer with an error status or a 200 ``{"error": ...}`` envelope.

    ``path`` may be a URL or a path with a query; only the path is kept. ``retry_after`` is the
    ``Retry-After`` header, if any. Order endpoints (:func:`is_order_action_path`) map a 2xx/4xx
    error text to :class:`OrderRejectedError`; their 5xx stay :class:`ApiStatusError`, because the
    caller must decide whether the order's outcome is unknown.
    """
    endpoint = endpoint_path(path)
    text, data = _server_text(body, content_type)
    if isinstance(data, dict):
        code = data.get("statusCode")
        if 200 <= status < 300 and isinstance(code, int | str) and str(code).isdigit():
            status = int(code)  # a 200 whose envelope names the real status
    lowered = (text or "").lower()

    if status == 401:
        if "invalid consumer" in lowered:
            return InvalidConsumerError(status=401, endpoint=endpoint, server_text=text)
        if "verifier" in lowered:
            return VerifierError(status=401, endpoint=endpoint, server_text=text)
        if endpoint.lower().startswith("/oauth/"):
            return AuthError(status=401, endpoint=endpoint, server_text=text)
        return SessionExpiredError(status=401, endpoint=endpoint, server_text=text)
    if status == 410:
        return SessionExpiredError(
            "IBKR says this session is gone (410); ibtui starts a new one. If it keeps "
            "happening, run `ibtui login` again.",
            status=410,
            endpoint=endpoint,
            server_text=text,
        )
    if status == 429:
        return RateLimitedError(
            endpoint=endpoint, retry_after=parse_retry_after(retry_after), server_text=text
        )
    if "no bridge" in lowered:
        return NoBridgeError(status, endpoint, text)
    if "competing" in lowered:
        return CompetingSessionError(status, endpoint, text)
    if "query /accounts first" in lowered:
        return AccountsNotQueriedError(status, endpoint, text)
    if text and status < 500 and is_order_action_path(endpoint):
        return OrderRejectedError(text, endpoint=endpoint, status=status)
    if 200 <= status < 300 and text is None:
        return ProtocolError(endpoint, "a successful answer was treated as an error")
    return ApiStatusError(status, endpoint, text)
