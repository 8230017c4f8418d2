"""The poller's schedule under IBKR's pacing, on a simulated clock: the rows in view and the watched
every round, the rest in rotation within the snapshot budget, the whole book within the bound the
plan states, the positions list on its own schedule, and the conids a stream covers left alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from textual.message import Message

from ibtui.tui.messages import PositionsUpdated, QuotePlanChanged, QuotesUpdated
from ibtui.tui.poller import Poller, PollSettings, plan_round
from ibtui.tui.viewmodels import PositionView, QuotePlan, QuoteView
from tests.tui.conftest import PAPER, Clock, ViewBroker, position

INTERVAL = 2.0


class PacedBroker(ViewBroker):
    """A :class:`ViewBroker` whose snapshots keep to ``rate`` requests a second as a pacer would:
    a request that would be the ``rate + 1``-th within a second waits (the simulated clock moves
    on). It counts the positions lists fetched."""

    def __init__(self, positions: list[PositionView], clock: Clock, rate: int = 10) -> None:
        super().__init__(positions, clock)
        self.rate = rate
        self.starts: list[float] = []
        self.lists = 0

    def snapshot_rate(self) -> float | None:
        return float(self.rate)

    async def positions(self, account_id: str) -> Sequence[PositionView]:
        self.lists += 1
        return await super().positions(account_id)

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        if len(self.starts) >= self.rate:
            self.clock.now = max(self.clock.now, self.starts[-self.rate] + 1.0)
        self.starts.append(self.clock.now)
        return await super().quotes(conids)


def book(count: int) -> list[PositionView]:
    return [position(i, f"S{i}", "1", "10", "9") for i in range(1, count + 1)]


class Run:
    """A poller over a paced broker, run on the simulated clock until ``until`` seconds."""

    def __init__(self, count: int, clock: Clock, **settings: float) -> None:
        self.clock = clock
        self.broker = PacedBroker(book(count), clock)
        self.posted: list[Message] = []
        self.quoted_at: dict[int, float] = {}  # conid -> when its last quote was posted
        self.view: list[int] = list(range(1, 41))
        self.view_since = clock()
        self.streamed: set[int] = set()
        self.plans: list[QuotePlan | None] = []
        self.poller = Poller(
            self.broker,
            PAPER.account_id,
            self.post,
            clock=clock,
            sleep=self.sleep,
            settings=PollSettings(interval=INTERVAL, positions_every=10.0, **settings),  # type: ignore[arg-type]
            first=lambda: self.view,
            streamed=lambda: self.streamed,
        )
        self.until = 0.0

    def post(self, message: Message) -> None:
        self.posted.append(message)
        if isinstance(message, QuotesUpdated):
            for conid, quote in message.quotes.items():
                assert quote.updated_at is not None
                self.quoted_at[conid] = quote.updated_at
        elif isinstance(message, QuotePlanChanged):
            self.plans.append(message.plan)

    async def sleep(self, seconds: float) -> None:
        self.check()
        self.clock.advance(seconds)
        if self.clock() >= self.until:
            raise asyncio.CancelledError

    def check(self) -> None:
        """The rows in view are never older than two intervals (counted from when they came into
        view)."""
        now = self.clock()
        for conid in self.view:
            if conid in self.streamed:
                continue
            since = max(self.quoted_at.get(conid, self.view_since), self.view_since)
            assert now - since <= 2 * INTERVAL, f"row {conid} in view is {now - since:.1f} s old"

    async def run(self, until: float) -> None:
        self.until = self.clock() + until
        with pytest.raises(asyncio.CancelledError):
            await self.poller.run()


def gaps(run: Run, start: float) -> dict[int, float]:
    """Each conid's longest wait for a quote from ``start`` to now: to its first quote, between
    two, and since its last."""
    longest: dict[int, float] = {}
    last: dict[int, float] = {}
    for message in run.posted:
        if isinstance(message, QuotesUpdated):
            for conid, quote in message.quotes.items():
                assert quote.updated_at is not None
                at = quote.updated_at
                if at >= start:
                    wait = at - last.get(conid, start)
                    longest[conid] = max(longest.get(conid, 0.0), wait)
                    last[conid] = at
    end = run.clock()
    for conid, at in last.items():
        longest[conid] = max(longest[conid], end - at)
    return longest


async def test_five_thousand_rows_in_view_every_round_the_rest_within_the_stated_bound(
    clock: Clock,
) -> None:
    run = Run(5_000, clock)
    await run.run(20.0)
    plan = run.poller.plan
    assert plan == QuotePlan(every=2.0, in_view=40, watched=0, total=5_000, all_every=14.0)
    assert plan.describe() == "every 2 s for 40 rows in view, all 5,000 every 14 s"
    assert len(run.quoted_at) == 5_000  # every conid had a quote (warm-ups included)

    # the view moves (the trader pages down): the new rows in view are fresh within a round
    run.view = list(range(2_001, 2_041))
    run.view_since = clock()
    start = clock()
    await run.run(60.0)
    longest = gaps(run, start)
    assert len(longest) == 5_000
    assert max(longest.values()) <= plan.all_every  # the whole book within the stated bound
    in_view = [longest[conid] for conid in run.view]
    assert max(in_view) <= INTERVAL + 0.5  # a round, and a warm-up pause at most
    # the rest rotated: most rows out of view waited more than a round
    assert sorted(longest.values())[2_500] > 2 * INTERVAL


async def test_a_thousand_positions_are_all_asked_every_round_and_nothing_is_stated(
    clock: Clock,
) -> None:
    run = Run(1_000, clock)
    await run.run(10.0)
    start = clock()
    await run.run(20.0)
    assert max(gaps(run, start).values()) <= INTERVAL
    assert run.poller.plan is None and not any(run.plans)


async def test_rows_the_pace_cannot_keep_fresh_every_round_are_stated_slower(
    clock: Clock,
) -> None:
    """A slower pace (2 snapshots a second): rounds of 3 requests, the rows in view still in
    every one, the rest of 1,000 in rotation, stated."""
    run = Run(1_000, clock)
    run.broker.rate = 2
    await run.run(30.0)
    start = clock()
    await run.run(60.0)
    plan = run.poller.plan
    assert plan is not None and plan.every == INTERVAL
    assert plan.describe() == "every 2 s for 40 rows in view, all 1,000 every 20 s"
    assert max(gaps(run, start).values()) <= plan.all_every


async def test_the_positions_list_comes_on_its_own_schedule_and_after_a_fill(clock: Clock) -> None:
    run = Run(5_000, clock, positions_page_seconds=0.1)
    await run.run(60.0)
    # every 14 s (a rotation of the book; positions_every is 10 s), not every round
    assert run.broker.lists == 1 + 4
    lists = run.broker.lists
    run.poller.refresh_positions()  # an order filled
    await run.run(2.0)
    assert run.broker.lists == lists + 1
    assert isinstance(
        next(m for m in reversed(run.posted) if isinstance(m, PositionsUpdated)), PositionsUpdated
    )


async def test_a_large_books_list_comes_at_most_every_3_s_a_page(clock: Clock) -> None:
    # 1,000 positions are 10 pages: a list every 30 s, not every positions_every (10 s)
    run = Run(1_000, clock)
    await run.run(61.0)
    assert run.broker.lists == 1 + 2
    small = Run(100, clock)  # one page: positions_every
    await small.run(31.0)
    assert small.broker.lists == 1 + 3


async def test_streamed_conids_are_not_polled_and_come_back_the_round_they_leave(
    clock: Clock,
) -> None:
    run = Run(300, clock)
    run.streamed = {5, 250, 9999}
    await run.run(10.0)
    asked = {conid for call in run.broker.quote_calls for conid in call}
    assert 5 not in asked and 250 not in asked and 9999 not in asked
    assert len(asked) == 298
    run.streamed = {5}  # the stream dropped 250
    run.broker.quote_calls.clear()
    run.until = float("inf")
    await run.poller.poll_once()
    assert 250 in run.broker.quote_calls[0]  # in the very next round, first
    assert all(5 not in call for call in run.broker.quote_calls)
    # asked once ahead of the rest, not stated as watched ("… and 1 watched")
    assert run.poller.plan is not None and run.poller.plan.watched == 0, run.poller.plan


def test_the_stated_plan_names_the_watched_and_rounds_bounds_up() -> None:
    plan = QuotePlan(every=2.2222, in_view=40, watched=3, total=5_003, all_every=13.2)
    assert plan.describe() == "every 2.3 s for 40 rows in view and 3 watched, all 5,003 every 14 s"
    assert plan.rotating
    assert not QuotePlan(every=2.0, in_view=40, watched=0, total=900, all_every=2.0).rotating


async def test_with_a_stream_live_the_rest_of_the_book_is_polled_in_the_background(
    clock: Clock,
) -> None:
    """The rows in view stream: the other 960 of 1,000 are asked at the background pace (all of
    them once in about ``streaming_rest_every``), not with every request IBKR's pace leaves; the
    plan says so. When the stream drops, the next round asks at the full pace again."""
    run = Run(1_000, clock)
    run.streamed = set(run.view)
    await run.run(20.0)  # warm
    run.broker.quote_calls.clear()
    start = clock()
    await run.run(40.0)
    plan = run.poller.plan
    assert plan == QuotePlan(
        every=2.0, in_view=0, watched=0, total=1_000, all_every=14.0, streamed=40
    )
    assert plan.describe() == "40 streamed, all 1,000 every 14 s"
    asked = [conid for call in run.broker.quote_calls for conid in call]
    assert not set(asked) & run.streamed
    # 960 every 10 s: about 3,840 in 40 s (the full pace would ask 960 every round: 19,200)
    assert 3_500 <= len(asked) <= 4_300, len(asked)
    rest = [conid for conid in range(1, 1_001) if conid not in run.streamed]
    assert max(gaps(run, start)[conid] for conid in rest) <= plan.all_every

    run.streamed = set()  # the stream dropped: polling alone, at the full pace, at once
    run.view_since = clock()  # (the rows in view are the poller's from now)
    run.broker.quote_calls.clear()
    run.until = float("inf")
    await run.poller.poll_once()
    asked = {conid for call in run.broker.quote_calls for conid in call}
    assert set(run.view) <= asked and len(asked) == 1_000
    assert run.poller.plan is None or run.poller.plan.streamed == 0


async def test_the_background_pace_can_be_turned_off(clock: Clock) -> None:
    run = Run(1_000, clock, streaming_rest_every=0.0)
    run.streamed = set(run.view)
    await run.run(20.0)
    run.broker.quote_calls.clear()
    await run.run(10.0)
    asked = [conid for call in run.broker.quote_calls for conid in call]
    assert len(asked) >= 960 * 4  # every round asks the whole rest


def test_the_stated_plan_with_a_stream_names_what_streams() -> None:
    plan = QuotePlan(every=2.0, in_view=0, watched=3, total=1_003, all_every=14.0, streamed=100)
    assert plan.describe() == "100 streamed, every 2 s for 3 watched, all 1,003 every 14 s"
    over = QuotePlan(every=2.0, in_view=4, watched=0, total=1_000, all_every=14.0, streamed=100)
    assert over.describe() == "100 streamed, every 2 s for 4 rows in view, all 1,000 every 14 s"


def test_the_shorter_forms_of_the_stated_plan_keep_the_bound() -> None:
    plan = QuotePlan(every=2.0, in_view=40, watched=3, total=5_003, all_every=13.2)
    assert plan.shorter() == (
        "in view every 2 s, all 5,003 every 14 s",
        "all 5,003 every 14 s",
        "all in 14 s",
    )
    watched = QuotePlan(every=2.0, in_view=0, watched=3, total=1_003, all_every=14, streamed=100)
    assert watched.shorter()[0] == "watched every 2 s, all 1,003 every 14 s"
    streamed = QuotePlan(every=2.0, in_view=0, watched=0, total=1_000, all_every=14, streamed=40)
    assert streamed.shorter() == ("all 1,000 every 14 s", "all in 14 s")


def test_a_broker_without_a_pace_also_polls_the_rest_in_the_background_while_streaming() -> None:
    rest = list(range(1, 1_001))
    args = {"priority": [], "last_asked": {}, "warm": set(), "rate": None, "in_view": 0}
    alone = plan_round(rest=rest, settings=PollSettings(interval=2.0), **args)  # type: ignore[arg-type]
    assert alone.asked == rest and alone.plan is None  # every conid every round
    streaming = plan_round(
        rest=rest,
        settings=PollSettings(interval=2.0),
        rest_every=10.0,
        streamed=100,
        **args,  # type: ignore[arg-type]
    )
    assert streaming.asked == rest[:200]  # a fifth a round: all of them in 10 s
    assert streaming.plan == QuotePlan(
        every=2.0, in_view=0, watched=0, total=1_100, all_every=12.0, streamed=100
    )
