"""The keep-alive: tickle, and reopen the brokerage session after a reset or a competing login."""

from __future__ import annotations

from ibtui.demo import DemoEnvironment
from ibtui.ibkr.connect import Connection, Recovery
from ibtui.sim import PAPER_ACCOUNT


async def test_a_healthy_session_is_only_tickled(conn: Connection) -> None:
    await conn.start()
    result = await conn.keep_alive()
    assert result.recovery is Recovery.NONE and result.healthy


async def test_after_the_nightly_reset_the_session_is_reopened(
    demo: DemoEnvironment, conn: Connection
) -> None:
    await conn.start()
    demo.sim.faults.nightly_reset()
    result = await conn.keep_alive()
    assert result.recovery is Recovery.REOPENED and result.healthy
    assert await conn.client.positions(PAPER_ACCOUNT)  # usable again at once


async def test_a_competing_login_is_reclaimed_but_never_fought_in_a_loop(
    demo: DemoEnvironment, conn: Connection
) -> None:
    now = [1000.0]
    conn.clock = lambda: now[0]
    await conn.start()

    demo.sim.faults.competing_login()
    result = await conn.keep_alive()
    assert result.recovery is Recovery.RECLAIMED and result.healthy

    demo.sim.faults.competing_login()  # the other platform takes it straight back
    now[0] += 60
    result = await conn.keep_alive()
    assert result.recovery is Recovery.COMPETING and not result.healthy

    now[0] += conn.reclaim_every
    result = await conn.keep_alive()
    assert result.recovery is Recovery.RECLAIMED and result.healthy


async def test_the_console_sees_the_session_come_back(demo: DemoEnvironment) -> None:
    from ibtui.console import ClientBackend
    from ibtui.ibkr.session import AccessCredentials
    from ibtui.tui.viewmodels import SessionState

    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    backend = ClientBackend(
        demo.base_url,
        demo.consumer,
        access=AccessCredentials(token, secret),
        transport=demo.transport,
    )
    try:
        assert await backend.keep_alive() is SessionState.CONNECTED
        demo.sim.faults.nightly_reset()
        assert await backend.keep_alive() is SessionState.CONNECTED
        demo.sim.faults.competing_login()
        assert await backend.keep_alive() is SessionState.CONNECTED  # reclaimed
        demo.sim.faults.competing_login()
        assert await backend.keep_alive() is SessionState.COMPETING  # not fought over
    finally:
        await backend.aclose()


async def test_a_request_after_a_competing_login_reopens_the_session_and_lists_the_accounts(
    demo: DemoEnvironment, conn: Connection
) -> None:
    # No keep-alive in between: the request itself meets "no bridge", reopens the session, then
    # meets "query /accounts first" and lists them; the caller sees quotes, not an error.
    await conn.start()
    demo.sim.faults.competing_login()
    assert await conn.client.snapshot([265598])
