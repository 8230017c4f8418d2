"""IBKR's WebSocket (API.md §10): quotes, order updates and P&L pushed as they happen.

:class:`MarketStream` keeps one WebSocket open for as long as :meth:`MarketStream.run` runs
(a worker's task; cancel it to stop), and tells a :class:`StreamEvents` what arrives:

* ``quotes(quotes)``: full :class:`~ibtui.ibkr.models.Quote` objects (the same type
  :func:`~ibtui.ibkr.models.parse_snapshot` returns). IBKR sends only the fields that changed;
  the stream keeps the last known quote of each conid and hands on the merged one (one call per
  frame; ``Quote.updated`` is IBKR's ``_updated``).
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
:meth:`~MarketStream.want_orders`, :meth:`~MarketStream.want_pnl`; and
:meth:`~MarketStream.note_session` with each ``/tickle``'s session (a nightly reset tells).
:meth:`~MarketStream.streamed` says which conids the stream really serves now (subscribed on the
live socket and a tick received since): a poller may skip those and must poll the rest.

The connection follows IBKR's rules: the URL is the client's base URL with ``wss`` and ``ws``
(``wss://api.ibkr.com/v1/api/ws?oauth_token=<access token>``), the ``api`` cookie is the
``/tickle`` session, and the User-Agent is ibind's (``ClientPortalGW/1``). Nothing is subscribed
before the greeting (``system`` and ``sts`` authenticated). A ``tic`` and an ``ech+hb`` go out
every :attr:`StreamTiming.heartbeat` seconds; a server silent for :attr:`StreamTiming.stall`
seconds (IBKR heart-beats every ~10 s) is taken as stalled and the socket is opened again.
Every ``smd`` is sent again each :attr:`StreamTiming.refresh` seconds (IBKR silently drops
streams after about 15 minutes). After a drop, a stall, a nightly reset (the ``tic`` answer or
``/tickle`` names another session) or a new LST the socket is opened again with exponential
back-off and everything is subscribed again; so after an ``sts`` that says the session is not
authenticated or is taken by another login (reopening it is the keep-alive's job). ``sor``
refused ("unable to subscribe") gets ``GET /iserver/accounts`` and a second try.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.models import QUOTE_FIELDS, Quote
from ibtui.ibkr.stream_merge import FrameMerger
from ibtui.ibkr.stream_socket import (
    STREAM_USER_AGENT,
    Connector,
    StreamSocket,
    connect_httpx_ws,
    first_failure,
    one_line,
    socket_failure,
    stream_url,
)

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

TICKLE_FRESH = 30.0  # seconds: a /tickle answer this recent names the session to open with
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


class _Reconnect(Exception):
    """Open the socket again; the message is the reason (one line, no secrets)."""


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
        self._merger = FrameMerger()
        self._session_seen: str | None = None
        self._wake = asyncio.Event()

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

    def note_session(self, session: str) -> None:
        """The ``session`` of a ``/tickle`` made elsewhere (the keep-alive): when it is not the
        one the socket was opened with, IBKR reset overnight and the socket's subscriptions are
        dead although it keeps heart-beating; the socket is opened again. While the stream is
        down, it tries again at once instead of waiting out its back-off."""
        self._session_seen = session
        if self._state.status == "down":
            self._wake.set()  # a /tickle went through: no need to wait out the back-off

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
        # every /tickle's session (the keep-alive's): a nightly reset is noticed at once
        unwatch = self._client.watch_sessions(self.note_session)
        try:
            while True:
                self._set_state("connecting")
                live_since: float | None = None
                try:
                    live_since = await self._one_socket()
                    reason = "the connection closed"
                except Exception as exc:  # the socket library's failures, whatever they are
                    # a library's message may quote the URL: the access token stays out of it
                    reason = _reason(exc).replace(self._access_token, "<access token>")
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
                await self._back_off(delay)
        finally:
            unwatch()
            self._socket = None
            if self._state.status != "down":
                self._set_state("down", "stopped")

    _live_since: float | None = None

    async def _back_off(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less when :meth:`note_session` says IBKR answers again."""
        self._wake.clear()
        sleeping = asyncio.ensure_future(self._sleep(delay))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()

    async def _one_socket(self) -> float | None:
        self._live_since = None
        # the keep-alive's answer of a moment ago serves: a /tickle of our own would wait out
        # IBKR's pace of one a second behind it (the console's first prices, a second late)
        tickle = await self._client.tickle(fresh_within=TICKLE_FRESH)
        self._session_seen = tickle.session
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
                raise first_failure(group_error) from None
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
            message = self._merger.decode(payload)
            if message is None:
                continue
            topic = message.get("topic")
            # the common frame, a quote, without the dispatch's coroutine
            if type(topic) is str and topic.startswith("smd+") and "error" not in message:
                self._tick(socket, message)
            else:
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
            if self._session_seen is not None and self._session_seen != socket.session:
                raise _Reconnect("IBKR's session changed (nightly reset)")
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
            self._merger.forget_quote(conid)
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
            orders = self._merger.orders(message.get("args"))
            if orders:
                self._tell(self._events.orders, orders)
        elif topic == "spl":
            rows = self._merger.pnl(message.get("args"))
            if rows:
                self._tell(self._events.pnl, rows)

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
        lines = socket.lines
        quote = self._merger.tick_merged(message, lines)
        if quote is None:
            return  # a keep-alive, unreadable, or unsubscribed meanwhile
        lines[quote.conid].data = self._clock()
        self._tell(self._events.quotes, (quote,))

    # --- helpers ---------------------------------------------------------------------------

    def _lst_generation(self) -> int | None:
        tokens = self._client.tokens
        lst = tokens.lst if tokens is not None else None
        return None if lst is None else lst.generation

    def _set_state(self, status: StreamStatus, reason: str = "") -> None:
        if status == self._state.status and reason == self._state.reason:
            return
        self._state = StreamState(status, self._clock(), one_line(reason))
        self._tell(self._events.state, self._state)

    def _tell(self, callback: Callable[[Any], None], value: Any) -> None:
        try:
            callback(value)
        except Exception:
            _log.exception("stream: a listener failed")


def _reason(exc: BaseException, what: str = "") -> str:
    """Why a socket ended, in one line without secrets (the URL is never in it)."""
    if isinstance(exc, BaseExceptionGroup):
        exc = first_failure(exc)
    if isinstance(exc, _Reconnect):
        return str(exc)
    if isinstance(exc, IbkrError):
        return one_line(str(exc)) or type(exc).__name__
    return socket_failure(exc, what)
