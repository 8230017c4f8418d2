"""The same app under uvicorn on a loopback socket: requests work and a dropped connection is a
broken connection for a real client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from ibtui.sim import Simulator, create_app

from .conftest import brokerage


@pytest.fixture
async def served(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    config = uvicorn.Config(
        create_app(sim), host="127.0.0.1", port=0, log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    port = server.servers[0].sockets[0].getsockname()[1]
    logging.getLogger("uvicorn.error").disabled = True  # the drop test raises on purpose
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}/v1/api", headers={"X-Test-Token": "tok-a"}, timeout=5
    ) as client:
        yield client
    server.should_exit = True
    await task
    logging.getLogger("uvicorn.error").disabled = False


async def test_over_a_socket(served: httpx.AsyncClient, sim: Simulator) -> None:
    assert (await served.get("/iserver/accounts")).status_code == 400
    await brokerage(served)
    assert len((await served.get("/tickle")).json()["session"]) == 32
    assert (await served.get("/iserver/account/trades/")).json() == []
    sim.faults.drop_connections(path="/v1/api/tickle", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await served.get("/tickle")
    assert (await served.get("/tickle")).status_code == 200
    await served.get("/iserver/marketdata/snapshot", params={"conids": "8314"})
    sim.faults.drop_responses(count=1)
    order = {
        "conid": 8314,
        "orderType": "MKT",
        "side": "BUY",
        "quantity": 2,
        "tif": "DAY",
        "cOID": "s-1",
    }
    with pytest.raises(httpx.RemoteProtocolError):
        await served.post("/iserver/account/DU4820311/orders", json={"orders": [order]})
    assert [o.ticket.coid for o in sim.broker.orders.values()] == ["s-1"]
