"""The client's pacing against the simulator's real limits (API.md §11): a burst from many tasks
reaches the server inside every limit, so no 429 ever comes back to the caller; an order POST
answered 429 anyway is never sent again."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import httpx
import pytest

from ibtui.ibkr.connect import connect
from ibtui.ibkr.errors import OrderOutcomeUnknownError, RateLimitedError
from ibtui.ibkr.models import OrderError, OrderRequest, OrderType, Side, make_coid
from ibtui.ibkr.pacing import Pacer, RateLimit
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT, ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import DemoEnvironment, build_demo, trading_offset

AAPL, MSFT = 265598, 272093


@pytest.fixture
def paced_demo() -> DemoEnvironment:
    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    return build_demo(key_bits=1024, config=SimConfig(seed=5, clock=clock, pacing_enabled=True))


def _access(demo: DemoEnvironment) -> AccessCredentials:
    return AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))


async def _burst(demo: DemoEnvironment, pacer: Pacer) -> list[object]:
    async with connect(
        demo.base_url, demo.consumer, _access(demo), transport=demo.transport, pacer=pacer
    ) as conn:
        await conn.start()
        client = conn.client
        calls = [
            *(client.snapshot([AAPL, MSFT]) for _ in range(24)),
            *(client.portfolio_accounts() for _ in range(2)),
            *(client.live_orders() for _ in range(2)),
            *(client.tickle() for _ in range(2)),
            *(client.positions(PAPER_ACCOUNT) for _ in range(6)),
        ]
        return await asyncio.gather(*calls, return_exceptions=True)


async def test_a_burst_from_many_tasks_gets_no_429(paced_demo: DemoEnvironment) -> None:
    results = await _burst(paced_demo, Pacer())
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert paced_demo.sim.pacing.rejected == 0  # the server never had to say 429


async def test_without_the_pacer_the_same_burst_is_refused(paced_demo: DemoEnvironment) -> None:
    # The control: the simulator's limits are real, so the test above can fail.
    # (no limits of its own, and it gives up quickly instead of sitting out the penalty box)
    unpaced = Pacer(global_limit=None, rules=(), max_retry_after=0.01, backoff_cap=0.01)
    results = await _burst(paced_demo, unpaced)
    assert paced_demo.sim.pacing.rejected > 0
    assert any(isinstance(r, RateLimitedError) for r in results)


class RefuseFirstOrder(httpx.AsyncBaseTransport):
    """Answers the first order POST 429, as IBKR's rate limiter does, without handling it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.order_posts = 0
        self.cancels = 0
        self.cancels_refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            self.cancels += 1
            if self.cancels <= self.cancels_refused:
                return httpx.Response(429, json={"error": "Too many requests"})
        if request.method == "POST" and request.url.path.endswith(f"/{PAPER_ACCOUNT}/orders"):
            self.order_posts += 1
            if self.order_posts == 1:
                return httpx.Response(429, json={"error": "Too many requests"})
        return await self.inner.handle_async_request(request)


async def test_an_order_answered_429_is_never_sent_again(paced_demo: DemoEnvironment) -> None:
    # IBKR has been seen to carry an order out and answer 429: sent again, it would meet the
    # duplicate-cOID check (or, without one, be placed twice). Its outcome is unknown instead,
    # for the order service to resolve by cOID; the pacer still sits out the penalty.
    wire = RefuseFirstOrder(paced_demo.transport)
    order = OrderRequest(
        AAPL, Side.BUY, Decimal(1), OrderType.LIMIT, make_coid(), price=Decimal("1.00")
    )
    async with connect(
        paced_demo.base_url,
        paced_demo.consumer,
        _access(paced_demo),
        transport=wire,
        pacer=Pacer(backoff_base=0.05),
    ) as conn:
        await conn.start()
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await conn.client.place_order(PAPER_ACCOUNT, order)
        assert caught.value.coid == order.coid and "429" in caught.value.reason
        assert wire.order_posts == 1
        # a cancel is not an order POST: answered 429, it goes again after the penalty
        wire.cancels_refused = 1
        refused = await conn.client.cancel_order(PAPER_ACCOUNT, 123)
        assert isinstance(refused, OrderError) and "doesn't exist" in refused.text
        assert wire.cancels == 2
    assert not [o for o in paced_demo.sim.broker.orders.values() if o.ticket.coid == order.coid]


class RefuseSnapshots(httpx.AsyncBaseTransport):
    """Answers every snapshot 429 (IBKR's limiter during a burst), as a server does: no
    Retry-After."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/iserver/marketdata/snapshot"):
            self.refused += 1
            return httpx.Response(429, json={"error": "Too many requests"})
        return await self.inner.handle_async_request(request)


async def test_a_snapshot_refused_at_every_retry_says_when_the_pacer_lets_it_by(
    paced_demo: DemoEnvironment,
) -> None:
    # After its retries the client gives up with a RateLimitedError that carries the pacer's
    # remaining penalty as retry_after: the poller comes back then, not after a back-off of its
    # own doubled on top of the pacer's.
    now = [1000.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    wire = RefuseSnapshots(paced_demo.transport)
    pacer = Pacer(clock=lambda: now[0], sleep=sleep)
    async with connect(
        paced_demo.base_url, paced_demo.consumer, _access(paced_demo), transport=wire, pacer=pacer
    ) as conn:
        await conn.start()
        with pytest.raises(RateLimitedError) as caught:
            await conn.client.snapshot([AAPL])
    assert wire.refused == 6  # the first try and five after the pacer's penalties
    # the sixth penalty: 1 s doubled five times, capped at 30 s, all of it still to wait
    assert caught.value.retry_after == 30.0
    assert pacer.blocked_for("/iserver/marketdata/snapshot", "GET") == 30.0


def test_the_rate_a_pacer_lets_through_is_the_slower_of_its_endpoint_and_global_windows() -> None:
    pacer = Pacer()
    assert pacer.rate("GET", "/iserver/marketdata/snapshot?conids=1") == 10.0
    assert pacer.rate("GET", "/iserver/account/orders") == 0.2
    assert pacer.rate("GET", "/portfolio/U1/positions/0") == 10.0  # the global window only
    slower = Pacer(global_limit=RateLimit(5, 1.0))
    assert slower.rate("GET", "/iserver/marketdata/snapshot") == 5.0
    assert Pacer(global_limit=None, rules=()).rate("GET", "/iserver/marketdata/snapshot") is None
