"""Deadlines: no request, and no command, waits for ever on a server that trickles bytes.

:class:`DeadlineTransport` gives every request an overall deadline (answer and whole body), not
only httpx's per-read timeout, which a server sending a byte now and then never trips.
:func:`command_deadline` bounds a whole command (``ibtui accounts`` …): when it runs out the
command fails with :class:`CommandTimeoutError`, which names the step that was waiting; and
code that would wait longer than what is left (a ``Retry-After`` of 900 s) asks
:func:`remaining` and says so at once instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from ibtui.ibkr.errors import IbkrError

__all__ = [
    "REQUEST_DEADLINE",
    "CommandDeadline",
    "CommandTimeoutError",
    "DeadlineTransport",
    "command_deadline",
    "remaining",
    "waiting_for",
]

REQUEST_DEADLINE = 30.0  # seconds for one request, answer and body
COMMAND_DEADLINE = 90.0  # seconds for a whole scriptable command


class CommandTimeoutError(IbkrError):
    """A command ran out of time; the message says what it was waiting for."""


@dataclass(slots=True)
class CommandDeadline:
    seconds: float
    at: float  # event-loop time
    step: str = "IBKR"

    @contextmanager
    def waiting_for(self, step: str) -> Iterator[None]:
        """Name what the command waits for, for the message if the time runs out."""
        previous, self.step = self.step, step
        yield
        self.step = previous  # not on the way out of a timeout: the message names this step


_current: ContextVar[CommandDeadline | None] = ContextVar("ibtui_deadline", default=None)


@contextmanager
def waiting_for(step: str) -> Iterator[None]:
    """Name what the running command (if it has a deadline) waits for."""
    deadline = _current.get()
    if deadline is None:
        yield
        return
    with deadline.waiting_for(step):
        yield


def remaining() -> float | None:
    """Seconds left of the running command's deadline (None: no deadline)."""
    deadline = _current.get()
    if deadline is None:
        return None
    return deadline.at - asyncio.get_running_loop().time()


@asynccontextmanager
async def command_deadline(seconds: float) -> AsyncIterator[CommandDeadline]:
    """``async with command_deadline(60) as d: with d.waiting_for("the accounts"): ...``"""
    loop = asyncio.get_running_loop()
    deadline = CommandDeadline(seconds, loop.time() + seconds)
    token = _current.set(deadline)
    try:
        async with asyncio.timeout_at(deadline.at):
            yield deadline
    except TimeoutError:
        raise CommandTimeoutError(
            f"timed out after {seconds:g} s waiting for {deadline.step}; IBKR may be slow or "
            "unreachable: try again later"
        ) from None
    finally:
        _current.reset(token)


class _DeadlineStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, at: float, request: httpx.Request) -> None:
        self._inner = inner
        self._at = at
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        while True:
            try:
                async with asyncio.timeout_at(self._at):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx.ReadTimeout(
                    "the answer did not arrive in time", request=self._request
                ) from None
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class DeadlineTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: each request, its answer and its whole body within ``seconds``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, seconds: float = REQUEST_DEADLINE) -> None:
        self.inner = inner
        self.seconds = seconds

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        at = asyncio.get_running_loop().time() + self.seconds
        try:
            async with asyncio.timeout_at(at):
                response = await self.inner.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _DeadlineStream(stream, at, request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
