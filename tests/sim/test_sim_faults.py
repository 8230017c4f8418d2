"""Scripted faults: latency, 5xx rates, timeouts, dropped connections, lost responses (and
reconciliation by cOID), forced LST expiry; targeting by path and limiting by count."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from ibtui.sim import Simulator

from .conftest import brokerage, client_for

ACCT = "DU4820311"


async def test_latency(sim: Simulator, client: httpx.AsyncClient) -> None:
    rule = sim.faults.latency(0.3, jitter=0.05, count=1)
    began = time.perf_counter()
    assert (await client.get("/tickle")).status_code == 200
    slow = time.perf_counter() - began
    began = time.perf_counter()
    await client.get("/tickle")
    fast = time.perf_counter() - began
    assert slow >= 0.3 and fast < 0.25 and rule.hits == 1


async def test_errors_counted_and_targeted(sim: Simulator, client: httpx.AsyncClient) -> None:
    rule = sim.faults.errors(500, path="/v1/api/portfolio/", count=2)
    assert (await client.get("/tickle")).status_code == 200  # not targeted
    for _ in range(2):
        r = await client.get(f"/portfolio/{ACCT}/ledger")
        assert (r.status_code, r.json()) == (
            500,
            {"error": "Internal Server Error", "statusCode": 500},
        )
    assert (await client.get(f"/portfolio/{ACCT}/ledger")).status_code == 200
    assert rule.hits == 2
    sim.faults.errors(503, methods={"POST"})
    assert (await client.get("/tickle")).status_code == 200
    r = await client.post("/tickle")
    assert (r.status_code, r.json()) == (503, {"error": "Service Unavailable", "statusCode": 503})
    sim.faults.clear()
    assert (await client.post("/tickle")).status_code == 200
    with pytest.raises(ValueError):
        sim.faults.errors(404)


async def test_error_rate_is_seeded(make_sim: Callable[..., Simulator]) -> None:
    patterns = []
    for _ in range(2):
        sim = make_sim()
        sim.faults.errors(503, rate=0.3)
        async with client_for(sim) as c:
            patterns.append([(await c.get("/tickle")).status_code for _ in range(40)])
    assert patterns[0] == patterns[1]
    assert 3 <= patterns[0].count(503) <= 25 and 200 in patterns[0]


async def test_timeout_hangs_then_503(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.faults.timeouts(0.3, count=2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get("/tickle"), timeout=0.05)  # the client gives up
    began = time.perf_counter()
    r = await client.get("/tickle")
    assert r.status_code == 503 and time.perf_counter() - began >= 0.3
    assert (await client.get("/tickle")).status_code == 200


async def test_dropped_connection_is_a_transport_error(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await brokerage(client)
    await client.get("/iserver/marketdata/snapshot", params={"conids": "8314"})
    sim.faults.drop_connections(path="/v1/api/iserver/account/", count=1)
    order = {
        "conid": 8314,
        "orderType": "MKT",
        "side": "BUY",
        "quantity": 1,
        "tif": "DAY",
        "cOID": "d-1",
    }
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
    assert sim.broker.orders == {}  # never processed
    placed = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()
    assert placed[0]["order_status"] == "Filled"


async def test_lost_order_response_reconciled_by_coid(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await brokerage(client)
    await client.get("/iserver/marketdata/snapshot", params={"conids": "8314"})
    await client.get("/iserver/account/orders")
    sim.faults.drop_responses(count=1)  # POSTs under /iserver/account/ by default
    price = float(sim.market.last(8314, sim.now()) - 1)
    order = {
        "conid": 8314,
        "orderType": "LMT",
        "price": price,
        "side": "BUY",
        "quantity": 3,
        "tif": "DAY",
        "cOID": "lost-1",
    }
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
    assert len(sim.broker.orders) == 1  # the order IS placed
    retry = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()
    assert retry["error"].startswith("Order couldn't be submitted: Local order ID=lost-1")
    rows = (await client.get("/iserver/account/orders")).json()["orders"]
    assert [r["order_ref"] for r in rows] == ["lost-1"] and rows[0]["status"] == "Submitted"


async def test_forced_lst_expiry(sim: Simulator, client: httpx.AsyncClient) -> None:
    await brokerage(client)
    sim.faults.expire_lsts()
    assert (await client.get("/tickle")).status_code == 401
    assert (await client.get(f"/portfolio/{ACCT}/ledger")).status_code == 401
    sim.authenticator.renew("tok-a")  # type: ignore[attr-defined]  # a new LST handshake
    assert (await client.get("/tickle")).status_code == 200
    r = await client.get("/iserver/accounts")
    assert r.json() == {"error": "Bad Request: no bridge", "statusCode": 400}  # init again


async def test_faults_outside_the_api_prefix(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.faults.errors(500, path="/authorize", count=1)
    r = await client.get("http://sim/authorize")
    assert r.status_code == 500
    assert (await client.get("http://sim/authorize")).status_code == 404  # no such route here
