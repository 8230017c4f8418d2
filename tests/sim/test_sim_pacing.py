"""Pacing: the global limit, the per-endpoint table (path only), the penalty box, history
concurrency, per-IP accounting, and the off switch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from ibtui.sim import ManualClock, Simulator, create_app

from .conftest import brokerage, client_for

TOO_MANY = {"error": "Too many requests"}


def paced(make_sim: Callable[..., Simulator], **cfg: object) -> Simulator:
    return make_sim(pacing_enabled=True, **cfg)


async def test_global_limit_and_penalty_box(
    make_sim: Callable[..., Simulator], clock: ManualClock
) -> None:
    sim = paced(make_sim, penalty_box_seconds=5.0)
    async with client_for(sim) as c:
        for _ in range(10):
            assert (await c.get("/portfolio/DU4820311/ledger")).status_code == 200
        r = await c.get("/portfolio/DU4820311/ledger")
        assert (r.status_code, r.json()) == (429, TOO_MANY)
        clock.advance(1.5)  # the window has passed, but the IP sits in the penalty box
        assert (await c.get("/portfolio/DU4820311/ledger")).status_code == 429
        clock.advance(3.6)
        assert (await c.get("/portfolio/DU4820311/ledger")).status_code == 200


async def test_without_penalty_box_only_the_excess_is_refused(
    make_sim: Callable[..., Simulator], clock: ManualClock
) -> None:
    sim = paced(make_sim, penalty_box_seconds=0.0, global_rate_limit=3)
    async with client_for(sim) as c:
        codes = [(await c.get("/portfolio/DU4820311/ledger")).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        clock.advance(1.0)
        assert (await c.get("/portfolio/DU4820311/ledger")).status_code == 200


async def test_per_endpoint_limits_match_the_path_only(
    make_sim: Callable[..., Simulator], clock: ManualClock
) -> None:
    sim = paced(make_sim, penalty_box_seconds=0.0)
    async with client_for(sim) as c:
        await brokerage(c)
        assert (await c.get("/iserver/account/orders")).status_code == 200
        forced = await c.get("/iserver/account/orders", params={"force": "true"})
        assert (forced.status_code, forced.json()) == (429, TOO_MANY)
        assert (await c.get("/iserver/account/orders/")).status_code == 429
        clock.advance(5.0)
        assert (await c.get("/iserver/account/orders", params={"force": "true"})).status_code == 200
        assert (await c.post("/tickle")).status_code == 200
        assert (await c.get("/tickle")).status_code == 429  # 1 req/s, GET and POST together
        assert (await c.get("/portfolio/accounts")).status_code == 200
        clock.advance(1.0)
        assert (await c.get("/portfolio/accounts")).status_code == 429  # 1 req / 5 s
        assert (await c.get("/tickle")).status_code == 200


async def test_per_endpoint_switch_and_off_switch(make_sim: Callable[..., Simulator]) -> None:
    sim = paced(make_sim, per_endpoint_limits=False)
    async with client_for(sim) as c:
        assert [(await c.get("/tickle")).status_code for _ in range(5)] == [200] * 5
    sim = make_sim()  # pacing off (the fixture default)
    async with client_for(sim) as c:
        assert {(await c.get("/tickle")).status_code for _ in range(30)} == {200}


async def test_limits_are_per_client_ip(make_sim: Callable[..., Simulator]) -> None:
    sim = paced(make_sim, penalty_box_seconds=60.0)
    app = create_app(sim)

    def client(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 1234))
        return httpx.AsyncClient(
            transport=transport, base_url="http://sim/v1/api", headers={"X-Test-Token": "tok-a"}
        )

    async with client("10.0.0.1") as a, client("10.0.0.2") as b:
        for _ in range(11):
            await a.get("/portfolio/accounts/DU4820311/ledger")
        assert sim.pacing.boxed("10.0.0.1")
        assert (await a.get("/portfolio/DU4820311/ledger")).status_code == 429
        assert (await b.get("/portfolio/DU4820311/ledger")).status_code == 200


async def test_unauthenticated_requests_do_not_count(make_sim: Callable[..., Simulator]) -> None:
    sim = paced(make_sim)
    async with client_for(sim, "nobody") as bad, client_for(sim) as good:
        for _ in range(20):
            assert (await bad.get("/tickle")).status_code == 401
        assert (await good.get("/portfolio/DU4820311/ledger")).status_code == 200


async def test_history_allows_five_concurrent_requests(make_sim: Callable[..., Simulator]) -> None:
    sim = paced(make_sim, global_rate_limit=50)
    sim.faults.latency(0.2, path="/v1/api/iserver/marketdata/history")
    async with client_for(sim) as c:
        await brokerage(c)
        params = {"conid": "265598", "period": "1d", "bar": "5min"}
        results = await asyncio.gather(
            *(c.get("/iserver/marketdata/history", params=params) for _ in range(6))
        )
        codes = sorted(r.status_code for r in results)
        assert codes == [200] * 5 + [429]
        assert next(r for r in results if r.status_code == 429).json() == TOO_MANY
        assert (await c.get("/iserver/marketdata/history", params=params)).status_code == 200
