"""The real IBKR's misbehaviour, as the simulator's named faults: each recovered without a restart
(issue: 410 Gone, spurious 401, empty DH answer, no bridge after init, accounts first, the nightly
reset, accountId on the live orders, Content-Length on DELETE)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest

from ibtui.ibkr.connect import Connection, connect
from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.recovery import RecoverySettings
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment
from tests.simulated import signed_in

if TYPE_CHECKING:  # the console's poller is imported by the tests that drive it
    from ibtui.tui.poller import Poller

AAPL = 265598
FAST = RecoverySettings(gone_pause=0.01, status_every=0.01, dh_backoff=0.01)


class Wire(httpx.AsyncBaseTransport):
    """Passes requests through and keeps what a server would see of each."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []
        self.statuses: Counter[int] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        response = await self.inner.handle_async_request(request)
        self.statuses[response.status_code] += 1
        return response

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/v1/api") for r in self.seen]


@pytest.fixture
def wire(demo: DemoEnvironment) -> Wire:
    return Wire(demo.transport)


@pytest.fixture
async def fconn(demo: DemoEnvironment, wire: Wire) -> AsyncIterator[Connection]:
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url,
        demo.consumer,
        AccessCredentials(token, secret),
        transport=wire,
        pacer=unpaced,
        recovery=FAST,
    ) as c:
        yield c


async def test_410_gone_is_retried_with_the_same_token(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    await fconn.start()
    demo.sim.faults.misbehave("gone410", count=2)
    assert await fconn.client.positions(PAPER_ACCOUNT)
    assert wire.statuses[410] == 2
    assert fconn.session.renewals == 1  # the same LST throughout


async def test_a_run_of_410s_makes_a_new_token_and_a_new_brokerage_session(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    await fconn.start()
    demo.sim.faults.misbehave("gone410", count=3)
    inits = wire.paths().count("/iserver/auth/ssodh/init")
    quotes = await fconn.client.snapshot([AAPL])
    assert [q.conid for q in quotes] == [AAPL]
    assert fconn.session.renewals == 2
    assert wire.paths().count("/iserver/auth/ssodh/init") == inits + 1
    after = wire.paths()[wire.paths().index("/oauth/live_session_token", 1) :]
    assert after.index("/iserver/accounts") < after.index("/iserver/marketdata/snapshot")


async def test_a_spurious_401_costs_no_new_exchange(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    await fconn.start()
    demo.sim.faults.misbehave("spurious401", count=1)
    assert await fconn.client.positions(PAPER_ACCOUNT)
    assert wire.statuses[401] == 1 and fconn.session.renewals == 1


async def test_a_401_that_persists_renews_the_token(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    await fconn.start()
    demo.sim.faults.misbehave("spurious401", count=2)
    assert await fconn.client.positions(PAPER_ACCOUNT)
    assert wire.statuses[401] == 2 and fconn.session.renewals == 2


async def test_an_empty_dh_answer_is_asked_again(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    demo.sim.faults.misbehave("emptydh", count=2)
    await fconn.start()
    assert wire.paths().count("/oauth/live_session_token") == 3
    assert fconn.session.renewals == 1


async def test_an_empty_dh_answer_that_persists_says_so(
    demo: DemoEnvironment, fconn: Connection
) -> None:
    demo.sim.faults.misbehave("emptydh", every=1)
    with pytest.raises(ProtocolError, match="empty Diffie-Hellman response 4 times"):
        await fconn.start()


async def test_no_bridge_after_init_waits_for_the_session_then_lists_accounts(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    demo.sim.faults.misbehave("nobridge", count=3)
    status, accounts = await fconn.start()
    assert status.healthy and PAPER_ACCOUNT in accounts.accounts
    assert await fconn.client.snapshot([AAPL])
    paths = wire.paths()
    assert paths.count("/iserver/auth/ssodh/init") == 1
    assert paths.count("/iserver/auth/status") == 3
    assert wire.statuses[400] == 0  # never "no bridge", never "query /accounts first"


async def test_a_session_that_ends_again_while_it_reopens_is_reopened_once_more(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    """Two resets in a row: the request meets "no bridge", the session is reopened, and the
    request sent again meets the next reset. It is reopened once more, and answered."""
    await fconn.start()
    demo.sim.faults.misbehave(
        "reset", path_prefix="/v1/api/iserver/account/orders", every=1, count=2
    )
    orders = await fconn.client.live_orders(PAPER_ACCOUNT)
    assert orders is not None
    assert wire.paths().count("/iserver/auth/ssodh/init") == 3  # the start and two reopens


async def test_a_session_that_ends_while_it_warms_up_is_opened_again(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    """A reset while the new session warms up ("no bridge" after init): the status says it is
    not even connected, so waiting cannot help. It is opened again, and the start goes on."""
    demo.sim.faults.misbehave("nobridge", count=2)
    demo.sim.faults.misbehave("reset", path_prefix="/v1/api/iserver/auth/status", count=1)
    status, accounts = await fconn.start()
    assert status.authenticated and accounts.accounts
    assert wire.paths().count("/iserver/auth/ssodh/init") == 2


async def test_concurrent_requests_after_a_reset_share_one_init(
    demo: DemoEnvironment, fconn: Connection, wire: Wire
) -> None:
    await fconn.start()
    demo.sim.faults.misbehave("nobridge", count=2)
    demo.sim.faults.nightly_reset()
    results = await asyncio.gather(*(fconn.client.snapshot([AAPL]) for _ in range(5)))
    assert all(results)
    paths = wire.paths()
    assert paths.count("/iserver/auth/ssodh/init") == 2  # the start's and one re-init
    last_init = len(paths) - 1 - paths[::-1].index("/iserver/auth/ssodh/init")
    rest = paths[last_init:]
    first_snapshot = rest.index("/iserver/marketdata/snapshot")
    assert "/iserver/accounts" in rest[:first_snapshot]


async def test_the_nightly_reset_is_noticed_by_the_keep_alive_and_told(
    demo: DemoEnvironment, fconn: Connection
) -> None:
    heard: list[bool] = []
    fconn.client.gate.listen(heard.append)
    await fconn.start()
    demo.sim.faults.misbehave("reset", every=1, count=1)
    keep = await fconn.keep_alive()
    assert keep.healthy and heard == [True, False]
    assert await fconn.client.positions(PAPER_ACCOUNT)


async def test_live_orders_always_name_the_account_and_delete_sends_content_length(
    fconn: Connection, wire: Wire
) -> None:
    await fconn.start()
    await fconn.client.live_orders(force=True)
    await fconn.client.live_orders()
    await fconn.client.cancel_order(PAPER_ACCOUNT, 1)  # no such order: the request matters
    orders = [r for r in wire.seen if r.url.path.endswith("/iserver/account/orders")]
    assert [r.url.params.get("accountId") for r in orders] == [PAPER_ACCOUNT] * 2
    delete = next(r for r in wire.seen if r.method == "DELETE")
    assert delete.headers.get("content-length") == "0"


async def test_placeholders_leave_a_field_missing_not_the_row_or_the_batch(
    demo: DemoEnvironment, fconn: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    await fconn.start()
    conids = [p.conid for p in await fconn.client.positions(PAPER_ACCOUNT)]
    await fconn.client.snapshot(conids)  # IBKR's warm-up
    demo.sim.faults.misbehave("placeholders", rate=1.0, fields=frozenset({"31", "70", "7762"}))
    caplog.set_level("WARNING", logger="ibtui.ibkr.models.market")
    for _ in range(2):
        quotes = await fconn.client.snapshot(conids)
        assert [q.conid for q in quotes] == conids
        assert all(q.last is None and q.high is None for q in quotes)
        assert all(q.bid is not None and q.ask is not None for q in quotes)
        assert not any(q.is_warmup for q in quotes)
    # the parser's records only: a record of an earlier test's logger may be caught too
    logged = [r.getMessage() for r in caplog.records if r.name == "ibtui.ibkr.models.market"]
    assert len(logged) == len(set(logged)) == 3 * len(conids)  # once per field and conid


@contextlib.asynccontextmanager
async def polling(demo: DemoEnvironment) -> AsyncIterator[tuple[Poller, list[object]]]:
    """A poller of the paper account through the client (no pauses), and what it posts."""
    from ibtui.tui.poller import Poller

    backend, _secret = signed_in(demo)
    posted: list[object] = []

    async def no_wait(seconds: float) -> None:
        return None

    try:
        yield Poller(backend, PAPER_ACCOUNT, posted.append, sleep=no_wait), posted
    finally:
        await backend.aclose()


async def test_the_poller_shows_bid_and_ask_while_the_last_price_is_missing(
    demo: DemoEnvironment,
) -> None:
    from ibtui.tui.messages import QuotesUpdated

    demo.sim.faults.misbehave("placeholders", rate=1.0, fields=frozenset({"31"}))
    async with polling(demo) as (poller, posted):
        await poller.poll_once()
    quotes = [q for m in posted if isinstance(m, QuotesUpdated) for q in m.quotes.values()]
    assert quotes and all(q.last is None and q.bid is not None for q in quotes)


async def test_after_the_nightly_reset_polling_resumes_and_says_reconnecting_then_connected(
    demo: DemoEnvironment,
) -> None:
    from ibtui.tui.messages import QuotesUpdated, SessionStateChanged
    from ibtui.tui.viewmodels import SessionState

    async with polling(demo) as (poller, posted):
        await poller.poll_once()
        posted.clear()
        demo.sim.faults.misbehave("reset", every=1, count=1)
        demo.sim.faults.misbehave("nobridge", count=2)
        await poller.poll_once()  # no keep-alive due: the quotes meet the dropped session
        await poller.poll_once()  # the new session's warm-up is over: prices again
    states = [m.state for m in posted if isinstance(m, SessionStateChanged)]
    assert states == [SessionState.RECONNECTING, SessionState.CONNECTED]
    assert any(isinstance(m, QuotesUpdated) and m.quotes for m in posted)


async def test_a_trickling_answer_meets_the_request_deadline_and_the_read_is_retried(
    demo: DemoEnvironment,
) -> None:
    import time

    from ibtui.sim.app import TRICKLE_PIECES

    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    async with connect(
        demo.base_url,
        demo.consumer,
        AccessCredentials(token, secret),
        transport=demo.transport,
        pacer=Pacer(global_limit=None, rules=()),
        recovery=FAST,
        request_deadline=0.5,
    ) as conn:
        await conn.start()
        demo.sim.faults.misbehave("trickle", count=1, seconds=0.5)  # 4 s for the whole body
        began = time.monotonic()
        assert await conn.client.positions(PAPER_ACCOUNT)  # stalled once, asked again
        assert time.monotonic() - began < 0.5 * TRICKLE_PIECES / 2


async def test_a_retry_after_longer_than_the_command_deadline_is_reported_at_once(
    demo: DemoEnvironment, fconn: Connection
) -> None:
    from ibtui.ibkr.deadline import command_deadline
    from ibtui.ibkr.errors import RateLimitedError

    await fconn.start()
    demo.sim.faults.misbehave("retry_after", seconds=900, path_prefix="/v1/api/portfolio/accounts")
    with pytest.raises(RateLimitedError, match="IBKR asks to wait 900 s"):
        async with asyncio.timeout(5), command_deadline(60):
            await fconn.client.portfolio_accounts()


async def test_a_command_deadline_says_what_it_was_waiting_for(
    demo: DemoEnvironment, fconn: Connection
) -> None:
    from ibtui.cli.scripting import _start
    from ibtui.ibkr.deadline import CommandTimeoutError, command_deadline

    demo.sim.faults.latency(5, path="/v1/api/iserver/auth/ssodh/init")
    with pytest.raises(CommandTimeoutError, match=r"after 0\.5 s waiting for the live session"):
        async with command_deadline(0.5):
            await _start(fconn)
