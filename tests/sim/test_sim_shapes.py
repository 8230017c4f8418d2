"""Every endpoint answers with the keys and JSON types of the example bodies (API.md quirks)."""

from __future__ import annotations

import httpx

from ibtui.sim import Simulator

from .conftest import brokerage, snapshot_twice
from .shapes import assert_shape, example

ACCT = "DU4820311"


async def test_session_bodies(client: httpx.AsyncClient) -> None:
    before = (await client.get("/iserver/auth/status")).json()
    assert before == example("auth_status_before_init.json")
    init = (
        await client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    ).json()
    assert init == example("ssodh_init.json")
    status = (await client.post("/iserver/auth/status")).json()
    assert status == example("auth_status_authenticated.json")
    tickle = (await client.post("/tickle")).json()
    assert_shape(example("tickle.json"), tickle)
    assert len(tickle["session"]) == 32 and int(tickle["session"], 16) >= 0
    assert "collission" in tickle and tickle["iserver"]["authStatus"]["authenticated"] is True


async def test_account_bodies(client: httpx.AsyncClient) -> None:
    accounts = (await client.get("/portfolio/accounts")).json()
    assert_shape(example("portfolio_accounts.json"), accounts)
    paper = next(a for a in accounts if a["id"] == ACCT)
    assert paper["type"] == "DEMO" and paper["currency"] == "USD"
    live = next(a for a in accounts if a["id"].startswith("U"))
    assert live["currency"] != "USD" and live["type"] != "DEMO"
    body = await brokerage(client)
    assert_shape(example("iserver_accounts.json"), body)
    assert body["selectedAccount"] == ACCT and body["isPaper"] is True
    switched = (await client.post("/iserver/account", json={"acctId": live["id"]})).json()
    assert switched == {"set": True, "acctId": live["id"]}
    assert (await client.get("/iserver/accounts")).json()["isPaper"] is False


async def test_portfolio_bodies(client: httpx.AsyncClient) -> None:
    summary = (await client.get(f"/portfolio/{ACCT}/summary")).json()
    assert_shape(example("portfolio_summary.json"), summary)
    ledger = (await client.get(f"/portfolio/{ACCT}/ledger")).json()
    assert_shape(example("portfolio_ledger.json"), ledger)
    page0 = (await client.get(f"/portfolio/{ACCT}/positions/0")).json()
    stock_example = example("portfolio_positions_page0.json")[0]
    nullable = frozenset({"chineseName", "group", "sector", "sectorGroup"})
    for row in page0:
        assert_shape(stock_example, row, skip=nullable)
    assert_shape(stock_example, next(r for r in page0 if r["conid"] == 265598))
    assert (await client.get(f"/portfolio/{ACCT}/positions/1")).json() == example(
        "portfolio_positions_page1_empty.json"
    )
    inv = (await client.post(f"/portfolio/{ACCT}/positions/invalidate")).json()
    assert inv == example("portfolio_positions_invalidate.json")
    await brokerage(client)
    first = (await client.get("/iserver/account/pnl/partitioned")).json()
    assert first == example("pnl_partitioned_first_call.json")
    pnl = (await client.get("/iserver/account/pnl/partitioned")).json()
    row = pnl["upnl"][f"{ACCT}.Core"]
    assert_shape(example("pnl_partitioned.json")["upnl"]["DU4820311.Core"], row)


async def test_contract_bodies(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    search = (await client.get("/iserver/secdef/search", params={"symbol": "AAPL"})).json()
    assert_shape(example("secdef_search_AAPL.json"), search, skip=frozenset({"war"}))  # no warrants
    assert search[0]["conid"] == "265598"  # a string here, an int elsewhere
    info = (await client.get("/iserver/contract/265598/info")).json()
    assert_shape(example("contract_info_265598.json"), info)
    stocks = (await client.get("/trsrv/stocks", params={"symbols": "AAPL"})).json()
    assert_shape(example("trsrv_stocks_AAPL.json"), stocks)
    assert stocks["AAPL"][0]["contracts"][0] == {
        "conid": 265598,
        "exchange": "NASDAQ",
        "isUS": True,
    }


async def test_market_bodies(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    params = {
        "conids": "265598,756733",
        "fields": "31,55,84,85,86,88,82,83,70,71,87,7762,7295,7296,7741,7059,6509",
    }
    pre = (await client.get("/iserver/marketdata/snapshot", params=params)).json()
    assert pre == example("snapshot_preflight.json")
    rows = (await client.get("/iserver/marketdata/snapshot", params=params)).json()
    assert_shape(example("snapshot.json"), rows)
    hist = (
        await client.get(
            "/iserver/marketdata/history",
            params={"conid": 265598, "period": "30min", "bar": "5min"},
        )
    ).json()
    assert_shape(example("history_AAPL_30min_5min.json"), hist)
    unsub = (await client.post("/iserver/marketdata/unsubscribe", json={"conid": 265598})).json()
    assert unsub == example("marketdata_unsubscribe.json")
    assert (await client.get("/iserver/marketdata/unsubscribeall")).json() == example(
        "marketdata_unsubscribeall.json"
    )


async def test_order_bodies(client: httpx.AsyncClient, sim: Simulator) -> None:
    await brokerage(client)
    await snapshot_twice(client, [265598, 756733])
    last = float(sim.market.last(265598, sim.now()))
    order = example("order_place_request.json")
    order["orders"][0]["price"] = round(last * 0.98, 2)  # inside 3%: no question, resting
    placed = (await client.post(f"/iserver/account/{ACCT}/orders", json=order)).json()
    assert_shape(example("order_place_accepted.json"), placed)
    oid = placed[0]["order_id"]
    assert isinstance(oid, str) and oid.isdigit()
    await client.get("/iserver/account/orders")  # pre-flight
    live = (await client.get("/iserver/account/orders")).json()
    assert_shape(example("orders_live.json")["orders"][0], live["orders"][0])
    assert live["snapshot"] is True
    status = (await client.get(f"/iserver/account/order/status/{oid}")).json()
    assert_shape(example("order_status.json"), status)
    assert status["side"] == "B" and status["order_id"] == int(oid)
    whatif = (await client.post(f"/iserver/account/{ACCT}/orders/whatif", json=order)).json()
    assert_shape(example("order_whatif.json"), whatif)
    mod = example("order_modify_request.json")
    mod["price"] = round(last * 0.97, 2)
    modified = (await client.post(f"/iserver/account/{ACCT}/order/{oid}", json=mod)).json()
    assert_shape(example("order_place_accepted.json"), modified)
    cancel = (await client.delete(f"/iserver/account/{ACCT}/order/{oid}")).json()
    assert_shape(example("order_cancel.json"), cancel)
    assert cancel["msg"] == "Request was submitted"
    unknown = (await client.delete(f"/iserver/account/{ACCT}/order/1487209999")).json()
    assert unknown == {"error": "OrderID 1487209999 doesn't exist"}
    mkt = {
        "orders": [
            {"conid": 756733, "orderType": "MKT", "side": "SELL", "quantity": 5, "tif": "DAY"}
        ]
    }
    await client.post(f"/iserver/account/{ACCT}/orders", json=mkt)
    trades = (await client.get("/iserver/account/trades")).json()
    assert_shape(
        {k: v for k, v in example("trades.json")[0].items() if k != "order_ref"}, trades[0]
    )
    assert trades[0]["side"] == "S"
    sup = (
        await client.post(
            "/iserver/questions/suppress", json=example("questions_suppress_request.json")
        )
    ).json()
    assert sup == example("questions_suppress.json")
    assert (await client.post("/logout")).json() == example("logout.json")
