"""A burst of pushed quotes reaches the screen as one batch (``StreamFeed.quotes``): IBKR pushes
one frame per conid, so a hundred rows moving at once arrive as a hundred frames over a few
milliseconds. Posted as they came they would cost a repaint each (and a first repaint in the
middle of the burst holds back the rest); the feed posts once the socket has been quiet for
``batch_quiet`` seconds, and never holds a burst longer than ``batch_cap``. The bursts are timed
on a timer the test moves (``Timer``), so every step is exact."""

from __future__ import annotations

from decimal import Decimal

from textual.message import Message

from ibtui.tui.messages import QuotesUpdated
from ibtui.tui.streaming import StreamFeed
from ibtui.tui.viewmodels import QuoteView
from tests.tui.conftest import T0, Clock, Timer
from tests.tui.test_tui_streaming import FakeStream


def feed(posted: list[Message], timer: Timer, quiet: float, cap: float, **kw: object) -> StreamFeed:
    return StreamFeed(
        FakeStream(),
        posted.append,
        wanted=list,
        batch_quiet=quiet,
        batch_cap=cap,
        timer=timer,
        **kw,  # type: ignore[arg-type]
    )


def batches(posted: list[Message]) -> list[list[int]]:
    return [sorted(m.quotes) for m in posted if isinstance(m, QuotesUpdated)]


def tick(stream: StreamFeed, conid: int) -> None:
    stream.quotes([QuoteView(conid, Decimal("1"))])


def test_a_burst_spread_over_time_is_posted_once_when_it_ends() -> None:
    posted: list[Message] = []
    timer = Timer()
    stream = feed(posted, timer, quiet=0.25, cap=10.0)
    for conid in range(1, 11):  # ten frames, 0.2421875 s apart: never 0.25 s quiet
        tick(stream, conid)
        timer.advance(0.2421875)
    assert batches(posted) == []  # still coming: nothing drawn yet
    timer.advance(0.0068359375)  # 0.2490234375 s after the last frame
    assert batches(posted) == []
    timer.advance(0.0009765625)  # quiet for 0.25 s
    assert batches(posted) == [list(range(1, 11))]
    assert all(isinstance(m, QuotesUpdated) and m.burst for m in posted)


def test_a_burst_that_never_pauses_is_posted_every_cap() -> None:
    posted: list[Message] = []
    timer = Timer()
    stream = feed(posted, timer, quiet=0.5, cap=0.125)
    for conid in range(1, 36):  # a frame every 1/64 s for 0.55 s: never quiet for 0.5 s
        tick(stream, conid)
        timer.advance(0.015625)
    # posted 0.125 s after each batch's first frame, not held for the quiet that never came:
    # the frames at 0 ... 7/64 s by 0.125 s, the next eight (from 0.125 s) by 0.25 s, and so on
    assert batches(posted) == [list(range(n, n + 8)) for n in (1, 9, 17, 25)]
    timer.advance(0.0625)  # the fifth batch began at 0.5 s: at 0.609375 s it is still held
    assert len(batches(posted)) == 4
    timer.advance(0.015625)  # at 0.625 s it is posted, though its last frame is 0.09 s old
    assert batches(posted)[4:] == [[33, 34, 35]]


def test_the_batch_is_stamped_on_the_feed_clock_when_its_newest_quote_came() -> None:
    """One moment, one reading: the stamps are the timer's time moved onto the feed's clock at
    the burst's first quote, so a feed clock set between bursts is followed."""
    posted: list[Message] = []
    timer, clock = Timer(5.0), Clock()
    stream = feed(posted, timer, quiet=0.003, cap=0.025, clock=clock)
    tick(stream, 1)
    timer.advance(0.002)
    tick(stream, 2)
    timer.advance(0.003)
    first = posted[-1]
    assert isinstance(first, QuotesUpdated)
    assert first.received_at == T0 + 0.002
    assert first.quotes[1].updated_at == T0 and first.quotes[2].updated_at == T0 + 0.002
    assert stream.streamed() == frozenset()  # not live: nothing handed to the stream
    clock.advance(60.0)  # the feed's clock moves on its own (a test's; the wall clock stepped)
    tick(stream, 3)
    timer.advance(0.003)
    second = posted[-1]
    assert isinstance(second, QuotesUpdated) and second.received_at == T0 + 60.0


def test_a_batch_is_a_burst_only_while_nothing_but_bursts_merged_into_it() -> None:
    """Queued batches merge (``QuotesUpdated.can_replace``, the older asked): two bursts are one
    burst; a poll's batch merged with a burst, either way round, is not one."""

    def merged(older: bool, newer: bool) -> bool:
        old = QuotesUpdated({1: QuoteView(1, Decimal("1"))}, T0, burst=older)
        new = QuotesUpdated({2: QuoteView(2, Decimal("2"))}, T0, burst=newer)
        assert old.can_replace(new) and set(new.quotes) == {1, 2}
        return new.burst

    assert merged(True, True)
    assert not merged(False, True)
    assert not merged(True, False)
    assert not merged(False, False)
