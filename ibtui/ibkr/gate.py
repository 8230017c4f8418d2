"""The question gate: while one of IBKR's order questions is open, the session sends nothing else.

IBKR's documentation says an order's question must be answered at once: another request of the
same session between the question and its reply can withdraw it (the reply then answers 503 or
"reply id not found"). So from the order POST until its last reply is answered, the order's task
*holds* the gate, and every other request of the client (the poller's quotes and positions, the
keep-alive, charts, the orders screen) waits in :meth:`QuestionGate.wait` before it is sent.
Order actions (placements, replies, modifications, cancels) are never held: the order's own
replies must go, and a cancel or the kill switch is never held up by a question. Nor are the
requests that reopen the brokerage session (its init, the status polls after it, the account
list; :class:`~ibtui.ibkr.recovery.BrokerageGate`): an order waits for a reopen under way before
its POST goes, so holding the reopen's requests for that order's hold would stall both until the
hold ran out; and a session being reopened has no question left to protect. A hold starts
once the requests already on the wire are answered (:meth:`QuestionGate.passage` counts them):
one sent just before the order could otherwise reach IBKR just after its question. A request
still waiting for its turn in the client's pacer is not on the wire: it meets the gate again when
its turn comes (:meth:`QuestionGate.blocks`), so the hold does not wait for it (waiting would
stall the order, and every quote, for as long as that turn takes: up to 5 s for the order list).

The hold is bounded: a trader who leaves a question open does not starve the session. After
``limit`` seconds (:data:`QUESTION_HOLD_SECONDS`, counted again from each new question of a
chain) the waiting requests go on, and the question is :attr:`~QuestionGate.expired`: the order
service then declines it instead of confirming, and says nothing was placed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

__all__ = ["DRAIN_SECONDS", "QUESTION_HOLD_SECONDS", "QuestionGate"]

QUESTION_HOLD_SECONDS = 30.0
"""How long an open question holds the session's other requests (IBKR's reply ids live about a
minute; the trader has half of it to answer each question)."""


DRAIN_SECONDS = 5.0
"""How long an order waits for the requests already on the wire to be answered before it goes."""


class QuestionGate:
    """Holds a client's requests while an order question is open (see the module's text)."""

    def __init__(
        self,
        limit: float = QUESTION_HOLD_SECONDS,
        *,
        drain: float = DRAIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit <= 0:
            raise ValueError("the question hold needs a positive limit")
        self.limit = limit
        self.drain = drain
        self._clock = clock
        self._holder: asyncio.Task[object] | None = None
        self._deadline = 0.0
        self._released: asyncio.Event | None = None
        self._on_the_wire = 0  # other requests sent and not yet answered
        self._quiet: asyncio.Event | None = None  # set when the last of them is answered

    def __repr__(self) -> str:
        return f"QuestionGate(limit={self.limit:g}, held={self.held})"

    @property
    def held(self) -> bool:
        """A question is open and still holds the other requests."""
        return self._holder is not None and not self.expired

    @property
    def expired(self) -> bool:
        """A question is open but has held the session longer than ``limit``: requests go on."""
        return self._holder is not None and self._clock() >= self._deadline

    def rearm(self) -> None:
        """A new question of the same order: its own ``limit`` seconds from now."""
        if self._holder is not None:
            self._deadline = self._clock() + self.limit

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold the session for the current task (an order being sent and its questions). A
        nested hold of the same task is part of the outer one; a hold by another task (another
        account's order on the same session) waits for this one to end (or expire)."""
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            yield
            return
        while self.held:
            await self.wait()
        released = self._released
        self._holder, self._released = task, asyncio.Event()
        self._deadline = self._clock() + self.limit
        if released is not None:
            released.set()  # an expired earlier hold: wake anyone still waiting on it
        try:
            await self._until_quiet()  # a request already on the wire would come in between
            self.rearm()
            yield
        finally:
            self.release()

    async def _until_quiet(self) -> None:
        """Wait (at most ``drain`` seconds) until the requests already sent are answered."""
        until = self._clock() + self.drain
        while self._on_the_wire > 0:
            remaining = until - self._clock()
            if remaining <= 0:
                return
            self._quiet = self._quiet or asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._quiet.wait()

    @contextlib.asynccontextmanager
    async def passage(self, *, exempt: bool) -> AsyncIterator[None]:
        """Around one request of the client: an ``exempt`` one (an order action, or the
        brokerage session's own reopening) goes at once; any other request waits while a
        question holds the session (:meth:`wait`), and is counted while it is on the wire, so
        that a hold starts only once it is answered."""
        if exempt:
            yield
            return
        await self.wait()
        self._on_the_wire += 1
        try:
            yield
        finally:
            self._on_the_wire -= 1
            if self._on_the_wire == 0 and self._quiet is not None:
                self._quiet.set()
                self._quiet = None

    def blocks(self) -> bool:
        """A question of another task holds the session: a request of this task must not go
        now (:meth:`wait`, then ask again)."""
        return self.held and asyncio.current_task() is not self._holder

    def release(self) -> None:
        """End the current task's hold now (the questions are over: a reconciliation that
        follows need not keep the console waiting). Does nothing for another task."""
        task = asyncio.current_task()
        if task is None or self._holder is not task:
            return
        self._holder = None
        if self._released is not None:
            self._released.set()
        self._released = None

    async def wait(self) -> None:
        """Return when no question holds the session (at once for the holding task itself),
        or when the open question's hold runs out."""
        while self._holder is not None and asyncio.current_task() is not self._holder:
            remaining = self._deadline - self._clock()
            released = self._released
            if remaining <= 0 or released is None:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await released.wait()
