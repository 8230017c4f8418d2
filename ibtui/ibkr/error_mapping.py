"""Which error an IBKR answer or a failed request is, and the paths the errors name.

:func:`error_from_response` turns an HTTP error answer (any of IBKR's envelopes, API.md §0.4 and
§11.3) into the right class of :mod:`ibtui.ibkr.errors`, :func:`connection_error` an httpx
transport failure. :func:`endpoint_path` normalises a URL or path for messages and pacing. The
server text quoted in an error is shortened and any OAuth parameter in it is redacted.
:mod:`ibtui.ibkr.errors` re-exports these names.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import socket
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ibtui.ibkr.errors import (
    AccountsNotQueriedError,
    ApiConnectionError,
    ApiStatusError,
    AuthError,
    CompetingSessionError,
    IbkrError,
    InvalidConsumerError,
    NoBridgeError,
    OrderRejectedError,
    ProtocolError,
    RateLimitedError,
    SessionExpiredError,
    TlsVerificationError,
    VerifierError,
)
from ibtui.text import clean_text

__all__ = [
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
