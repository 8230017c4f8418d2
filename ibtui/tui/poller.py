"""The background loop that keeps the positions screen fed; it runs in a Textual worker.

Each round: a tickle that reports the session state (every ``keep_alive_every`` seconds, first
thing after a failure, and every round while the server is unreachable), the account's selection
(``/iserver/account``, once), then snapshots in batches of at most 100 (up to
``concurrent_batches`` asked at once, each posted as it answers), and the token's life. While
another login holds the brokerage session, only the tickle runs. A conid answered only by IBKR's
warm-up (no values yet) is asked again after ``warmup_retry`` seconds instead of a whole interval.

**What is asked each round.** Rounds start every ``interval`` seconds. The rows on screen
(``first()``) and the ``watched()`` conids (the watchlist, an open chart, an open ticket) are asked
every round, first. The other held conids are asked in rotation, the longest unasked first, with
what remains of the round's request budget: the snapshot requests a second the broker's pacer
allows (:class:`~ibtui.tui.protocols.PacedQuotes`, IBKR's 10 a second) times the interval, less a
margin (``snapshot_share``) for the other requests. A broker that states no pace gets every conid
every round. While not every conid fits in one round, the poller posts a
:class:`~ibtui.tui.messages.QuotePlanChanged` that states how fresh each kind of row is kept ("every
2 s for 40 rows in view, all 5,000 every 14 s"); each row's price greys by its own age against
the pace stated for its kind of row (the positions table's ``set_pace``).

**The positions list** is fetched on its own schedule: every ``positions_every`` seconds (never
more often than once a rotation of the whole book, nor than ``positions_page_seconds`` a page of
100 positions) and soon after a fill
(:meth:`Poller.refresh_positions`).
After the first list, it is fetched beside the rounds (its pages share IBKR's global pace with the
snapshots; the rotation pauses while it runs, the rows in view do not).

**Streaming.** ``streamed()`` names the conids a live stream keeps fresh: they are not polled, and
each is polled again in the very next round after it leaves that set. While it names any (the
stream is live), the rest of the book (held, neither in view nor watched) is polled in the
background: spread over the rounds so that all of it is asked once every
``streaming_rest_every`` seconds, not with every request the pace leaves. What the trader looks
at streams or is asked every round, and the account's P&L comes pushed (``spl``); asking
hundreds of unseen rows every interval would spend IBKR's global pace (which orders share) and
the console's CPU on figures nobody is looking at. The status bar states the bound.

Failures are posted as :class:`~ibtui.tui.messages.ErrorRaised` and retried with exponential
back-off; a round refused for the pace (a 429, whose error carries ``retry_after``: when the
client's pacer lets requests through again) is tried again at that time, without adding to the
back-off. All waiting goes through the injected ``sleep``, all time through ``clock``, so tests
drive it without real time.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from textual.message import Message

from ibtui.text import clean_text
from ibtui.tui.messages import (
    ErrorRaised,
    PositionsUpdated,
    QuotePlanChanged,
    QuotesUpdated,
    SessionStateChanged,
    TokenLifetime,
)
from ibtui.tui.protocols import Broker, PacedQuotes, SessionWatch
from ibtui.tui.viewmodels import PositionView, QuotePlan, QuoteView, SessionState

__all__ = ["MAX_CONIDS", "PollSettings", "Poller", "RoundPlan", "batches", "plan_round"]

MAX_CONIDS = 100  # IBKR's limit per snapshot request
POSITIONS_PAGE = 100  # positions a page of IBKR's list


def batches(conids: Sequence[int], size: int = MAX_CONIDS) -> list[list[int]]:
    """``conids`` in order, de-duplicated, cut into lists of at most ``size``."""
    unique = list(dict.fromkeys(conids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval: float = 2.0
    positions_every: float = 10.0
    # A large book's list, at least this many seconds apart per page of 100 positions (each page
    # is a request under IBKR's global pace, and the list is parsed and laid out again): 1,000
    # positions every 30 s, 5,000 every 150 s; a fill still brings it at once.
    positions_page_seconds: float = 3.0
    keep_alive_every: float = 60.0
    competing_check: float = 10.0  # the keep-alive's pace while another login holds the session
    warmup_retry: float = 0.5
    # Snapshot batches asked at once: a round of 1,000 conids takes about one round trip, not
    # ten (the client's pacer still keeps the calls within IBKR's 10 a second).
    concurrent_batches: int = 4
    first_backoff: float = 1.0
    max_backoff: float = 60.0
    # The share of the broker's snapshot pace a round plans to use: the rest is left for the
    # other requests that count against IBKR's global limit (tickle, orders, positions' pages).
    snapshot_share: float = 0.9
    # With a stream live, the rest of the book (neither streamed, in view nor watched) is asked
    # in rotation at this pace: all of it once in this many seconds (0: as fast as the pace
    # allows, as without a stream). See the module's docstring.
    streaming_rest_every: float = 10.0


def _requests(count: int) -> int:
    return -(-count // MAX_CONIDS)


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """One round's snapshots: ``asked`` (the rows in view and the watched first, then the
    rotation's share), and the freshness it keeps (``plan``; None when nothing is paced)."""

    asked: list[int]
    plan: QuotePlan | None


def plan_round(
    *,
    priority: Sequence[int],
    rest: Sequence[int],
    last_asked: dict[int, float],
    warm: Collection[int],
    rate: float | None,
    settings: PollSettings,
    in_view: int,
    rotate: bool = True,
    positions_pages: int = 0,
    rest_every: float = 0.0,
    streamed: int = 0,
    watched: int | None = None,
) -> RoundPlan:
    """What one round asks: every ``priority`` conid, then as many of ``rest`` as the round's
    request budget leaves room for, the longest unasked first (a conid not yet warm costs a
    second request, its warm-up re-ask). ``rotate`` False (the positions list is being fetched)
    asks, of a rest that takes more than a round, only what fills the priority's batches.

    The plan states the bound an out-of-view row's age keeps: a rotation of the rest takes
    ``ceil(rest / room)`` rounds, one more for where in its round a row is answered, and the
    rounds a positions fetch (``positions_pages`` requests) pauses the rotation.

    ``rest_every`` (seconds, with a stream live: ``streamed`` conids it covers) asks the rest at
    a background pace: each round at most its share of a rotation taking that long.

    ``watched``: how many of ``priority`` are watched (the rest of it past the ``in_view`` are
    asked this round only, e.g. rows a stream just left); by default all past ``in_view``."""
    stated_watched = len(priority) - in_view if watched is None else watched
    background = rest_every > settings.interval and bool(rest)
    if rate is None or rate <= 0:
        if not background:
            return RoundPlan([*priority, *rest], None)
        share = math.ceil(len(rest) * settings.interval / rest_every)
        rounds = _rotation(rest, share)
        oldest = _oldest(share, rest, last_asked)
        all_every = (rounds + 1) * settings.interval
        return _stated(
            priority,
            oldest,
            rest,
            every=settings.interval,
            all_every=all_every,
            in_view=in_view,
            watched=stated_watched,
            streamed=streamed,
        )
    per_second = rate * settings.snapshot_share
    budget = max(1, math.floor(per_second * settings.interval))
    need = _requests(len(priority))
    every = settings.interval
    if rest and budget * MAX_CONIDS - len(priority) < MAX_CONIDS:
        need += 1  # the rest gets one request a round at least: the round takes longer
    if need > budget:
        every = need / per_second
        budget = need
    room = budget * MAX_CONIDS - len(priority)  # conids of the rest a warm round asks
    if background:  # its share of a rotation taking rest_every, no more
        room = min(room, math.ceil(len(rest) * every / rest_every))
    rounds = _rotation(rest, room)
    chosen: list[int] = []
    if rest and (rotate or rounds <= 1):  # a book that fits a round: the list's pages squeeze in
        oldest = _oldest(room, rest, last_asked)
        cold_priority = sum(1 for conid in priority if conid not in warm)
        cold = cold_priority
        for conid in oldest:
            cold += conid not in warm
            if _requests(len(priority) + len(chosen) + 1) + _requests(cold) > budget:
                break
            chosen.append(conid)
    elif rest:  # fill the priority's last batch, no more
        room_left = _requests(len(priority)) * MAX_CONIDS - len(priority)
        chosen = _oldest(room_left, rest, last_asked)
    if rounds <= 1 and every <= settings.interval:
        all_every = every
    else:
        free = max(1.0, per_second * every - _requests(len(priority)))
        pause = math.ceil(positions_pages / free) if positions_pages else 0
        all_every = (rounds + 1 + pause) * every
    return _stated(
        priority,
        chosen,
        rest,
        every=every,
        all_every=all_every,
        in_view=in_view,
        watched=stated_watched,
        streamed=streamed,
    )


def _oldest(count: int, rest: Sequence[int], last_asked: dict[int, float]) -> list[int]:
    """The ``count`` conids of ``rest`` asked longest ago (those never asked first)."""
    return heapq.nsmallest(count, rest, key=lambda conid: last_asked.get(conid, -math.inf))


def _rotation(rest: Sequence[int], room: int) -> int:
    """The rounds a rotation of ``rest`` takes at ``room`` conids a round (1: none is needed)."""
    return math.ceil(len(rest) / room) if rest and room > 0 else 1


def _stated(
    priority: Sequence[int],
    chosen: Sequence[int],
    rest: Sequence[int],
    *,
    every: float,
    all_every: float,
    in_view: int,
    watched: int,
    streamed: int,
) -> RoundPlan:
    """A round asking ``priority`` (the first ``in_view`` of them in view, ``watched`` watched)
    and ``chosen`` of ``rest``, stated: every ``every`` seconds, all of the book (``streamed``
    conids a stream covers included) within ``all_every``."""
    plan = QuotePlan(
        every=every,
        in_view=in_view,
        watched=watched,
        total=len(priority) + len(rest) + streamed,
        all_every=all_every,
        streamed=streamed,
    )
    return RoundPlan([*priority, *chosen], plan)


class Poller:
    """Polls one account through a :class:`~ibtui.tui.protocols.Broker`; posts messages."""

    def __init__(
        self,
        broker: Broker,
        account_id: str,
        post: Callable[[Message], object],
        *,
        settings: PollSettings | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        watched: Callable[[], Sequence[int]] | None = None,
        first: Callable[[], Sequence[int]] | None = None,
        streamed: Callable[[], Collection[int]] | None = None,
    ) -> None:
        """``first``: the conids of the rows on screen; ``watched``: other conids to keep fresh
        every round (the watchlist, an open chart or ticket); ``streamed``: the conids a live
        stream currently keeps fresh, which the poller leaves alone (each is polled again in the
        very next round after it leaves the set)."""
        self.broker = broker
        self.watched = watched
        self.first = first
        self.streamed = streamed
        self.account_id = account_id
        self.post = post
        self.settings = settings or PollSettings()
        self.clock = clock
        self.sleep = sleep
        self.conids: list[int] = []
        self.rounds = 0
        self.plan: QuotePlan | None = None  # the freshness last stated
        self._positions_due = 0.0
        self._positions_task: asyncio.Future[Sequence[PositionView]] | None = None
        self._keep_alive_due = 0.0
        self._backoff = 0.0
        self._session: SessionState | None = None
        self._take_back = False
        self._selected = False
        self._lst_expires: float | None = None
        self._warm: set[int] = set()  # conids that have answered with values at least once
        self._last_asked: dict[int, float] = {}  # conid -> when its last snapshot answered
        self._streamed: set[int] = set()  # the stream's conids as the last round saw them
        self._round_every = self.settings.interval
        if isinstance(broker, SessionWatch):  # "reconnecting…" while a lost session reopens
            broker.watch_session(self._session_event)

    def _session_event(self, state: SessionState) -> None:
        if state is not self._session:
            self._session = state
            self.post(SessionStateChanged(state))

    async def run(self) -> None:
        """Poll until cancelled (the worker is cancelled when the screen or account changes).
        Rounds start every interval (a round that took longer is followed at once)."""
        try:
            while True:
                started = self.clock()
                try:
                    await self.poll_once()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure: show it, back off, go on
                    await self.sleep(self._fail(exc))
                    continue
                self._backoff = 0.0
                await self.sleep(max(0.0, started + self._round_every - self.clock()))
        finally:
            self._cancel_positions()

    def take_back(self) -> None:
        """The trader wants the brokerage session back from a competing login: the next round
        starts with a keep-alive that takes it."""
        self._take_back = True
        self._keep_alive_due = 0.0

    def refresh_positions(self) -> None:
        """Fetch the positions list at the next round (an order filled)."""
        self._positions_due = 0.0

    async def poll_once(self) -> None:
        """One round: keep-alive if due, positions if due, the round's quotes.

        While another login holds the brokerage session only the keep-alive runs (every
        ``competing_check`` seconds): quotes would fail, and the keep-alive takes the session
        back when its rule allows."""
        if self.clock() >= self._keep_alive_due:
            await self._keep_alive()
        if self._session is SessionState.COMPETING:
            self._report_lifetime()
            return
        if not self._selected:
            await self.broker.select_account(self.account_id)
            self._selected = True
        self._take_positions()
        if not self.conids:  # the first list (or an empty account): before any quote
            self._cancel_positions()
            self._got_positions(await self.broker.positions(self.account_id))
        elif self.clock() >= self._positions_due and self._positions_task is None:
            self._positions_due = math.inf  # set again when the list has come
            self._positions_task = asyncio.ensure_future(self.broker.positions(self.account_id))
        await self._poll_quotes()
        if self._positions_task is not None:
            await asyncio.sleep(0)  # a list that is ready is taken in this round
            self._take_positions()
        self._report_lifetime()
        self.rounds += 1

    def _take_positions(self) -> None:
        """The positions list fetched beside the rounds, once it has come (its failure is the
        round's)."""
        task = self._positions_task
        if task is not None and task.done():
            self._positions_task = None
            self._got_positions(task.result())

    def _got_positions(self, positions: Sequence[PositionView]) -> None:
        self.conids = [view.conid for view in positions]
        self.post(PositionsUpdated(self.account_id, list(positions)))
        pages = math.ceil(len(positions) / POSITIONS_PAGE)
        every = max(self.settings.positions_every, self.settings.positions_page_seconds * pages)
        if self.plan is not None:  # a rotation of the whole book between two lists, at least
            every = max(every, self.plan.all_every)
        self._positions_due = self.clock() + every

    def _cancel_positions(self) -> None:
        task, self._positions_task = self._positions_task, None
        if task is not None:
            task.cancel()

    async def _keep_alive(self) -> None:
        take_back, self._take_back = self._take_back, False
        state = await self.broker.keep_alive(take_back=take_back)
        if state != self._session or take_back:
            self._session = state
            self.post(SessionStateChanged(state))
        every = self.settings.keep_alive_every
        if state is SessionState.COMPETING:
            every = min(every, self.settings.competing_check)
        elif state is SessionState.UNREACHABLE:  # asked again every round until it answers
            every = 0.0
        self._keep_alive_due = self.clock() + every

    def _report_lifetime(self) -> None:
        expires = self.broker.lst_expires_at()  # renewed by the client when due: report changes
        if expires != self._lst_expires or self.rounds == 0:
            self._lst_expires = expires
            self.post(TokenLifetime(expires))

    def quoted_conids(self) -> list[int]:
        """The held conids, then the watched ones not held (each once); those of them that
        ``first()`` names (the rows on screen) ahead of the rest. Those a stream covers are
        left out."""
        watched = list(self.watched()) if self.watched is not None else []
        quoted = dict.fromkeys([*self.conids, *watched])
        if self.first is not None:
            ahead = [conid for conid in self.first() if conid in quoted]
            quoted = dict.fromkeys([*ahead, *quoted])
        streamed = self._streamed
        return [conid for conid in quoted if conid not in streamed]

    def plan_round(self) -> RoundPlan:
        """This round's conids and the freshness it keeps (see :func:`plan_round`)."""
        streamed = set(self.streamed()) if self.streamed is not None else set()
        back = [conid for conid in self._streamed if conid not in streamed]  # the stream left
        self._streamed = streamed
        held = dict.fromkeys(self.conids)
        watched = list(self.watched()) if self.watched is not None else []
        quoted = dict.fromkeys([*held, *watched])
        in_view = [c for c in (self.first() if self.first is not None else ()) if c in held]
        priority = dict.fromkeys([*in_view, *watched, *(c for c in back if c in quoted)])
        for conid in streamed:
            priority.pop(conid, None)
        rest = [c for c in quoted if c not in priority and c not in streamed]
        rate = self.broker.snapshot_rate() if isinstance(self.broker, PacedQuotes) else None
        pages = _requests(len(self.conids)) + 1
        return plan_round(
            priority=list(priority),
            rest=rest,
            last_asked=self._last_asked,
            warm=self._warm,
            rate=rate,
            settings=self.settings,
            in_view=len([c for c in dict.fromkeys(in_view) if c in priority]),
            rotate=self._positions_task is None,
            positions_pages=pages,
            rest_every=self.settings.streaming_rest_every if streamed else 0.0,
            streamed=sum(1 for conid in streamed if conid in quoted),
            # rows the stream just left are asked this round, not watched
            watched=len(dict.fromkeys(c for c in watched if c in priority and c not in in_view)),
        )

    async def _poll_quotes(self) -> None:
        """Every batch of the round, each posted as it answers: prices reach the screen without
        waiting for the round's slowest batch. The screen repaints only the cells that change,
        and a message still queued when the next arrives merges into it."""
        round_plan = self.plan_round()
        plan = round_plan.plan
        self._round_every = plan.every if plan is not None else self.settings.interval
        stated = plan if plan is not None and plan.rotating else None
        if stated != self.plan:
            self.plan = stated
            self.post(QuotePlanChanged(stated))
        cold: list[int] = []
        warm_before = set(self._warm)

        def answered(batch: list[int], got: dict[int, QuoteView]) -> None:
            self._publish(got)
            cold.extend(conid for conid in batch if conid not in got and conid not in warm_before)

        await self._fetch_all(batches(round_plan.asked), answered)
        if cold:  # IBKR's first snapshot of a conid only opens the stream: ask again soon
            await self.sleep(self.settings.warmup_retry)
            await self._fetch_all(batches(cold), lambda _batch, got: self._publish(got))

    async def _fetch_all(
        self,
        wanted: list[list[int]],
        answered: Callable[[list[int], dict[int, QuoteView]], None],
    ) -> None:
        """Every batch, up to ``concurrent_batches`` at a time, each handed to ``answered`` as
        it answers. The first failure cancels the rest and is raised, as a failure of the round
        (batches that answered before it have been handed on: their prices are good)."""
        if len(wanted) <= 1:
            for batch in wanted:
                answered(batch, await self._fetch(batch))
            return
        limit = asyncio.Semaphore(max(1, self.settings.concurrent_batches))

        async def one(batch: list[int]) -> None:
            async with limit:
                got = await self._fetch(batch)
            answered(batch, got)

        tasks = [asyncio.ensure_future(one(batch)) for batch in wanted]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _fetch(self, batch: list[int]) -> dict[int, QuoteView]:
        quotes = await self.broker.quotes(batch)
        received = self.clock()
        got = {
            quote.conid: quote if quote.updated_at is not None else quote.received(received)
            for quote in quotes
            if quote.last is not None or quote.bid is not None or quote.ask is not None
        }  # a quote the broker stamped as it built it is not copied to be stamped again
        # (bid and ask are shown even while the last price is missing)
        self._warm.update(got)
        asked = self._last_asked
        for conid in batch:
            asked[conid] = received
        return got

    def _publish(self, quotes: dict[int, QuoteView]) -> None:
        if quotes:
            stamps = [q.updated_at for q in quotes.values() if q.updated_at is not None]
            self.post(QuotesUpdated(quotes, received_at=max(stamps, default=self.clock())))

    def _fail(self, exc: Exception) -> float:
        """Post the error; the delay before the next attempt.

        A round refused for IBKR's pace (a 429: the error carries ``retry_after``, when the
        client's pacer lets the endpoint through again) comes back then: the pacer's penalty
        already spaces the requests, and the poller's own back-off, doubled on top of it with
        each refused round, would keep prices away long after the server allows them again.
        Other failures back off exponentially."""
        settings = self.settings
        self._keep_alive_due = 0.0  # the next round starts by checking the session
        if self._positions_task is None and self._positions_due == math.inf:
            self._positions_due = 0.0  # a failed list is fetched again
        retry_after = getattr(exc, "retry_after", None)
        if not isinstance(retry_after, int | float) or isinstance(retry_after, bool):
            retry_after = None
        if retry_after is not None or getattr(exc, "status", None) == 429:
            # the back-off is left as it was; a 429 that states no wait (or 0) comes back after
            # the first back-off: never a loop of requests the server refuses
            delay = float(retry_after) if retry_after else settings.first_backoff
        else:
            self._backoff = min(
                settings.max_backoff,
                self._backoff * 2 if self._backoff else settings.first_backoff,
            )
            delay = self._backoff
        # shown in a notification and the status bar: one line, no control characters (an
        # IbkrError's message already is; any other error's text is made so here)
        self.post(ErrorRaised(clean_text(str(exc)) or type(exc).__name__, retry_in=delay))
        return delay
