"""The keep-alive: tickle, and reopen the brokerage session after a reset or a competing login."""

from __future__ import annotations

import pytest

from ibtui.ibkr.connect import Connection, Recovery
from ibtui.ibkr.errors import CompetingSessionError, IbkrError
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment
from tests.simulated import signed_in


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

    assert conn.reclaim_in() == conn.reclaim_every - 60
    now[0] += conn.reclaim_every
    assert conn.reclaim_in() == 0
    result = await conn.keep_alive()
    assert result.recovery is Recovery.RECLAIMED and result.healthy


async def test_the_trader_can_take_the_session_back_at_once(
    demo: DemoEnvironment, conn: Connection
) -> None:
    now = [1000.0]
    conn.clock = lambda: now[0]
    await conn.start()
    assert conn.reclaim_in() is None
    demo.sim.faults.competing_login()
    assert (await conn.keep_alive()).recovery is Recovery.RECLAIMED
    demo.sim.faults.competing_login()
    now[0] += 10
    assert (await conn.keep_alive()).recovery is Recovery.COMPETING

    result = await conn.keep_alive(take_back=True)

    assert result.recovery is Recovery.RECLAIMED and result.healthy
    assert await conn.client.positions(PAPER_ACCOUNT)


async def test_the_console_sees_the_session_come_back(demo: DemoEnvironment) -> None:
    from ibtui.tui.viewmodels import SessionState

    backend, _secret = signed_in(demo)
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


async def test_a_request_after_the_nightly_reset_reopens_the_session_and_lists_the_accounts(
    demo: DemoEnvironment, conn: Connection
) -> None:
    # No keep-alive in between: the request itself meets "no bridge", reopens the session, then
    # meets "query /accounts first" and lists them; the caller sees quotes, not an error.
    await conn.start()
    demo.sim.faults.nightly_reset()
    assert await conn.client.snapshot([265598])


async def test_a_request_never_takes_the_session_from_a_competing_login(
    demo: DemoEnvironment, conn: Connection
) -> None:
    # Only the keep-alive takes it back, by its rule; a request that did would take it from TWS
    # every poll, and TWS would take it straight back.
    await conn.start()
    demo.sim.faults.competing_login()
    with pytest.raises(CompetingSessionError, match="log out of the other platform"):
        await conn.client.snapshot([265598])
    assert (await conn.client.auth_status()).competing  # still the other platform's

    assert (await conn.keep_alive()).recovery is Recovery.RECLAIMED
    assert await conn.client.snapshot([265598])


@pytest.mark.parametrize("failure", ["503", "410", "dropped connection"])
async def test_a_take_back_that_failed_is_tried_again_at_the_next_keep_alive(
    demo: DemoEnvironment, conn: Connection, failure: str
) -> None:
    """The take-back's init failed (IBKR answered 503 or 410, or the connection dropped before it
    was handled): nothing was taken, so the next keep-alive takes it back, not one 5 minutes later
    (the console had no quotes all that time)."""
    now = [1000.0]
    conn.clock = lambda: now[0]
    await conn.start()
    demo.sim.faults.competing_login()
    init = "/v1/api/iserver/auth/ssodh/init"
    if failure == "503":
        demo.sim.faults.errors(503, path=init, count=1)
    elif failure == "410":  # IBKR's intermittent 410 Gone
        demo.sim.faults.misbehave("gone410", path_prefix=init, count=1)
    else:
        demo.sim.faults.drop_connections(path=init, count=1)
    with pytest.raises(IbkrError):
        await conn.keep_alive()
    now[0] += 10
    result = await conn.keep_alive()
    assert result.recovery is Recovery.RECLAIMED and result.healthy
