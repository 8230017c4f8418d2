"""MarketStream against the in-process simulator's WebSocket, with real OAuth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from ibtui.ibkr.connect import Connection
from ibtui.ibkr.models import Accepted, OrderRequest, OrderType, ReplyRequired, Side, make_coid
from ibtui.ibkr.stream import MarketStream, StreamTiming, connect_httpx_ws
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment
from tests.client.stream_fakes import Recorder

AAPL, SPY = 265598, 756733
FAST = StreamTiming(tick=0.05, backoff_first=0.05, backoff_max=0.2)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for what the stream's task does (it tells no one but the recorder)."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 (a condition on another task's state)
            await asyncio.sleep(0.02)


@pytest.fixture
async def live(
    demo: DemoEnvironment, conn: Connection
) -> AsyncIterator[tuple[MarketStream, Recorder]]:
    await conn.start()
    events = Recorder()
    stream = MarketStream(
        conn.client,
        events,
        access_token=conn.session.access.access_token,
        timing=FAST,
        connect=connect_httpx_ws(demo.stream_http),
    )
    task = asyncio.create_task(stream.run())
    yield stream, events
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.state.status == "down" and stream.state.reason == "stopped"


async def test_quotes_orders_and_pnl_streamed(
    conn: Connection, live: tuple[MarketStream, Recorder]
) -> None:
    stream, events = live
    stream.want_quotes([AAPL, SPY])
    stream.want_orders(True)
    stream.want_pnl(True)
    await until(lambda: stream.streamed() == {AAPL, SPY})
    quote = events.last_quote(AAPL)
    assert quote.last is not None and quote.bid is not None and quote.symbol == "AAPL"
    await until(lambda: bool(events.got_pnl))
    assert PAPER_ACCOUNT in events.got_pnl[-1]

    below = (quote.last * Decimal("0.98")).quantize(Decimal("0.01"))
    coid = make_coid()
    order = OrderRequest(AAPL, Side.BUY, Decimal(3), OrderType.LIMIT, coid, price=below)
    result = await conn.client.place_order(PAPER_ACCOUNT, order)
    while isinstance(result, ReplyRequired):
        result = await conn.client.reply(result.reply_id, confirmed=True)
    assert isinstance(result, Accepted)
    await until(lambda: any(o.order_id == result.order_id for o in events.got_orders))
    await conn.client.cancel_order(PAPER_ACCOUNT, result.order_id)
    await until(
        lambda: any(
            o.order_id == result.order_id and o.status_text == "Cancelled"
            for o in events.got_orders
        )
    )
    mine = [o for o in events.got_orders if o.order_id == result.order_id]
    assert mine[-1].side is Side.BUY and mine[-1].order_ref == coid  # merged onto the first


async def test_unsubscribed_conid_stops(live: tuple[MarketStream, Recorder]) -> None:
    stream, _ = live
    stream.want_quotes([AAPL, SPY])
    await until(lambda: stream.streamed() == {AAPL, SPY})
    stream.want_quotes([SPY])
    await until(lambda: stream.streamed() == {SPY})


async def test_survives_the_stream_faults(
    demo: DemoEnvironment, live: tuple[MarketStream, Recorder]
) -> None:
    stream, events = live
    demo.sim.faults.add_spec("wsgarbage:every=3,wsdrop:every=25")
    stream.want_quotes([AAPL, SPY])
    await until(lambda: sum(1 for s in events.states if s.status == "live") >= 3)
    assert any("closed the connection (code 1011)" in s.reason for s in events.states)
    await until(lambda: stream.streamed() == {AAPL, SPY})


async def test_stall_is_noticed(demo: DemoEnvironment, conn: Connection) -> None:
    await conn.start()
    demo.sim.faults.add_spec("wsstall:count=1:every=5")
    events = Recorder()
    stream = MarketStream(
        conn.client,
        events,
        access_token=conn.session.access.access_token,
        timing=StreamTiming(tick=0.05, stall=0.5, backoff_first=0.05),
        connect=connect_httpx_ws(demo.stream_http),
    )
    stream.want_quotes([AAPL])
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: any("sent nothing" in s.reason for s in events.states))
        await until(lambda: stream.streamed() == {AAPL})  # the next socket is not stalled
    finally:
        task.cancel()


async def test_refused_without_a_current_lst(demo: DemoEnvironment, conn: Connection) -> None:
    await conn.start()
    events = Recorder()
    stream = MarketStream(
        conn.client,
        events,
        access_token="notatoken",
        timing=FAST,
        connect=connect_httpx_ws(demo.stream_http),
    )
    task = asyncio.create_task(stream.run())
    try:
        await until(lambda: any(s.status == "down" for s in events.states[1:]))
    finally:
        task.cancel()
    down = next(s for s in events.states[1:] if s.status == "down")
    assert "notatoken" not in down.reason
    assert down.reason == "the server closed the connection (code 1008)"
