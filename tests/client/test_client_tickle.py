"""``/tickle`` shared: IBKR paces it at one a second, so callers at the same moment (the stream
opening while the keep-alive runs) share one request, and a recent answer can serve."""

from __future__ import annotations

import asyncio
import time

import httpx

from ibtui.ibkr.connect import connect
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import build_demo, trading_offset


class Counting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.tickles = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tickle"):
            self.tickles += 1
        return await self.inner.handle_async_request(request)


async def test_tickles_at_once_share_one_request_and_a_recent_answer_serves() -> None:
    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    demo = build_demo(key_bits=1024, config=SimConfig(seed=3, clock=clock, pacing_enabled=False))
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    counting = Counting(demo.transport)
    # IBKR's pacing on the client's side, as in the console: /tickle one a second
    async with connect(
        demo.base_url,
        demo.consumer,
        AccessCredentials(token, secret),
        transport=counting,
        pacer=Pacer(),
    ) as conn:
        seen: list[str] = []
        stop = conn.client.watch_sessions(seen.append)
        before = counting.tickles
        first, second = await asyncio.gather(conn.client.tickle(), conn.client.tickle())
        assert first.session == second.session
        assert counting.tickles == before + 1  # one request; the second did not wait a second
        assert seen == [first.session]

        again = await conn.client.tickle(fresh_within=30)  # the answer of a moment ago
        assert again == first and counting.tickles == before + 1

        stop()
        await conn.client.tickle()  # asked again: a request, no longer told to the watcher
        assert counting.tickles == before + 2 and seen == [first.session]
