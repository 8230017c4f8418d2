"""Prices and orders pushed over IBKR's WebSocket, merged with the poller: what the console needs
of a live feed (:class:`Stream`, implemented by the adapters over the client's ``MarketStream``)
and :class:`StreamFeed`, which runs one in the app's worker while an account is open.

One source of truth per instrument. The feed tells the stream what the trader is looking at
(``wanted()``, in priority order: the open ticket's or chart's instrument, the rows on screen,
the watchlist; the stream keeps within IBKR's line allowance) every ``follow_every`` seconds. A
pushed quote reaches the screen at once, as the :class:`~ibtui.tui.messages.QuotesUpdated` the
poller posts. :meth:`StreamFeed.streamed` is what the poller leaves out: the conids subscribed on
the live stream (those that answered their subscription). A subscription that is quiet because
nothing moves (a closed market) is still streamed: the stream pushes each change, so the price
shown is the price. Polling takes them over when the stream is down (at once: nothing is streamed
while it is not live); a socket that went silent is the stream's to notice (IBKR heart-beats: a
silent socket is opened again, and is down meanwhile). The feed posts a :class:`StreamChanged`
when the stream's state or what it covers changes, so the status bar says "stream" exactly while
it is live and covers something. Quotes the poller asked for before a conid's tick came are
dropped on their way to the screen (:meth:`StreamFeed.polled`), never shown over a newer pushed
one. Orders pushed (``sor``) go to the account's order watch at once
(:meth:`~ibtui.tui.order_watch.OrderWatch.pushed`), which then polls only as a safety net.
P&L pushed (``spl``, asked for when the feed is given a ``pnl`` hook) goes to the account's
balances (:meth:`~ibtui.tui.balances.BalancesWatch.pushed`) at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from textual.message import Message

from ibtui.text import clean_text
from ibtui.tui.messages import QuotesUpdated
from ibtui.tui.viewmodels import QuoteView

if TYPE_CHECKING:
    from ibtui.tui.balances import PnlPush
    from ibtui.tui.order_watch import OrderWatch
    from ibtui.tui.trading import OrderView

__all__ = [
    "Stream",
    "StreamChanged",
    "StreamFeed",
    "StreamSink",
    "StreamStatus",
    "StreamView",
    "Timer",
]

StreamStatus = Literal["connecting", "live", "down"]

FOLLOW_EVERY = 0.25  # seconds between looks at what the trader is looking at
# A burst of pushed quotes goes to the screen as one batch: posted once the socket has been
# quiet for BATCH_QUIET seconds, or BATCH_CAP seconds after the burst's first quote
BATCH_QUIET = 0.003
BATCH_CAP = 0.025
RETRY_FIRST = 1.0  # a stream that could not even start: tried again after this, doubling
RETRY_MAX = 30.0


@dataclass(frozen=True, slots=True)
class StreamView:
    """The stream's state: ``since`` (epoch seconds) it is in it; ``reason`` why it is down."""

    status: StreamStatus
    since: float
    reason: str = ""

    @property
    def live(self) -> bool:
        return self.status == "live"


class StreamSink(Protocol):
    """What a :class:`Stream` hands on, as view-models, in the event loop."""

    def quotes(self, quotes: Sequence[QuoteView]) -> None: ...

    def orders(self, orders: Sequence[OrderView]) -> None: ...

    def pnl(self, rows: Sequence[PnlPush]) -> None: ...

    def state(self, state: StreamView) -> None: ...


class Stream(Protocol):
    """A live feed of quotes, orders and P&L. ``run`` connects and keeps the connection
    (reconnecting and subscribing again after a drop) until cancelled, handing everything to
    ``sink``; the ``want_*`` calls may come before or while it runs. ``want_quotes`` lists
    conids in priority order: those beyond the line allowance are not streamed. ``streamed`` is
    the conids with a live subscription now."""

    async def run(self, sink: StreamSink) -> None: ...

    def want_quotes(self, conids: Sequence[int]) -> None: ...

    def want_orders(self, on: bool) -> None: ...

    def want_pnl(self, on: bool) -> None: ...

    def streamed(self) -> frozenset[int]: ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timer(Protocol):
    """What the feed times a burst on: the event loop's clock and timer (an
    ``asyncio.AbstractEventLoop`` is one; tests hand a clock they move)."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle: ...


@dataclass
class StreamChanged(Message):
    """The stream connected, went live or went down, or what it covers changed (the status bar
    says which feed is live): ``streamed`` are the conids it covers now (see
    :meth:`StreamFeed.streamed`)."""

    state: StreamView
    streamed: frozenset[int] = frozenset()


class StreamFeed:
    """Runs ``stream`` for one account (:meth:`run`, in the app's worker) and posts what it
    pushes to ``post`` (the positions screen's route), ``orders`` (the order watch) and ``pnl``
    (the balances). ``timer`` times the bursts (the running loop's, by default)."""

    def __init__(
        self,
        stream: Stream,
        post: Callable[[Message], object],
        *,
        wanted: Callable[[], Sequence[int]],
        orders: OrderWatch | None = None,
        pnl: Callable[[Sequence[PnlPush]], object] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        follow_every: float = FOLLOW_EVERY,
        batch_quiet: float = BATCH_QUIET,
        batch_cap: float = BATCH_CAP,
        timer: Timer | None = None,
    ) -> None:
        self.stream = stream
        self.post = post
        self.wanted = wanted
        self.order_watch = orders
        self.pnl_to = pnl
        self.clock = clock
        self.sleep = sleep
        self.follow_every = follow_every
        self.batch_quiet = batch_quiet
        self.batch_cap = batch_cap
        self.timer = timer
        self._pending: dict[int, QuoteView] = {}  # pushed, not yet posted
        # when the newest and the oldest pending quote arrived, on the timer's clock, and what
        # to add to it for the feed's clock (the quotes' stamps): taken at each burst's first
        # quote, as either clock may be set (the wall clock stepped, a test's clock moved)
        self._burst_last = self._burst_first = self._burst_offset = 0.0
        self._flush: TimerHandle | None = None
        self.current = StreamView("connecting", clock())
        self._asked: list[int] | None = None  # the conids last asked for
        self._covered: frozenset[int] = frozenset()  # what the last StreamChanged said

    async def run(self) -> None:
        """Follow what the trader looks at, and run the stream (started again, after a pause,
        should it end or fail), until cancelled."""
        follow = asyncio.ensure_future(self._follow())
        try:
            await self._keep_running()
        finally:
            follow.cancel()
            if self._flush is not None:
                self._flush.cancel()
                self._flush = None
            await asyncio.gather(follow, return_exceptions=True)

    async def _keep_running(self) -> None:
        self.stream.want_orders(self.order_watch is not None)
        self.stream.want_pnl(self.pnl_to is not None)
        self.follow_now()
        self.post(StreamChanged(self.current))  # "connecting" in the status bar
        pause = RETRY_FIRST
        while True:
            self.state_changed(StreamView("connecting", self.clock()))
            try:
                await self.stream.run(self)
                reason = "the stream ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # shown in the status bar; polling carries on meanwhile
                reason = clean_text(str(exc)) or type(exc).__name__
            self.state_changed(StreamView("down", self.clock(), reason))
            await self.sleep(pause)
            pause = min(pause * 2, RETRY_MAX)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.follow_every)
            self.follow_now()
            self._covers_now()  # a subscription dropped (scrolled away) or answered

    def follow_now(self) -> None:
        """Ask the stream for what the trader is looking at now, if that changed."""
        wanted = list(dict.fromkeys(self.wanted()))
        if wanted != self._asked:
            self._asked = wanted
            self.stream.want_quotes(wanted)

    # --- what the poller asks -----------------------------------------------------------------
    def streamed(self) -> frozenset[int]:
        """The conids the stream covers now: subscribed on the live stream (answered), however
        quiet since: a quote that does not move is not pushed again, and is still current."""
        if not self.current.live:
            return frozenset()
        return self.stream.streamed()

    def _covers_now(self) -> None:
        """Say so when what the stream covers changed (the status bar's "stream" or "poll")."""
        covered = self.streamed()
        if covered != self._covered:
            self._covered = covered
            self.post(StreamChanged(self.current, covered))

    def polled(self, message: QuotesUpdated) -> QuotesUpdated | None:
        """A poll's quotes without those the stream covers now (None: nothing left)."""
        live = self.streamed()
        if not live or live.isdisjoint(message.quotes):
            return message
        quotes = {c: q for c, q in message.quotes.items() if c not in live}
        if not quotes:
            return None
        return QuotesUpdated(quotes, received_at=message.received_at)

    # --- StreamSink ---------------------------------------------------------------------------
    def quotes(self, quotes: Sequence[QuoteView]) -> None:
        """Pushed quotes, posted as one batch per burst (IBKR pushes one frame per conid: a
        burst of a hundred is one message, one repaint): once no quote came for
        ``batch_quiet`` seconds, or ``batch_cap`` seconds after the burst's first."""
        timer: Timer = self.timer or asyncio.get_running_loop()
        arrived = timer.time()
        pending = self._pending
        first = not pending
        if first:
            self._burst_offset = self.clock() - arrived
        now = arrived + self._burst_offset  # on the feed's clock
        for quote in quotes:
            if quote.last is None and quote.bid is None and quote.ask is None:
                continue  # nothing to show yet
            if quote.updated_at is None:
                quote = quote.received(now)
            pending[quote.conid] = quote
            self._burst_last = arrived
        if not pending:
            return
        if first:
            self._burst_first = arrived
        if self._flush is None:
            wait = min(self.batch_quiet, self.batch_cap)
            self._flush = timer.call_at(arrived + wait, self._settle)

    def _settle(self) -> None:
        """Post the batch if the burst is over (or went on for ``batch_cap``), else look again
        when it may be."""
        timer: Timer = self.timer or asyncio.get_running_loop()
        due = min(self._burst_last + self.batch_quiet, self._burst_first + self.batch_cap)
        if timer.time() < due:
            self._flush = timer.call_at(due, self._settle)
            return
        self._post_pending()

    def _post_pending(self) -> None:
        self._flush = None
        got, self._pending = self._pending, {}
        if got:
            at = self._burst_last + self._burst_offset  # when the newest of them arrived
            self.post(QuotesUpdated(got, received_at=at, burst=True))
            if not got.keys() <= self._covered:
                self._covers_now()  # a subscription's answer: covered from now on

    def orders(self, orders: Sequence[OrderView]) -> None:
        if self.order_watch is not None and orders:
            self.order_watch.pushed(orders)

    def pnl(self, rows: Sequence[PnlPush]) -> None:
        if self.pnl_to is not None and rows:
            self.pnl_to(rows)

    def state(self, state: StreamView) -> None:
        self.state_changed(state)

    def state_changed(self, state: StreamView) -> None:
        if state.status == self.current.status and state.reason == self.current.reason:
            return
        self.current = state
        if self.order_watch is not None:
            self.order_watch.set_pushing(state.live)
        self._covered = self.streamed()  # nothing while it is not live
        self.post(StreamChanged(state, self._covered))
