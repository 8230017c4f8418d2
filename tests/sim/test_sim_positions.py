"""Positions: 100 a page, 5,000 positions, sorting, the server-side cache and its invalidation."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from ibtui.sim import ManualClock, Simulator

from .conftest import brokerage, client_for

ACCT = "DU4820311"


async def test_five_thousand_positions_in_pages(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(portfolio_size=5000)
    async with client_for(sim) as c:
        began = time.perf_counter()
        seen: list[int] = []
        page = 0
        while True:
            rows = (await c.get(f"/portfolio/{ACCT}/positions/{page}")).json()
            assert len(rows) <= 100 and all(r["pageSize"] == 100 for r in rows)
            seen += [r["conid"] for r in rows]
            if len(rows) < 100:
                break
            page += 1
        assert page == 50 and rows == []  # 50 full pages, then an empty one
        assert len(seen) == len(set(seen)) == 5000
        names = [r["name"] for r in (await c.get(f"/portfolio/{ACCT}/positions/0")).json()]
        assert names == sorted(names)
        assert time.perf_counter() - began < 10
        ledger = (await c.get(f"/portfolio/{ACCT}/ledger")).json()["USD"]
        assert ledger["stockmarketvalue"] != 0


async def test_sort_direction_and_single_conid(client: httpx.AsyncClient) -> None:
    rows = (
        await client.get(
            f"/portfolio/{ACCT}/positions/0", params={"sort": "mktValue", "direction": "d"}
        )
    ).json()
    values = [r["mktValue"] for r in rows]
    assert values == sorted(values, reverse=True) and values[-1] < 0  # the short is last
    one = (await client.get(f"/portfolio/{ACCT}/position/265598")).json()
    assert [r["conid"] for r in one] == [265598]
    assert (await client.get(f"/portfolio/{ACCT}/position/8314")).json() == []
    flat = (await client.get(f"/portfolio2/{ACCT}/positions")).json()
    assert {r["description"] for r in flat} >= {"AAPL", "TSLA"}


async def test_positions_are_cached_until_invalidated(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await brokerage(client)
    await client.get("/iserver/marketdata/snapshot", params={"conids": "8314"})
    before = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    order = {"conid": 8314, "orderType": "MKT", "side": "BUY", "quantity": 7, "tif": "DAY"}
    assert (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()[
        0
    ]["order_status"] == "Filled"
    clock.advance(5)
    stale = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    assert stale == before  # the fill is not visible yet (prices frozen too)
    assert (await client.post(f"/portfolio/{ACCT}/positions/invalidate")).json() == {
        "message": "success"
    }
    fresh = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    assert any(r["conid"] == 8314 and r["position"] == 7.0 for r in fresh)
    # The ledger is never cached.
    assert (await client.get(f"/portfolio/{ACCT}/ledger")).json()["USD"]["cashbalance"] < 93512.44
    # The cache also ages out.
    await client.post(
        f"/iserver/account/{ACCT}/orders", json={"orders": [{**order, "quantity": 1}]}
    )
    clock.advance(sim.config.positions_cache_ttl + 1)
    aged = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    assert any(r["conid"] == 8314 and r["position"] == 8.0 for r in aged)


async def test_a_position_closed_today_keeps_its_day_figures_until_the_next_day(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """IBKR's portfolio keeps a position closed today as a row with position 0 and the day's
    realized P&L (TWS's "zero position rows"); it is gone the next trading day."""
    await brokerage(client)
    aapl = 265598
    await client.get("/iserver/marketdata/snapshot", params={"conids": str(aapl)})
    (held,) = (await client.get(f"/portfolio/{ACCT}/position/{aapl}")).json()
    sell = {"conid": aapl, "orderType": "MKT", "side": "SELL", "tif": "DAY"}
    sell["quantity"] = held["position"]
    reply = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [sell]})).json()
    assert reply[0]["order_status"] == "Filled"
    await client.post(f"/portfolio/{ACCT}/positions/invalidate")
    rows = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    (closed,) = [r for r in rows if r["conid"] == aapl]
    assert closed["position"] == 0.0 and closed["mktValue"] == 0.0
    assert closed["unrealizedPnl"] == 0.0
    realized = closed["realizedPnl"]
    expected = round(held["unrealizedPnl"] - 1.0, 2)  # sold at the mark, $1 commission
    assert abs(realized - expected) < held["position"] * 0.05  # within the spread
    assert (await client.get(f"/portfolio/{ACCT}/position/{aapl}")).json()[0]["position"] == 0
    ledger = (await client.get(f"/portfolio/{ACCT}/ledger")).json()["USD"]
    assert ledger["realizedpnl"] == realized
    # The day's P&L of the closed position is in its snapshot and in the account's.
    snap = (
        await client.get(
            "/iserver/marketdata/snapshot", params={"conids": str(aapl), "fields": "31,7920,79"}
        )
    ).json()[0]
    assert snap["79"] == f"{realized:.2f}"
    day = float(snap["7920"])
    assert day != 0.0
    # The next trading day the row is gone.
    clock.advance(24 * 3600)
    await client.post(f"/portfolio/{ACCT}/positions/invalidate")
    rows = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    assert aapl not in [r["conid"] for r in rows]
    assert (await client.get(f"/portfolio/{ACCT}/position/{aapl}")).json() == []
