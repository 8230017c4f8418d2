"""The client's pacing against the simulator's real limits (API.md §11): a burst from many tasks
reaches the server inside every limit, so no 429 ever comes back to the caller."""

from __future__ import annotations

import asyncio
import time

import pytest

from ibtui.demo import DemoEnvironment, build_demo, trading_offset
from ibtui.ibkr.connect import connect
from ibtui.ibkr.errors import RateLimitedError
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT, ShiftedClock, SimConfig, SystemClock

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
