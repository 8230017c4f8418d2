"""LST renewal against the simulator: short-lived tokens renewed ahead of expiry with no failed
request, and a forced expiry under concurrency costing each request at most one 401."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from ibtui.ibkr.connect import connect
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT, ManualClock, SimConfig
from ibtui.sim.demo import build_demo

AAPL = 265598


class CountingTransport(httpx.AsyncBaseTransport):
    """Passes requests through and counts the answers by status."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.statuses: Counter[int] = Counter()
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        return response


async def test_short_lived_tokens_are_renewed_ahead_with_no_failed_request() -> None:
    clock = ManualClock(time.time())  # OAuth timestamps must be near real time
    config = SimConfig(seed=2, clock=clock, pacing_enabled=False, lst_lifetime_seconds=6)
    # the server's tokens last 6 s of the same clock the client reads their expiry with
    demo = build_demo(key_bits=1024, config=config, oauth_clock=clock.now)
    wire = CountingTransport(demo.transport)
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url,
        demo.consumer,
        access,
        transport=wire,
        clock=clock.now,
        pacer=unpaced,
        renew_margin=2,
    ) as conn:
        await conn.start()
        for _ in range(30):  # 30 s of traffic across five token lifetimes
            clock.advance(1)
            assert await conn.client.positions(PAPER_ACCOUNT)
            await conn.client.snapshot([AAPL])
        assert conn.session.renewals >= 5
    assert wire.statuses[401] == 0  # always renewed before the server could refuse it


async def test_a_forced_expiry_under_load_renews_once_and_retries_each_request_once() -> None:
    clock = ManualClock(time.time())  # OAuth timestamps must be near real time
    demo = build_demo(key_bits=1024, config=SimConfig(seed=2, clock=clock, pacing_enabled=False))
    wire = CountingTransport(demo.transport)
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url, demo.consumer, access, transport=wire, clock=clock.now, pacer=unpaced
    ) as conn:
        await conn.start()
        renewals, sent = conn.session.renewals, wire.requests
        demo.sim.faults.expire_lsts()  # the server forgets the token the client still holds
        results = await asyncio.gather(*(conn.client.positions(PAPER_ACCOUNT) for _ in range(20)))
        assert all(results)
        assert conn.session.renewals == renewals + 1
        refused = wire.statuses[401]
        assert 1 <= refused <= 20
        # 20 requests, one retry for each refused one, and the one LST request: nothing more
        assert wire.requests - sent == 20 + refused + 1


async def test_tokens_shorter_than_the_renew_margin_are_not_renewed_with_every_request() -> None:
    # The default margin renews 10 minutes ahead; a server issuing 20 s tokens must not get a DH
    # exchange (and a token replacing the one concurrent requests were signed with) per request.
    clock = ManualClock(time.time())  # OAuth timestamps must be near real time
    config = SimConfig(seed=2, clock=clock, pacing_enabled=False, lst_lifetime_seconds=20)
    demo = build_demo(key_bits=1024, config=config, oauth_clock=clock.now)  # tokens expire on it
    wire = CountingTransport(demo.transport)
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url, demo.consumer, access, transport=wire, clock=clock.now, pacer=unpaced
    ) as conn:
        await conn.start()
        for _ in range(10):
            await conn.client.snapshot([AAPL])
        assert conn.session.renewals == 1
        for _ in range(40):  # 40 s: two token lifetimes, each token renewed ahead of its expiry
            clock.advance(1)
            await conn.client.snapshot([AAPL])
        assert 2 <= conn.session.renewals <= 5
    assert wire.statuses[401] == 0
