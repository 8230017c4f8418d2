"""The polling loop: batches of at most 100 conids, warm-up re-asks, back-off, keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from textual.message import Message

from ibtui.tui.messages import (
    ErrorRaised,
    PositionsUpdated,
    QuotesUpdated,
    SessionStateChanged,
    TokenLifetime,
)
from ibtui.tui.poller import Poller, PollSettings, batches
from ibtui.tui.viewmodels import QuoteView, SessionState
from tests.tui.conftest import PAPER, T0, Clock, Rejected, ViewBroker, position


def make(count: int, clock: Clock) -> tuple[ViewBroker, Poller, list[Message], list[float]]:
    positions = [position(i, f"S{i}", "1", "10", "9") for i in range(1, count + 1)]
    broker = ViewBroker(positions, clock)
    posted: list[Message] = []
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    poller = Poller(
        broker,
        PAPER.account_id,
        posted.append,
        clock=clock,
        sleep=sleep,
        settings=PollSettings(interval=2.0, positions_every=10.0),
    )
    return broker, poller, posted, slept


def test_batches_are_unique_and_at_most_100() -> None:
    got = batches([*range(250), 5, 7])
    assert [len(b) for b in got] == [100, 100, 50]
    assert [c for b in got for c in b] == list(range(250))


async def test_first_round_warms_up_then_quotes_every_conid(clock: Clock) -> None:
    broker, poller, posted, slept = make(230, clock)
    await poller.poll_once()
    assert broker.selected == [PAPER.account_id]
    # three batches, none answered (warm-up), asked again after a short pause, in batches
    assert [len(c) for c in broker.quote_calls] == [100, 100, 30, 100, 100, 30]
    assert slept == [0.5]
    kinds = [type(m) for m in posted]
    assert kinds[:2] == [SessionStateChanged, PositionsUpdated]  # the session, then the data
    assert len(posted[1].positions) == 230  # type: ignore[attr-defined]
    quotes: dict[int, QuoteView] = {}
    for message in posted:
        if isinstance(message, QuotesUpdated):
            quotes.update(message.quotes)
    assert len(quotes) == 230
    assert all(q.updated_at == clock() for q in quotes.values())  # stamped on receipt
    assert SessionStateChanged(SessionState.CONNECTED) in posted
    assert TokenLifetime(T0 + 3600) in posted
    # second round: positions not due yet, no warm-up pause, no keep-alive
    posted.clear()
    broker.quote_calls.clear()
    await poller.poll_once()
    assert [len(c) for c in broker.quote_calls] == [100, 100, 30]
    assert [type(m) for m in posted] == [QuotesUpdated] * 3  # a message per batch
    assert [list(m.quotes) for m in posted] == batches(range(1, 231))  # type: ignore[attr-defined]
    assert slept == [0.5]


async def test_the_rows_on_screen_are_asked_first(clock: Clock) -> None:
    """The batch holding the rows the trader sees is asked (and shown) first; every conid is
    still asked once, and a conid on screen that is neither held nor watched is not asked."""
    broker, poller, _, _ = make(230, clock)
    poller.first = lambda: [150, 7, 9999]
    await poller.poll_once()  # the warm-up round
    broker.quote_calls.clear()
    await poller.poll_once()
    asked = [conid for call in broker.quote_calls for conid in call]
    assert broker.quote_calls[0][:2] == [150, 7]
    assert sorted(asked) == list(range(1, 231))


async def test_errors_back_off_exponentially_and_honour_retry_after(clock: Clock) -> None:
    broker, poller, posted, slept = make(3, clock)
    broker.failures = [
        Rejected("IBKR answered 503"),
        Rejected("IBKR answered 503"),
        Rejected("rate limit", retry_after=30.0),
        Rejected("IBKR answered 503"),
    ]
    real_sleep = poller.sleep

    async def stop_after_recovery(seconds: float) -> None:
        await real_sleep(seconds)
        if poller.rounds:  # the wait for the next round, after a good one
            assert seconds == 1.5  # rounds start every 2 s: this one spent 0.5 s on warm-up
            raise asyncio.CancelledError

    poller.sleep = stop_after_recovery
    with pytest.raises(asyncio.CancelledError):
        await poller.run()
    errors = [m for m in posted if isinstance(m, ErrorRaised)]
    # the 429's wait is the pacer's, and it does not double the back-off for the next failure
    assert [e.retry_in for e in errors] == [1.0, 2.0, 30.0, 4.0]
    assert errors[0].message == "IBKR answered 503"
    assert slept[:4] == [1.0, 2.0, 30.0, 4.0]
    assert poller.rounds == 1  # and then it recovered


class Refused429(Exception):
    """A round refused for the pace, as the client raises it: status 429, and ``retry_after``
    (when the client's pacer lets the endpoint through again) or None."""

    status = 429

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("IBKR keeps answering 429 (too many requests)")
        self.retry_after = retry_after


async def test_after_rounds_refused_for_the_pace_the_next_comes_when_the_pacer_allows(
    clock: Clock,
) -> None:
    """Six rounds in a row refused with a 429 (a burst of the server's rate limiter): each next
    attempt comes at the pacer's ``retry_after`` (or, when none is stated, after the first
    back-off), never after a back-off of the poller's own doubled with each refusal (1, 2, 4, 8,
    16, 32 s: prices would come a minute after the server lets requests through again)."""
    broker, poller, posted, slept = make(3, clock)
    broker.failures = [
        *(Refused429(2.0) for _ in range(4)),
        Refused429(None),
        Refused429(0.5),
        Rejected("IBKR answered 503"),  # then a failure of another kind
    ]
    start = clock()
    real_sleep = poller.sleep

    async def stop_after_first_good_round(seconds: float) -> None:
        await real_sleep(seconds)
        if poller.rounds:
            raise asyncio.CancelledError

    poller.sleep = stop_after_first_good_round
    with pytest.raises(asyncio.CancelledError):
        await poller.run()
    errors = [m for m in posted if isinstance(m, ErrorRaised)]
    # the 503 backs off from the start (1 s), not from 2^6 s
    assert [e.retry_in for e in errors] == [2.0, 2.0, 2.0, 2.0, 1.0, 0.5, 1.0]
    assert slept[:7] == [2.0, 2.0, 2.0, 2.0, 1.0, 0.5, 1.0]
    quoted = [m for m in posted if isinstance(m, QuotesUpdated)]
    # the first prices 10.5 s after the first refusal (and the warm-up's 0.5 s), not a minute
    assert quoted and quoted[0].received_at == start + 11.0


async def test_session_state_is_posted_only_when_it_changes(clock: Clock) -> None:
    broker, poller, posted, _ = make(1, clock)
    poller.settings = PollSettings(keep_alive_every=0.0)
    await poller.poll_once()
    await poller.poll_once()
    broker.state = SessionState.COMPETING
    await poller.poll_once()
    states = [m.state for m in posted if isinstance(m, SessionStateChanged)]
    assert states == [SessionState.CONNECTED, SessionState.COMPETING]
    # the token's life is reported once, then whenever the client renewed it
    broker.lst = T0 + 7200
    await poller.poll_once()
    lifetimes = [m.expires_at for m in posted if isinstance(m, TokenLifetime)]
    assert lifetimes == [T0 + 3600, T0 + 7200]


async def test_while_another_login_holds_the_session_only_the_keep_alive_runs(
    clock: Clock,
) -> None:
    broker, poller, posted, _ = make(3, clock)
    broker.state = SessionState.COMPETING
    await poller.poll_once()
    assert SessionStateChanged(SessionState.COMPETING) in posted
    assert broker.quote_calls == [] and broker.selected == []  # they would only fail
    posted.clear()
    clock.advance(2)
    await poller.poll_once()  # not due again yet: nothing at all
    assert broker.quote_calls == [] and broker.take_backs == 0
    assert not any(isinstance(m, SessionStateChanged) for m in posted)

    poller.take_back()  # the trader pressed t
    await poller.poll_once()

    assert broker.take_backs == 1
    assert SessionStateChanged(SessionState.CONNECTED) in posted
    assert broker.quote_calls  # quotes again in the same round


async def test_a_failed_round_checks_the_session_first_next_time(clock: Clock) -> None:
    broker, poller, posted, _ = make(3, clock)
    await poller.poll_once()  # the minute's keep-alive is done
    broker.state = SessionState.COMPETING  # another login takes the session ...
    clock.advance(10)  # ... and the positions, due again, fail
    broker.failures = [Rejected("Another IBKR login holds the brokerage session.")]
    posted.clear()
    real_sleep = poller.sleep
    sleeps = 0

    async def two_rounds(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        await real_sleep(seconds)
        if sleeps == 2:
            raise asyncio.CancelledError

    poller.sleep = two_rounds
    with pytest.raises(asyncio.CancelledError):
        await poller.run()

    # the round after the failure starts with the keep-alive, well before the minute is up (the
    # positions list comes beside the round's quotes, and fails after them)
    kinds = [type(m) for m in posted]
    failed = kinds.index(ErrorRaised)
    assert kinds[failed : failed + 2] == [ErrorRaised, SessionStateChanged]
    assert SessionStateChanged(SessionState.COMPETING) in posted


class SlowBroker(ViewBroker):
    """Snapshots that take a while to come back; counts how many are asked at once."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.in_flight = self.most_in_flight = 0
        self.release = asyncio.Event()
        self.fail_batch: int | None = None
        self.cancelled = 0

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            answer = await super().quotes(conids)
            if self.fail_batch is not None and conids[0] == self.fail_batch:
                raise Rejected("IBKR answered 503")
            await self.release.wait()
            return answer
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1


def slow(count: int, clock: Clock, concurrent: int) -> tuple[SlowBroker, Poller, list[Message]]:
    positions = [position(i, f"S{i}", "1", "10", "9") for i in range(1, count + 1)]
    broker = SlowBroker(positions, clock)
    broker.seen.update(range(1, count + 1))  # warm already
    posted: list[Message] = []

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    settings = PollSettings(concurrent_batches=concurrent)
    return (
        broker,
        Poller(
            broker, PAPER.account_id, posted.append, clock=clock, sleep=sleep, settings=settings
        ),
        posted,
    )


async def test_a_round_asks_several_batches_at_once_and_keeps_their_order(clock: Clock) -> None:
    """1,000 conids take about one round trip, not ten, asked in order."""
    broker, poller, posted = slow(1000, clock, concurrent=4)
    task = asyncio.create_task(poller.poll_once())
    for _ in range(20):  # let every task that can start start
        await asyncio.sleep(0)
    assert broker.in_flight == 4  # no more than the limit
    broker.release.set()
    await task
    assert broker.most_in_flight == 4
    assert [c[0] for c in broker.quote_calls] == [1, 101, 201, 301, 401, 501, 601, 701, 801, 901]
    shown = [conid for m in posted if isinstance(m, QuotesUpdated) for conid in m.quotes]
    assert sorted(shown) == list(range(1, 1001))


async def test_a_failed_batch_fails_the_round_and_stops_the_others(clock: Clock) -> None:
    broker, poller, posted = slow(400, clock, concurrent=4)
    broker.fail_batch = 201
    with pytest.raises(Rejected):
        await poller.poll_once()
    assert broker.cancelled == 3 and broker.in_flight == 0
    assert not [m for m in posted if isinstance(m, QuotesUpdated)]


async def test_each_batch_is_shown_as_it_answers(clock: Clock) -> None:
    """A slow batch holds back only its own prices: the others reach the screen first (and
    batches that answered before another failed are shown too)."""
    broker, poller, posted = slow(300, clock, concurrent=4)
    held: dict[int, asyncio.Event] = {1: asyncio.Event(), 201: asyncio.Event()}
    broker.release.set()
    answer = broker.quotes

    async def quotes(conids: Sequence[int]) -> list[QuoteView]:
        gate = held.get(conids[0])
        if gate is not None:
            await gate.wait()
        return await answer(conids)

    broker.quotes = quotes  # type: ignore[method-assign]
    task = asyncio.create_task(poller.poll_once())
    for _ in range(20):
        await asyncio.sleep(0)
    shown = [list(m.quotes) for m in posted if isinstance(m, QuotesUpdated)]
    assert shown == [list(range(101, 201))]  # the middle batch, while the others wait
    held[201].set()
    for _ in range(20):
        await asyncio.sleep(0)
    shown = [list(m.quotes) for m in posted if isinstance(m, QuotesUpdated)]
    assert shown == [list(range(101, 201)), list(range(201, 301))]
    assert not task.done()
    broker.fail_batch = 1
    held[1].set()
    with pytest.raises(Rejected):
        await task
    assert len([m for m in posted if isinstance(m, QuotesUpdated)]) == 2  # kept on screen


async def test_a_quote_the_broker_stamped_keeps_its_stamp(clock: Clock) -> None:
    """The client backend stamps a quote with when it was received as it builds it; the poller
    stamps only quotes that come without (the same quote object is posted, not a copy)."""
    broker, poller, posted, _ = make(3, clock)
    await poller.poll_once()  # warm-up
    stamped = QuoteView(2, last=None)

    async def quotes(conids: Sequence[int]) -> Sequence[QuoteView]:
        nonlocal stamped
        answer = list(await ViewBroker.quotes(broker, conids))
        first = answer[0]
        stamped = QuoteView(first.conid, first.last, updated_at=T0 - 1.5)
        return [stamped, *answer[1:]]

    broker.quotes = quotes  # type: ignore[method-assign]
    posted.clear()
    clock.advance(2)
    await poller.poll_once()
    got = {c: q for m in posted if isinstance(m, QuotesUpdated) for c, q in m.quotes.items()}
    assert got[stamped.conid] is stamped
    assert [q.updated_at for c, q in sorted(got.items()) if c != stamped.conid] == [clock()] * 2
