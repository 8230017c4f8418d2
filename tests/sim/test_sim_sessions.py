"""Brokerage-session rules: no bridge before init, /accounts first, warm-up, logout, competing
sessions, the nightly reset, idle timeout, per-token sessions, trailing slashes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ibtui.sim import ManualClock, Simulator

from .conftest import brokerage, client_for

NO_BRIDGE = {"error": "Bad Request: no bridge", "statusCode": 400}
QUERY_ACCOUNTS = {"error": "Bad Request: Please query /accounts first", "statusCode": 400}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/iserver/accounts"),
        ("GET", "/iserver/account/orders"),
        ("GET", "/iserver/marketdata/snapshot?conids=265598"),
        ("GET", "/iserver/marketdata/history?conid=265598&period=1d&bar=5min"),
        ("POST", "/iserver/account/DU4820311/orders"),
        ("GET", "/iserver/secdef/search?symbol=AAPL"),
        ("GET", "/iserver/account/trades/"),
        ("GET", "/iserver/nonexistent"),
    ],
)
async def test_iserver_needs_init(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, path, json={} if method == "POST" else None)
    assert r.status_code == 400
    assert r.json() == NO_BRIDGE


async def test_read_only_tier_works_before_init(client: httpx.AsyncClient) -> None:
    assert (await client.get("/portfolio/accounts")).status_code == 200
    assert (await client.get("/portfolio/DU4820311/positions/0")).status_code == 200
    assert (await client.get("/trsrv/stocks?symbols=IBM")).json()["IBM"][0]["contracts"][0][
        "conid"
    ] == 8314
    status = (await client.get("/iserver/auth/status")).json()
    assert status["authenticated"] is False and status["connected"] is False
    tickle = (await client.get("/tickle")).json()
    assert tickle["iserver"]["authStatus"]["authenticated"] is False


async def test_init_accepts_query_parameters(client: httpx.AsyncClient) -> None:
    r = await client.post("/iserver/auth/ssodh/init?publish=true&compete=true")
    assert r.json()["authenticated"] is True
    assert (await client.get("/iserver/accounts")).status_code == 200


async def test_accounts_first_rule(client: httpx.AsyncClient) -> None:
    await client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    for method, path in [
        ("GET", "/iserver/account/pnl/partitioned"),
        ("GET", "/iserver/account/orders"),
        ("GET", "/iserver/marketdata/snapshot?conids=265598&fields=31"),
        ("POST", "/iserver/account/DU4820311/orders"),
    ]:
        r = await client.request(method, path, json={"orders": []} if method == "POST" else None)
        assert (r.status_code, r.json()) == (400, QUERY_ACCOUNTS), path
    await client.get("/iserver/accounts")
    assert (await client.get("/iserver/account/pnl/partitioned")).status_code == 200
    # A new brokerage session starts from scratch.
    await client.post("/iserver/auth/ssodh/init", json={"compete": True})
    assert (await client.get("/iserver/account/pnl/partitioned")).json() == QUERY_ACCOUNTS


async def test_trailing_slash_routes_like_no_slash(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    a = await client.get("/iserver/account/trades/")
    b = await client.get("/iserver/account/trades")
    assert a.status_code == b.status_code == 200 and a.json() == b.json() == []
    assert (await client.get("/portfolio/accounts/")).status_code == 200
    assert (await client.get("/nope/")).status_code == 404


async def test_warm_up_after_init(make_sim: Callable[..., Simulator], clock: ManualClock) -> None:
    sim = make_sim(bridge_warmup_seconds=1.0)
    async with client_for(sim) as c:
        await c.post("/iserver/auth/ssodh/init", json={"compete": True})
        assert (await c.get("/iserver/accounts")).json() == NO_BRIDGE
        clock.advance(1.0)
        assert (await c.get("/iserver/accounts")).status_code == 200


async def test_logout_revokes(client: httpx.AsyncClient, sim: Simulator) -> None:
    await brokerage(client)
    assert (await client.post("/logout")).json() == {"status": True}
    r = await client.get("/tickle")
    assert r.status_code == 401
    assert "tok-a" in sim.authenticator.revoked  # type: ignore[attr-defined]


async def test_sessions_are_per_access_token(sim: Simulator) -> None:
    async with client_for(sim, "tok-a") as a, client_for(sim, "tok-b") as b:
        await brokerage(a)
        assert (await b.get("/iserver/accounts")).json() == NO_BRIDGE
        ta, tb = (await a.get("/tickle")).json(), (await b.get("/tickle")).json()
        assert ta["session"] != tb["session"]
    async with client_for(sim, "stranger") as c:
        assert (await c.get("/tickle")).status_code == 401


async def test_competing_login(client: httpx.AsyncClient, sim: Simulator) -> None:
    await brokerage(client)
    sim.faults.competing_login()
    status = (await client.post("/iserver/auth/status")).json()
    assert (status["authenticated"], status["competing"], status["connected"]) == (
        False,
        True,
        True,
    )
    assert (await client.get("/iserver/accounts")).json() == NO_BRIDGE
    assert (await client.get("/portfolio/DU4820311/ledger")).status_code == 200  # read-only tier
    assert (await client.get("/tickle")).json()["iserver"]["authStatus"]["competing"] is True
    again = (await client.post("/iserver/auth/ssodh/init", json={"compete": False})).json()
    assert again["competing"] is True and again["authenticated"] is False
    back = (await client.post("/iserver/auth/ssodh/init", json={"compete": True})).json()
    assert back["competing"] is False and back["authenticated"] is True
    assert (await client.get("/iserver/accounts")).status_code == 200


async def test_nightly_reset(client: httpx.AsyncClient, sim: Simulator) -> None:
    await brokerage(client)
    before = (await client.get("/tickle")).json()["session"]
    sim.faults.nightly_reset()
    after = (await client.get("/tickle")).json()
    assert after["session"] != before
    assert after["iserver"]["authStatus"]["authenticated"] is False
    assert (await client.get("/iserver/account/orders")).json() == NO_BRIDGE
    await brokerage(client)
    assert (await client.get("/iserver/account/orders")).status_code == 200


async def test_idle_timeout(make_sim: Callable[..., Simulator], clock: ManualClock) -> None:
    sim = make_sim(session_idle_timeout=300.0)
    async with client_for(sim) as c:
        await brokerage(c)
        clock.advance(299)
        assert (await c.get("/iserver/accounts")).status_code == 200
        clock.advance(301)
        assert (await c.get("/iserver/accounts")).json() == NO_BRIDGE


async def test_account_switch_errors_and_other_session_calls(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    r = await client.post("/iserver/account", json={"acctId": "DU9999999"})
    assert (r.status_code, r.json()) == (500, {"error": "Invalid account ID"})
    assert (await client.get("/sso/validate")).json()["RESULT"] is True
    assert (await client.post("/iserver/reauthenticate")).json() == {"message": "triggered"}
    bad = await client.get("/portfolio/DU9999999/ledger")
    assert bad.json() == {
        "error": "Bad Request: accountId is not valid: DU9999999",
        "statusCode": 400,
    }


async def test_portfolio_accounts_first_switch(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(require_portfolio_accounts_first=True)
    async with client_for(sim) as c:
        assert (await c.get("/portfolio/DU4820311/ledger")).status_code == 400
        await c.get("/portfolio/accounts")
        assert (await c.get("/portfolio/DU4820311/ledger")).status_code == 200
