"""The ``httpx.AsyncClient`` every IBKR request goes through, and the cap on an answer's size.

No answer ibtui asks for comes near :data:`BODY_LIMIT`: positions come 100 to a page (about
90 KB from the simulator; IBKR's rows are somewhat longer), a quote snapshot has 100 conids at
most, a year of daily bars is about 20 KB; the longest unpaged lists (live orders, a week of
trades) would need thousands of orders, at about 1 KB each, to reach it. A server that sends more
is broken or hostile, and reading whatever it sends would let it fill the memory of a console
that runs for days (a 50 MB answer took it from 116 to 321 MB). So each answer is read as it
arrives and refused with :class:`~ibtui.ibkr.errors.ResponseTooLargeError` once it passes the
limit, before the rest is read:

* a response hook refuses a ``Content-Length`` above the limit, and wraps every answer's byte
  stream so that no reader (httpx's own, e.g. for a 401 it retries) gets more than the limit of
  bytes as they came over the wire;
* :func:`read_body` reads an answer for the client, counting the bytes after decompression too,
  so a small compressed answer cannot unpack into gigabytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from ibtui.ibkr.error_mapping import endpoint_path
from ibtui.ibkr.errors import ResponseTooLargeError

__all__ = ["BODY_LIMIT", "DEFAULT_TIMEOUT", "new_http_client", "read_body"]

BODY_LIMIT = 8 * 2**20  # bytes of one answer, compressed or not (see the module's docstring)
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=10.0)


def _too_large(request: httpx.Request, limit: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(request.method, endpoint_path(request.url.path), limit)


class _CappedStream(httpx.AsyncByteStream):
    """An answer's bytes as they arrive, refused once there are more than ``limit``."""

    def __init__(self, inner: httpx.AsyncByteStream, request: httpx.Request, limit: int) -> None:
        self._inner = inner
        self._request = request
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise _too_large(self._request, self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


async def cap_response_body(response: httpx.Response) -> None:
    """The response hook: refuse a declared length above :data:`BODY_LIMIT`, cap the rest."""
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > BODY_LIMIT:
        raise _too_large(response.request, BODY_LIMIT)
    if isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _CappedStream(response.stream, response.request, BODY_LIMIT)


async def read_body(response: httpx.Response, limit: int = BODY_LIMIT) -> bytes:
    """The whole (decoded) body of a response sent with ``stream=True``; ResponseTooLargeError
    past ``limit`` bytes, having read no more than that. The caller closes the response."""
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(response.request, limit)
        parts.append(chunk)
    return b"".join(parts)


def new_http_client(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose answers are capped at :data:`BODY_LIMIT`. TLS
    certificates are always verified (httpx's default)."""
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout,
        headers=headers,
        event_hooks={"response": [cap_response_body]},
    )
