"""The request as the OAuth verifier sees it, and the base strings a valid signature may cover.

OAUTH.md §11.7: the simulator rebuilds the signature base string from what it received and accepts
a signature over any of the forms working clients produce: the query string sorted into the
parameters (c), left out (a) or kept in the URL (b) of §3.4, each with the URL origin the client
addressed (scheme + ``Host``), the simulator's own listening origin, or ``https://api.ibkr.com``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import Scope

from ibtui.ibkr.oauth import OAuthFormatError, base_string, normalize_base_url

__all__ = [
    "IBKR_ORIGIN",
    "Endpoint",
    "IncomingRequest",
    "OAuthRejection",
    "candidate_base_strings",
    "incoming_from_scope",
]

IBKR_ORIGIN = "https://api.ibkr.com"


class Endpoint(enum.Enum):
    """Which kind of signed request is being verified (decides method, tokens and prepend)."""

    REQUEST_TOKEN = enum.auto()
    ACCESS_TOKEN = enum.auto()
    LIVE_SESSION_TOKEN = enum.auto()
    API = enum.auto()

    @property
    def uses_rsa(self) -> bool:
        return self is not Endpoint.API


class OAuthRejection(Exception):
    """A request the server refuses; ``reason`` goes into the 401 body."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class IncomingRequest:
    """The parts of an HTTP request that enter signature verification."""

    method: str
    path: str  # the path exactly as sent (percent-encoded, no query), e.g. /v1/api/tickle
    query: str  # the raw query string, without '?'
    authorization: str | None = field(repr=False)
    origins: tuple[str, ...]  # candidate ``scheme://host[:port]`` values, in the order to try


def _origin(scheme: str, host: str, port: int | None) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


def incoming_from_scope(scope: Scope, listen_origins: Sequence[str] = ()) -> IncomingRequest:
    """Build an :class:`IncomingRequest` from an ASGI HTTP scope.

    The origins are, in order: the one the client addressed (scheme + ``Host``), the socket the
    server listens on (``scope["server"]``), any configured ``listen_origins``, and IBKR's.
    """
    headers = Headers(scope=scope)
    scheme = str(scope.get("scheme", "http"))
    origins: list[str] = []
    host = headers.get("host")
    if host:
        origins.append(f"{scheme}://{host}")
    server = scope.get("server")
    if server:
        server_host, server_port = server
        origins.append(_origin(scheme, str(server_host), server_port))
    origins.extend(listen_origins)
    origins.append(IBKR_ORIGIN)
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else str(scope["path"])
    path = path.split("?", 1)[0]
    query = bytes(scope.get("query_string", b"")).decode("utf-8", "replace")
    return IncomingRequest(
        method=str(scope["method"]).upper(),
        path=path,
        query=query,
        authorization=headers.get("authorization"),
        origins=_distinct_origins(origins),
    )


def _distinct_origins(origins: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for origin in origins:
        try:
            normalized = normalize_base_url(origin + "/").removesuffix("/")
        except (OAuthFormatError, ValueError):
            continue  # e.g. a Host header that is not a host
        if normalized not in result:
            result.append(normalized)
    return tuple(result)


def candidate_base_strings(
    request: IncomingRequest, signed_params: Sequence[tuple[str, str]]
) -> Iterator[str]:
    """Every base string a correct client may have signed for ``request``, without repeats.

    ``signed_params`` are the header parameters other than ``realm`` and ``oauth_signature``.
    Order: for each origin, variant (c), then (a) and (b) when there is a query string.
    """
    query_params = parse_qsl(request.query, keep_blank_values=True)
    seen: set[str] = set()
    for origin in request.origins:
        try:
            url = normalize_base_url(origin + request.path)
        except (OAuthFormatError, ValueError):
            continue
        variants = [base_string(request.method, url, [*signed_params, *query_params])]
        if request.query:
            variants.append(base_string(request.method, url, signed_params))
            variants.append(base_string(request.method, f"{url}?{request.query}", signed_params))
        for variant in variants:
            if variant not in seen:
                seen.add(variant)
                yield variant
