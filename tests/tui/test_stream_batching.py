"""A burst of pushed quotes reaches the screen as one batch (``StreamFeed.quotes``): IBKR pushes
one frame per conid, so a hundred rows moving at once arrive as a hundred frames over a few
milliseconds. Posted as they came they would cost a repaint each (and a first repaint in the
middle of the burst holds back the rest); the feed posts once the socket has been quiet for
``batch_quiet`` seconds, and never holds a burst longer than ``batch_cap``."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from textual.message import Message

from ibtui.tui.messages import QuotesUpdated
from ibtui.tui.streaming import StreamFeed
from ibtui.tui.viewmodels import QuoteView
from tests.tui.test_tui_streaming import FakeStream


def feed(posted: list[Message], quiet: float, cap: float) -> StreamFeed:
    return StreamFeed(FakeStream(), posted.append, wanted=list, batch_quiet=quiet, batch_cap=cap)


def batches(posted: list[Message]) -> list[list[int]]:
    return [sorted(m.quotes) for m in posted if isinstance(m, QuotesUpdated)]


async def test_a_burst_spread_over_time_is_posted_once_when_it_ends() -> None:
    posted: list[Message] = []
    stream = feed(posted, quiet=0.3, cap=10.0)
    for conid in range(1, 11):  # ten frames, 20 ms apart: 200 ms in all, never 300 ms quiet
        stream.quotes([QuoteView(conid, Decimal("1"))])
        await asyncio.sleep(0.02)
    assert batches(posted) == []  # still coming: nothing drawn yet
    await asyncio.sleep(0.6)
    assert batches(posted) == [list(range(1, 11))]


async def test_a_burst_that_never_pauses_is_posted_every_cap() -> None:
    posted: list[Message] = []
    stream = feed(posted, quiet=0.5, cap=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    conid = 0
    while loop.time() - start < 0.45:  # a frame every 20 ms: never quiet for 0.5 s
        conid += 1
        stream.quotes([QuoteView(conid, Decimal("1"))])
        await asyncio.sleep(0.02)
    got = batches(posted)
    # posted about every 0.1 s while it went on, not held for the quiet that never came
    assert len(got) >= 2, got
    flat = [conid for batch in got for conid in batch]
    assert flat == list(range(1, len(flat) + 1))  # in order, none twice
