"""Fixtures for the client tests: the in-process simulator and a connected client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from ibtui.ibkr.connect import Connection, connect
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import DemoEnvironment, build_demo, trading_offset


@pytest.fixture
def demo() -> DemoEnvironment:
    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    return build_demo(key_bits=1024, config=SimConfig(seed=3, clock=clock, pacing_enabled=False))


@pytest.fixture
async def conn(demo: DemoEnvironment) -> AsyncIterator[Connection]:
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    access = AccessCredentials(token, secret)
    # the simulator's pacing is off here, and so is the client's: these tests are about behaviour
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url, demo.consumer, access, transport=demo.transport, pacer=unpaced
    ) as c:
        yield c
