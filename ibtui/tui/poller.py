"""The background loop that keeps the positions screen fed; it runs in a Textual worker.

Each round: a tickle that reports the session state (every ``keep_alive_every`` seconds, first
thing after a failure, and every round while the server is unreachable), the account's selection
(``/iserver/account``, once), the positions (every ``positions_every`` seconds), then snapshots of
every held conid and every ``watched()`` one (the watchlist, an open chart) together in batches
of at most 100 (those of the rows on screen, ``first()``, in the first batch; up to
``concurrent_batches`` asked at once, each posted as it answers), and the token's life. While
another login holds the brokerage session, only the tickle runs. A
conid answered only by IBKR's warm-up (no values yet) is asked again after ``warmup_retry`` seconds
instead of a whole interval. Failures are posted as :class:`~ibtui.tui.messages.ErrorRaised` and
retried with exponential back-off (honouring a ``retry_after`` the error carries, as a 429 does).
All waiting goes through the injected ``sleep``, all time through ``clock``, so tests drive it
without real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from textual.message import Message

from ibtui.text import clean_text
from ibtui.tui.messages import (
    ErrorRaised,
    PositionsUpdated,
    QuotesUpdated,
    SessionStateChanged,
    TokenLifetime,
)
from ibtui.tui.protocols import Broker, SessionWatch
from ibtui.tui.viewmodels import QuoteView, SessionState

__all__ = ["MAX_CONIDS", "PollSettings", "Poller", "batches"]

MAX_CONIDS = 100  # IBKR's limit per snapshot request


def batches(conids: Sequence[int], size: int = MAX_CONIDS) -> list[list[int]]:
    """``conids`` in order, de-duplicated, cut into lists of at most ``size``."""
    unique = list(dict.fromkeys(conids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


@dataclass(frozen=True, slots=True)
class PollSettings:
    interval: float = 2.0
    positions_every: float = 10.0
    keep_alive_every: float = 60.0
    competing_check: float = 10.0  # the keep-alive's pace while another login holds the session
    warmup_retry: float = 0.5
    # Snapshot batches asked at once: a round of 1,000 conids takes about one round trip, not
    # ten (the client's pacer still keeps the calls within IBKR's 10 a second).
    concurrent_batches: int = 4
    first_backoff: float = 1.0
    max_backoff: float = 60.0


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
        self.broker = broker
        self.streamed = streamed  # conids a live stream covers: not polled while it does
        self.watched = watched
        self.first = first
        self.account_id = account_id
        self.post = post
        self.settings = settings or PollSettings()
        self.clock = clock
        self.sleep = sleep
        self.conids: list[int] = []
        self.rounds = 0
        self._positions_due = 0.0
        self._keep_alive_due = 0.0
        self._backoff = 0.0
        self._session: SessionState | None = None
        self._take_back = False
        self._selected = False
        self._lst_expires: float | None = None
        self._warm: set[int] = set()  # conids that have answered with values at least once
        if isinstance(broker, SessionWatch):  # "reconnecting…" while a lost session reopens
            broker.watch_session(self._session_event)

    def _session_event(self, state: SessionState) -> None:
        if state is not self._session:
            self._session = state
            self.post(SessionStateChanged(state))

    async def run(self) -> None:
        """Poll until cancelled (the worker is cancelled when the screen or account changes)."""
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: show it, back off, go on
                await self.sleep(self._fail(exc))
                continue
            self._backoff = 0.0
            await self.sleep(self.settings.interval)

    def take_back(self) -> None:
        """The trader wants the brokerage session back from a competing login: the next round
        starts with a keep-alive that takes it."""
        self._take_back = True
        self._keep_alive_due = 0.0

    async def poll_once(self) -> None:
        """One round: keep-alive if due, positions if due, every quote.

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
        now = self.clock()
        if now >= self._positions_due or not self.conids:
            positions = await self.broker.positions(self.account_id)
            self.conids = [view.conid for view in positions]
            self.post(PositionsUpdated(self.account_id, list(positions)))
            self._positions_due = now + self.settings.positions_every
        await self._poll_quotes()
        self._report_lifetime()
        self.rounds += 1

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
        ``first()`` names (the rows on screen) ahead of the rest, so that their batch is asked
        and shown first (a round of more than ten batches takes over a second at IBKR's pace)."""
        watched = list(self.watched()) if self.watched is not None else []
        quoted = dict.fromkeys([*self.conids, *watched])
        if self.first is not None:
            ahead = [conid for conid in self.first() if conid in quoted]
            quoted = dict.fromkeys([*ahead, *quoted])
        if self.streamed is not None:
            live = self.streamed()
            if live:
                return [conid for conid in quoted if conid not in live]
        return list(quoted)

    async def _poll_quotes(self) -> None:
        """Every batch of the round, each posted as it answers: prices reach the screen without
        waiting for the round's slowest batch (or, at IBKR's 10 snapshots a second, for the
        eleventh batch of 1,050 conids a second later). The screen repaints only the cells that
        change, and a message still queued when the next arrives merges into it."""
        cold: list[int] = []
        warm_before = set(self._warm)

        def answered(batch: list[int], got: dict[int, QuoteView]) -> None:
            self._publish(got)
            cold.extend(conid for conid in batch if conid not in got and conid not in warm_before)

        await self._fetch_all(batches(self.quoted_conids()), answered)
        if cold and self.streamed is not None:
            live = self.streamed()
            cold = [conid for conid in cold if conid not in live]
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
        return got

    def _publish(self, quotes: dict[int, QuoteView]) -> None:
        if quotes:
            stamps = [q.updated_at for q in quotes.values() if q.updated_at is not None]
            self.post(QuotesUpdated(quotes, received_at=max(stamps, default=self.clock())))

    def _fail(self, exc: Exception) -> float:
        """Post the error; the delay before the next attempt."""
        settings = self.settings
        self._backoff = min(
            settings.max_backoff, self._backoff * 2 if self._backoff else settings.first_backoff
        )
        delay = self._backoff
        self._keep_alive_due = 0.0  # the next round starts by checking the session
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        # shown in a notification and the status bar: one line, no control characters (an
        # IbkrError's message already is; any other error's text is made so here)
        self.post(ErrorRaised(clean_text(str(exc)) or type(exc).__name__, retry_in=delay))
        return delay
