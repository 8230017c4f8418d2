"""A simulated clock and a scripted WebSocket for the stream's tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ibtui.ibkr.models import PnlRow, Quote
from ibtui.ibkr.models.order_views import LiveOrder
from ibtui.ibkr.stream import StreamSocket, StreamState

SESSION = "0123456789abcdef0123456789abcdef"


class FakeTime:
    """``clock``/``sleep`` for the stream; time moves only when the test calls ``advance``."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self.now + seconds, future))
        await future

    async def settle(self) -> None:
        for _ in range(30):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, step: float = 0.5) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            due = [w for w in self._waiters if w[0] <= self.now]
            self._waiters = [w for w in self._waiters if w[0] > self.now]
            for _, future in due:
                if not future.done():
                    future.set_result(None)
            await self.settle()


class FakeSocket:
    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self.url = url
        self.headers = dict(headers)
        self.sent: list[str] = []
        self.inbox: asyncio.Queue[str | bytes | BaseException] = asyncio.Queue()
        self.closed = False

    async def send_text(self, text: str) -> None:
        if self.closed:
            raise ConnectionError("closed")
        self.sent.append(text)

    async def receive(self) -> str | bytes:
        item = await self.inbox.get()
        if isinstance(item, BaseException):
            self.closed = True
            raise item
        return item

    def push(self, item: str | bytes | dict[str, Any] | BaseException) -> None:
        self.inbox.put_nowait(json.dumps(item) if isinstance(item, dict) else item)

    def greet(self) -> None:
        self.push({"topic": "system", "success": "jqtrader1", "isFT": False, "isPaper": True})
        self.push({"topic": "act", "args": {"accounts": ["DU1"]}})
        self.push({"topic": "sts", "args": {"authenticated": True, "competing": False}})

    def smd(self) -> list[str]:
        return [s for s in self.sent if s.startswith(("smd+", "umd+"))]


@dataclass
class FakeServer:
    sockets: list[FakeSocket] = field(default_factory=list)
    greet: bool = True

    @contextlib.asynccontextmanager
    async def connect(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[StreamSocket]:
        socket = FakeSocket(url, headers)
        self.sockets.append(socket)
        if self.greet:
            socket.greet()
        try:
            yield socket
        finally:
            socket.closed = True

    @property
    def last(self) -> FakeSocket:
        return self.sockets[-1]


@dataclass
class Tickled:
    session: str


class FakeClient:
    """What the stream uses of IbkrClient."""

    def __init__(self) -> None:
        self.base_url = "https://api.ibkr.com/v1/api/"
        self.tokens: Any = None
        self.session = SESSION
        self.accounts_listed = 0
        self.session_watchers: list[Callable[[str], None]] = []

    async def tickle(self, *, fresh_within: float = 0.0) -> Tickled:
        return Tickled(self.session)

    def watch_sessions(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self.session_watchers.append(callback)
        return lambda: self.session_watchers.remove(callback)

    async def iserver_accounts(self) -> None:
        self.accounts_listed += 1


@dataclass
class Recorder:
    """A StreamEvents that keeps everything it is told."""

    got_quotes: list[Quote] = field(default_factory=list)
    got_orders: list[LiveOrder] = field(default_factory=list)
    got_pnl: list[Mapping[str, PnlRow]] = field(default_factory=list)
    states: list[StreamState] = field(default_factory=list)

    def quotes(self, quotes: Sequence[Quote]) -> None:
        self.got_quotes.extend(quotes)

    def orders(self, orders: Sequence[LiveOrder]) -> None:
        self.got_orders.extend(orders)

    def pnl(self, rows: Mapping[str, PnlRow]) -> None:
        self.got_pnl.append(rows)

    def state(self, state: StreamState) -> None:
        self.states.append(state)

    def last_quote(self, conid: int) -> Quote:
        return [q for q in self.got_quotes if q.conid == conid][-1]
