"""IBKR's WebSocket (API.md §10): quotes, order updates and P&L pushed as they happen.

:class:`MarketStream` keeps one WebSocket open for as long as :meth:`MarketStream.run` runs
(a worker's task; cancel it to stop), and tells a :class:`StreamEvents` what arrives:

* ``quotes(quotes)``: full :class:`~ibtui.ibkr.models.Quote` objects (the same type
  :func:`~ibtui.ibkr.models.parse_snapshot` returns). IBKR sends only the fields that changed;
  the stream keeps the last known quote of each conid and hands on the merged one.
* ``orders(orders)``: :class:`~ibtui.ibkr.models.LiveOrder` objects from ``sor``. IBKR's
  objects are often partial; each is merged onto the last one known for its ``orderId`` and
  handed on once it has what a LiveOrder needs (side, conid).
* ``pnl(rows)``: ``spl``'s rows keyed by account id (as :meth:`IbkrClient.pnl` returns them).
* ``state(state)``: a :class:`StreamState` on every change: ``connecting``, ``live`` (greeted,
  authenticated, subscriptions sent), ``down`` (with a one-line reason; it reconnects by itself).

The callbacks run on the stream's task and must not block; an exception from one is logged, it
never ends the stream.

What is wanted is said at any time, from any code on the same event loop:
:meth:`~MarketStream.want_quotes` (the desired conids in priority order: the first
``line_allowance`` are streamed, the change is diffed into ``smd``/``umd``),
:meth:`~MarketStream.want_orders`, :meth:`~MarketStream.want_pnl`. :meth:`~MarketStream.streamed`
says which conids the stream really serves now (subscribed on the live socket and a tick
received since): a poller may skip those and must poll the rest.

The connection follows IBKR's rules: the URL is the client's base URL with ``wss`` and ``ws``
(``wss://api.ibkr.com/v1/api/ws?oauth_token=<access token>``), the ``api`` cookie is the
``/tickle`` session, and the User-Agent is ibind's (``ClientPortalGW/1``). Nothing is subscribed
before the greeting (``system`` and ``sts`` authenticated). A ``tic`` and an ``ech+hb`` go out
every :attr:`StreamTiming.heartbeat` seconds; a server silent for :attr:`StreamTiming.stall`
seconds (IBKR heart-beats every ~10 s) is taken as stalled and the socket is opened again.
Every ``smd`` is sent again each :attr:`StreamTiming.refresh` seconds (IBKR silently drops
streams after about 15 minutes). After a drop, a stall, a nightly reset (the ``tic`` answer or
``/tickle`` names another session) or a new LST the socket is opened again with exponential
back-off and everything is subscribed again. ``sor`` refused ("unable to subscribe") gets
``GET /iserver/accounts`` and a second try.

All time goes through the injected ``clock`` and ``sleep``; the socket through ``connect``
(default: httpx-ws over the client's own ``httpx.AsyncClient``; for the in-process simulator,
``connect=connect_httpx_ws(demo.stream_http)``, which serves it without a socket).

Building one::

    stream = MarketStream(connection.client, events,
                          access_token=connection.session.access.access_token)
    task = asyncio.create_task(stream.run())   # a worker; cancel it to stop
    stream.want_quotes(conids_in_view)          # whenever the view changes
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

from ibtui.ibkr.errors import IbkrError, ProtocolError
from ibtui.ibkr.models import QUOTE_FIELDS, Quote

if TYPE_CHECKING:
    from ibtui.ibkr.client import IbkrClient
    from ibtui.ibkr.models import LiveOrder, PnlRow

__all__ = [
    "STREAM_USER_AGENT",
    "MarketStream",
    "StreamEvents",
    "StreamSocket",
    "StreamState",
    "StreamTiming",
    "connect_httpx_ws",
    "stream_url",
]

_log = logging.getLogger(__name__)
STREAM_USER_AGENT = "ClientPortalGW/1"  # what ibind sends on OAuth sockets (API.md §10.1)
MAX_MESSAGE = 4 * 2**20  # bytes of one frame (the account list, a burst of orders)
StreamStatus = Literal["connecting", "live", "down"]


@dataclass(frozen=True, slots=True)
class StreamState:
    """The stream's state, pushed on every change; ``since`` is ``clock()`` when it began."""

    status: StreamStatus
    since: float
    reason: str = ""  # one clean line when down


class StreamEvents(Protocol):
    """What the stream tells its owner (called on the stream's task; must not block)."""

    def quotes(self, quotes: Sequence[Quote]) -> None: ...

    def orders(self, orders: Sequence[LiveOrder]) -> None: ...

    def pnl(self, rows: Mapping[str, PnlRow]) -> None: ...

    def state(self, state: StreamState) -> None: ...


class StreamSocket(Protocol):
    """One open WebSocket as the stream uses it."""

    async def send_text(self, text: str) -> None: ...

    async def receive(self) -> str | bytes:
        """The next frame's payload; raises ConnectionError (or another) once it is closed."""
        ...


Connector = Callable[[str, Mapping[str, str]], contextlib.AbstractAsyncContextManager[StreamSocket]]


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """Seconds, all read through the stream's injected clock and sleep."""

    tick: float = 1.0  # how often the housekeeping looks at the clock
    heartbeat: float = 30.0  # tic + ech+hb (IBKR wants one at least a minute)
    stall: float = 35.0  # nothing at all received for this long: reconnect (hb every ~10 s)
    greeting: float = 20.0  # for system + sts authenticated after the upgrade
    refresh: float = 600.0  # every smd sent again (IBKR drops streams after ~15 minutes)
    backoff_first: float = 1.0
    backoff_max: float = 60.0
    backoff_reset: float = 60.0  # live this long: the next drop starts the back-off again


def stream_url(base_url: str, access_token: str) -> str:
    """``https://api.ibkr.com/v1/api/`` → ``wss://api.ibkr.com/v1/api/ws?oauth_token=…``."""
    url = httpx.URL(base_url.rstrip("/") + "/ws")
    scheme = {"https": "wss", "http": "ws"}.get(url.scheme, url.scheme)
    return str(url.copy_with(scheme=scheme, params={"oauth_token": access_token}))


class _Reconnect(Exception):
    """Open the socket again; the message is the reason (one line, no secrets)."""


class _HttpxWsSocket:
    def __init__(self, ws: Any) -> None:
        self._ws = ws

    async def send_text(self, text: str) -> None:
        await self._ws.send_text(text)

    async def receive(self) -> str | bytes:
        import wsproto.events

        while True:
            event = await self._ws.receive()
            if isinstance(event, wsproto.events.TextMessage | wsproto.events.BytesMessage):
                data = event.data
                return bytes(data) if isinstance(data, bytearray) else data
            if isinstance(event, wsproto.events.CloseConnection):
                raise ConnectionError(f"closed by the server ({event.code})")


HttpFactory = Callable[[], contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


def connect_httpx_ws(http: httpx.AsyncClient | HttpFactory) -> Connector:
    """A connector over httpx-ws: on ``http`` (the client's own, over a socket), or on a client
    that ``http()`` opens for each connection and closes after it (the in-process simulator's:
    ``ibtui.sim.demo.DemoEnvironment.stream_http``, an ``ASGIWebSocketTransport`` whose task
    group lives as long as the socket). The upgrade is unsigned, like ibind's."""

    @contextlib.asynccontextmanager
    async def client() -> AsyncIterator[httpx.AsyncClient]:
        if isinstance(http, httpx.AsyncClient):
            yield http
        else:
            async with http() as opened:
                yield opened

    @contextlib.asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[StreamSocket]:
        from httpx_ws import AsyncWebSocketSession, aconnect_ws

        session: AsyncWebSocketSession
        async with (
            client() as opened,
            aconnect_ws(
                url,
                opened,
                headers=dict(headers),
                auth=httpx.Auth(),  # the upgrade carries no OAuth signature (API.md §10.1)
                max_message_size_bytes=MAX_MESSAGE,
                keepalive_ping_interval_seconds=None,  # IBKR's own heartbeats, on our clock
            ) as session,
        ):
            yield _HttpxWsSocket(session)

    return connect


@dataclass(slots=True)
class _Line:
    """One conid's market-data line."""

    sent: float  # the first smd on this socket
    refreshed: float  # the latest smd
    data: float | None = None  # the latest tick since ``sent``


@dataclass(slots=True)
class _Socket:
    """What belongs to one open socket."""

    ws: StreamSocket
    session: str
    lst_generation: int | None
    lines: dict[int, _Line] = field(default_factory=dict)
    orders: bool = False
    pnl: bool = False
    sor_retries: int = 0
    system: bool = False
    authenticated: bool = False
    greeted: asyncio.Event = field(default_factory=asyncio.Event)
    last_rx: float = 0.0
    last_hb: float = 0.0


class MarketStream:
    """IBKR's WebSocket kept open, subscribed to what is wanted (see the module's docstring)."""

    def __init__(
        self,
        client: IbkrClient,
        events: StreamEvents,
        *,
        access_token: str,
        line_allowance: int = 100,
        fields: Sequence[str] = QUOTE_FIELDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        timing: StreamTiming | None = None,
        connect: Connector | None = None,
    ) -> None:
        self._client = client
        self._events = events
        self._access_token = access_token
        self.line_allowance = max(0, line_allowance)
        self._fields = json.dumps({"fields": [str(f) for f in fields]}, separators=(",", ":"))
        self._clock = clock
        self._sleep = sleep
        self.timing = timing or StreamTiming()
        self._connect = connect or connect_httpx_ws(client.http)
        self._state = StreamState("down", clock(), "not started")
        self._wanted: tuple[int, ...] = ()
        self._orders = False
        self._pnl = False
        self._socket: _Socket | None = None
        self._dirty = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._quotes: dict[int, Quote] = {}
        self._order_objects: dict[int, dict[str, Any]] = {}
        self._malformed_logged = 0

    def __repr__(self) -> str:
        return f"MarketStream(state={self._state.status!r}, lines={len(self.streamed())})"

    # --- what the owner says and reads -----------------------------------------------------

    @property
    def state(self) -> StreamState:
        return self._state

    def want_quotes(self, conids: Sequence[int]) -> None:
        """The conids wanted, most important first; the first ``line_allowance`` stream."""
        self._wanted = tuple(dict.fromkeys(int(c) for c in conids))
        self._dirty.set()

    def want_orders(self, on: bool) -> None:
        self._orders = on
        self._dirty.set()

    def want_pnl(self, on: bool) -> None:
        self._pnl = on
        self._dirty.set()

    def streamed(self) -> frozenset[int]:
        """Conids subscribed on the live socket that delivered a tick since: the poller may
        skip them."""
        socket = self._socket
        if socket is None or self._state.status != "live":
            return frozenset()
        return frozenset(c for c, line in socket.lines.items() if line.data is not None)

    # --- the connection --------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe, read; reconnect with back-off after every end; until cancelled."""
        failures = 0
        try:
            while True:
                self._set_state("connecting")
                live_since: float | None = None
                try:
                    live_since = await self._one_socket()
                    reason = "the connection closed"
                except Exception as exc:  # the socket library's failures, whatever they are
                    reason = _reason(exc)
                    live_since = self._live_since
                self._socket = None
                if live_since is not None and (
                    self._clock() - live_since >= self.timing.backoff_reset
                ):
                    failures = 0
                delay = min(
                    self.timing.backoff_max, self.timing.backoff_first * 2 ** min(failures, 20)
                )
                failures += 1
                _log.info("stream down (%s); reconnecting in %.0f s", reason, delay)
                self._set_state("down", reason)
                await self._sleep(delay)
        finally:
            self._socket = None
            if self._state.status != "down":
                self._set_state("down", "stopped")

    _live_since: float | None = None

    async def _one_socket(self) -> float | None:
        self._live_since = None
        tickle = await self._client.tickle()
        url = stream_url(self._client.base_url, self._access_token)
        headers = {"Cookie": f"api={tickle.session}", "User-Agent": STREAM_USER_AGENT}
        async with self._connect(url, headers) as ws:
            socket = _Socket(ws, tickle.session, self._lst_generation())
            socket.last_rx = socket.last_hb = self._clock()
            self._socket = socket
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._read(socket))
                    group.create_task(self._housekeeping(socket))
                    group.create_task(self._subscriber(socket))
            except BaseExceptionGroup as group_error:
                raise _first(group_error) from None
        return self._live_since

    async def _read(self, socket: _Socket) -> None:
        while True:
            try:
                payload = await socket.ws.receive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _Reconnect(_reason(exc, "the connection dropped")) from None
            socket.last_rx = self._clock()
            message = self._decode(payload)
            if message is not None:
                await self._handle(socket, message)

    async def _housekeeping(self, socket: _Socket) -> None:
        opened = self._clock()
        while True:
            timing = self.timing  # read each time: it may be changed while the stream runs
            await self._sleep(timing.tick)
            now = self._clock()
            if not socket.greeted.is_set():
                if now - opened >= timing.greeting:
                    raise _Reconnect("IBKR did not greet the connection in time")
                continue
            if now - socket.last_rx >= timing.stall:
                raise _Reconnect(f"IBKR sent nothing for {now - socket.last_rx:.0f} s")
            generation = self._lst_generation()
            if generation != socket.lst_generation:
                raise _Reconnect("a new live session token")
            if now - socket.last_hb >= timing.heartbeat:
                socket.last_hb = now
                await self._send(socket, "tic")
                await self._send(socket, "ech+hb")
            for conid, line in list(socket.lines.items()):
                if now - line.refreshed >= timing.refresh and socket.lines.get(conid) is line:
                    line.refreshed = now
                    await self._send(socket, f"smd+{conid}+{self._fields}")

    async def _subscriber(self, socket: _Socket) -> None:
        await socket.greeted.wait()
        self._live_since = self._clock()
        self._set_state("live")
        while True:
            self._dirty.clear()
            await self._sync(socket)
            await self._dirty.wait()

    async def _sync(self, socket: _Socket) -> None:
        """Diff what is wanted into smd/umd, sor/uor, spl/upl."""
        target = self._wanted[: self.line_allowance]
        keep = set(target)
        for conid in [c for c in socket.lines if c not in keep]:
            del socket.lines[conid]
            self._quotes.pop(conid, None)
            await self._send(socket, f"umd+{conid}+{{}}")
        for conid in target:
            if conid not in socket.lines:
                now = self._clock()
                socket.lines[conid] = _Line(sent=now, refreshed=now)
                await self._send(socket, f"smd+{conid}+{self._fields}")
        if self._orders != socket.orders:
            socket.orders = self._orders
            await self._send(socket, "sor+{}" if self._orders else "uor+{}")
        if self._pnl != socket.pnl:
            socket.pnl = self._pnl
            await self._send(socket, "spl+{}" if self._pnl else "upl+{}")

    async def _send(self, socket: _Socket, text: str) -> None:
        async with self._send_lock:
            try:
                await socket.ws.send_text(text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _Reconnect(_reason(exc, "the connection dropped")) from None

    # --- what arrives ----------------------------------------------------------------------

    def _decode(self, payload: str | bytes) -> dict[str, Any] | None:
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        if not text.strip():
            return None
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            self._malformed("a frame that is not JSON", text)
            return None
        if not isinstance(message, dict):
            self._malformed("a frame that is not a JSON object", text)
            return None
        return message

    def _malformed(self, what: str, text: str) -> None:
        self._malformed_logged += 1
        if self._malformed_logged <= 20 or self._malformed_logged % 1000 == 0:
            _log.warning(
                "stream: %s left out (%d so far): %r", what, self._malformed_logged, text[:120]
            )

    async def _handle(self, socket: _Socket, message: dict[str, Any]) -> None:
        topic = message.get("topic")
        topic = topic if isinstance(topic, str) else ""
        if "error" in message:
            await self._refused(socket, topic, message)
        elif topic == "system":
            if "success" in message:
                socket.system = True
            self._greeted(socket)
        elif topic == "sts":
            args = message.get("args")
            if isinstance(args, dict):
                if args.get("authenticated") is False:
                    raise _Reconnect("IBKR says the session is not authenticated")
                if args.get("competing") is True:
                    raise _Reconnect("another login took the brokerage session")
                if args.get("authenticated") is True:
                    socket.authenticated = True
            self._greeted(socket)
        elif topic == "tic":
            session = message.get("id")
            if isinstance(session, str) and session and session != socket.session:
                raise _Reconnect("IBKR's session changed (nightly reset)")
        elif topic.startswith("smd+"):
            self._tick(socket, message)
        elif topic == "sor":
            self._order_update(message.get("args"))
        elif topic == "spl":
            self._pnl_update(message.get("args"))

    def _greeted(self, socket: _Socket) -> None:
        if socket.system and socket.authenticated:
            socket.greeted.set()

    async def _refused(self, socket: _Socket, topic: str, message: dict[str, Any]) -> None:
        text = str(message.get("error"))[:200]
        if topic == "sor" and socket.orders and socket.sor_retries < 3:
            socket.sor_retries += 1
            _log.info("stream: IBKR refused the order updates (%s); listing the accounts", text)
            with contextlib.suppress(IbkrError):
                await self._client.iserver_accounts()
            await self._send(socket, "sor+{}")
            return
        _log.warning("stream: IBKR answered an error (topic %r): %s", topic[:40], text)

    def _tick(self, socket: _Socket, message: dict[str, Any]) -> None:
        if "conid" not in message:
            return  # IBKR's empty keep-alive updates
        try:
            update = Quote.from_json(message)
        except ProtocolError as exc:
            self._malformed(f"a market-data frame that does not parse ({exc.reason})", str(message))
            return
        line = socket.lines.get(update.conid)
        if line is None:
            return  # unsubscribed meanwhile
        line.data = self._clock()
        known = self._quotes.get(update.conid)
        merged = update if known is None else known.merge(update)
        self._quotes[update.conid] = merged
        self._tell(self._events.quotes, (merged,))

    def _order_update(self, args: object) -> None:
        from ibtui.ibkr.models import LiveOrder

        if not isinstance(args, list):
            return
        out: list[LiveOrder] = []
        for item in args:
            if not isinstance(item, dict):
                continue
            order_id = item.get("orderId")
            try:
                key = int(order_id)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
            merged = {**self._order_objects.get(key, {}), **item}
            self._order_objects[key] = merged
            try:
                out.append(LiveOrder.from_json(merged))
            except ProtocolError:
                continue  # not enough known yet (a partial first message)
        if out:
            self._tell(self._events.orders, tuple(out))

    def _pnl_update(self, args: object) -> None:
        from ibtui.ibkr.models import parse_pnl

        try:
            rows = parse_pnl(args)
        except ProtocolError as exc:
            self._malformed(f"a P&L frame that does not parse ({exc.reason})", str(args))
            return
        if rows:
            self._tell(self._events.pnl, rows)

    # --- helpers ---------------------------------------------------------------------------

    def _lst_generation(self) -> int | None:
        tokens = self._client.tokens
        lst = tokens.lst if tokens is not None else None
        return None if lst is None else lst.generation

    def _set_state(self, status: StreamStatus, reason: str = "") -> None:
        if status == self._state.status and reason == self._state.reason:
            return
        self._state = StreamState(status, self._clock(), _one_line(reason))
        self._tell(self._events.state, self._state)

    def _tell(self, callback: Callable[[Any], None], value: Any) -> None:
        try:
            callback(value)
        except Exception:
            _log.exception("stream: a listener failed")


def _reason(exc: BaseException, what: str = "") -> str:
    """Why a socket ended, in one line without secrets (the URL is never in it)."""
    if isinstance(exc, BaseExceptionGroup):
        exc = _first(exc)
    if isinstance(exc, _Reconnect):
        return str(exc)
    if isinstance(exc, IbkrError):
        return _one_line(str(exc)) or type(exc).__name__
    code = getattr(exc, "code", None)
    if type(exc).__name__ == "WebSocketDisconnect" and isinstance(code, int):
        return f"the server closed the connection (code {int(code)})"
    response = getattr(exc, "response", None)
    if type(exc).__name__ == "WebSocketUpgradeError" and isinstance(response, httpx.Response):
        return f"the server refused the connection (HTTP {response.status_code})"
    return f"{what} ({_describe(exc)})" if what else _describe(exc)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that ended a socket's tasks (the others were cancelled because of it)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            exc = _first(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line[:200]


def _describe(exc: BaseException) -> str:
    text = _one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
