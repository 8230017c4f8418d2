"""The in-process simulator as the console's tests start it: a demo on a trading day, and a
backend signed in to it with a freshly provisioned access token."""

from __future__ import annotations

import time

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import Clock, ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import DemoEnvironment, build_demo, trading_offset


def trading_demo(seed: int, clock: Clock | None = None) -> DemoEnvironment:
    """The demo without pacing, its clock (by default the system's) shifted into a trading day."""
    if clock is None:
        clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    return build_demo(key_bits=1024, config=SimConfig(seed=seed, clock=clock, pacing_enabled=False))


def signed_in(demo: DemoEnvironment) -> tuple[ClientBackend, str]:
    """A backend of the demo with a new access token, and that token's secret."""
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    backend = ClientBackend(
        demo.base_url,
        demo.consumer,
        access=AccessCredentials(token, secret),
        transport=demo.transport,
    )
    return backend, secret
