"""Order placement and the reply chain, the live-orders quirks, status, modify, cancel lag, and
the matching engine (limit crossing, stop triggers, IOC, DAY expiry, brackets)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from ibtui.sim import ManualClock, Simulator

from .conftest import brokerage, client_for, snapshot_twice

ACCT = "DU4820311"
AAPL, SPY, IBM, GLD = 265598, 756733, 8314, 51529211
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def lmt(conid: int, side: str, qty: float, price: Decimal | float, **extra: Any) -> dict[str, Any]:
    return {
        "conid": conid,
        "orderType": "LMT",
        "side": side,
        "quantity": qty,
        "price": float(price),
        "tif": "DAY",
        **extra,
    }


async def post_orders(client: httpx.AsyncClient, *orders: dict[str, Any]) -> Any:
    return (
        await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": list(orders)})
    ).json()


async def confirm_all(client: httpx.AsyncClient, body: Any) -> tuple[Any, list[str]]:
    """Answer every question like ibind does; returns the final body and the message ids seen."""
    seen: list[str] = []
    while isinstance(body, list) and body and "id" in body[0] and "message" in body[0]:
        seen += body[0]["messageIds"]
        body = (
            await client.post(f"/iserver/reply/{body[0]['id']}", json={"confirmed": True})
        ).json()
    return body, seen


async def live(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    body = (await client.get("/iserver/account/orders", params=params)).json()
    rows: list[dict[str, Any]] = body["orders"]
    return rows


async def ready(client: httpx.AsyncClient, conids: tuple[int, ...] = (AAPL, SPY, IBM)) -> None:
    await brokerage(client)
    await snapshot_twice(client, list(conids))
    await client.get("/iserver/account/orders")  # the first call is a pre-flight


def last(sim: Simulator, conid: int = AAPL) -> Decimal:
    return sim.market.last(conid, sim.now())


async def test_reply_chain_of_two_questions(client: httpx.AsyncClient, sim: Simulator) -> None:
    await brokerage(client)  # no snapshot: o354 as well
    far = (last(sim) * Decimal("0.9")).quantize(Decimal("0.01"))
    first = await post_orders(client, lmt(AAPL, "BUY", 10, far, cOID="c-1"))
    assert first[0]["messageIds"] == ["o163"] and UUID.match(first[0]["id"])
    assert "Percentage constraint of 3%" in first[0]["message"][0]
    second = (
        await client.post(f"/iserver/reply/{first[0]['id']}", json={"confirmed": True})
    ).json()
    assert second[0]["messageIds"] == ["o354"] and second[0]["id"] != first[0]["id"]
    done = (await client.post(f"/iserver/reply/{second[0]['id']}", json={"confirmed": True})).json()
    assert done[0]["order_status"] == "Submitted" and done[0]["order_id"].isdigit()
    reused = (
        await client.post(f"/iserver/reply/{first[0]['id']}", json={"confirmed": True})
    ).json()
    assert reused == {"error": f"reply id not found: '{first[0]['id']}'"}


async def test_declined_and_expired_reply_ids(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await brokerage(client)
    q = await post_orders(client, lmt(AAPL, "BUY", 1, last(sim) * 2 // 1, cOID="d-1"))
    no = (await client.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": False})).json()
    assert "error" in no
    assert sim.broker.orders == {}
    q = await post_orders(client, lmt(AAPL, "BUY", 1, last(sim) * 2 // 1, cOID="d-1"))  # cOID free
    clock.advance(61)
    late = (await client.post(f"/iserver/reply/{q[0]['id']}", json={"confirmed": True})).json()
    assert late == {"error": f"reply id not found: '{q[0]['id']}'"}
    assert sim.broker.orders == {}


async def test_value_limit_suppression_and_reset(client: httpx.AsyncClient, sim: Simulator) -> None:
    await ready(client)
    # ~257k USD > 250k limit, 2 % under the market (it rests: the margin stays coverable)
    big = lmt(SPY, "BUY", 460, (last(sim, SPY) * Decimal("0.98")).quantize(Decimal("0.01")))
    _, seen = await confirm_all(client, await post_orders(client, big))
    assert seen == ["o451"]
    body = {"messageIds": ["o451", "o163"]}
    assert (await client.post("/iserver/questions/suppress", json=body)).json() == {
        "status": "submitted"
    }
    accepted = await post_orders(client, big)
    assert "order_id" in accepted[0]
    await client.post("/iserver/questions/suppress/reset")
    assert (await post_orders(client, big))[0]["messageIds"] == ["o451"]


async def test_duplicate_coid_and_bad_tickets(client: httpx.AsyncClient, sim: Simulator) -> None:
    await ready(client)
    order = lmt(IBM, "BUY", 5, last(sim, IBM) - 1, cOID="dup-1")
    assert "order_id" in (await post_orders(client, order))[0]
    dup = await post_orders(client, order)
    assert dup["error"].startswith("Order couldn't be submitted: Local order ID=dup-1")
    bare = (
        await client.post(
            f"/iserver/account/{ACCT}/orders", json=[lmt(IBM, "BUY", 1, last(sim, IBM) - 1)]
        )
    ).json()
    assert "order_id" in bare[0]
    for bad in (
        {**order, "cOID": "x", "orderType": "STPLMT"},
        {**order, "cOID": "y", "price": None},
        {**order, "cOID": "z", "price": 100.005},
        {**order, "cOID": "w", "side": "HOLD"},
        {**order, "cOID": "v", "conid": 1},
    ):
        assert "error" in await post_orders(client, bad), bad
    r = await client.post("/iserver/account/U0000000/orders", json={"orders": [order]})
    assert r.status_code == 500


async def test_live_orders_quirks(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await brokerage(client)
    await snapshot_twice(client, [AAPL, IBM])
    first = (await client.get("/iserver/account/orders")).json()
    assert first == {"orders": [], "snapshot": False}
    resting = (await post_orders(client, lmt(IBM, "BUY", 5, last(sim, IBM) - 1, cOID="r-1")))[0]
    filled = (
        await post_orders(
            client, {"conid": AAPL, "orderType": "MKT", "side": "SELL", "quantity": 3, "tif": "DAY"}
        )
    )[0]
    rows = await live(client)
    by_id = {r["orderId"]: r for r in rows}
    assert set(by_id) == {int(resting["order_id"]), int(filled["order_id"])}
    work, done = by_id[int(resting["order_id"])], by_id[int(filled["order_id"])]
    assert (
        work["status"] == "Submitted"
        and work["sizeAndFills"] == "0/5"
        and work["price"].count(".") == 1
    )
    assert (
        work["orderType"] == "Limit"
        and work["origOrderType"] == "LIMIT"
        and work["order_ref"] == "r-1"
    )
    assert (
        done["status"] == "Filled"
        and done["sizeAndFills"] == "3"
        and isinstance(done["avgPrice"], str)
    )
    assert done["side"] == "SELL" and done["orderDesc"].startswith("Sold 3 @ ")
    assert isinstance(work["totalSize"], float) and isinstance(work["orderId"], int)
    assert (await client.get("/iserver/account/orders", params={"force": "true"})).json() == {
        "orders": [],
        "snapshot": False,
    }
    assert len(await live(client)) == 2
    assert [r["status"] for r in await live(client, filters="filled")] == ["Filled"]
    assert [r["status"] for r in await live(client, filters="Submitted,PRE_SUBMITTED")] == [
        "Submitted"
    ]
    assert await live(client, accountId="U7654321") == []
    # A new brokerage session forgets finished orders but not working ones.
    clock.advance(1)
    await brokerage(client)
    await client.get("/iserver/account/orders")
    assert [r["status"] for r in await live(client)] == ["Submitted"]


async def test_status_modify_and_cancel_lag(
    make_sim: Callable[..., Simulator], clock: ManualClock
) -> None:
    sim = make_sim(cancel_lag_seconds=2.0)
    async with client_for(sim) as client:
        await ready(client)
        price = last(sim, IBM) - 2
        oid = (await post_orders(client, lmt(IBM, "SELL", 5, price + 4, cOID="m-1")))[0]["order_id"]
        st = (await client.get(f"/iserver/account/order/status/{oid}")).json()
        assert st["side"] == "S" and st["order_status"] == "Submitted" and st["size"] == "5.0"
        missing = await client.get("/iserver/account/order/status/42")
        assert (missing.status_code, missing.json()) == (500, {"error": "OrderID 42 doesn't exist"})
        wrapped = (
            await client.post(f"/iserver/account/{ACCT}/order/{oid}", json={"orders": []})
        ).json()
        assert "error" in wrapped
        body = {
            "conid": IBM,
            "orderType": "LMT",
            "side": "SELL",
            "quantity": 7,
            "price": float(price + 3),
            "tif": "GTC",
            "cOID": "m-1",
        }
        mod = (await client.post(f"/iserver/account/{ACCT}/order/{oid}", json=body)).json()
        assert mod == [{"order_id": oid, "order_status": "Submitted", "encrypt_message": "1"}]
        row = (await client.get(f"/iserver/account/order/status/{oid}")).json()
        assert (
            row["total_size"] == "7.0"
            and row["tif"] == "GTC"
            and row["limit_price"] == f"{price + 3:.2f}"
        )
        cancel = (await client.delete(f"/iserver/account/{ACCT}/order/{oid}")).json()
        assert cancel == {
            "msg": "Request was submitted",
            "order_id": int(oid),
            "conid": IBM,
            "account": ACCT,
        }
        assert (await client.get(f"/iserver/account/order/status/{oid}")).json()[
            "order_status"
        ] == "PendingCancel"
        clock.advance(1.9)
        assert (await client.get(f"/iserver/account/order/status/{oid}")).json()[
            "order_status"
        ] == "PendingCancel"
        clock.advance(0.2)
        final = (await client.get(f"/iserver/account/order/status/{oid}")).json()
        assert final["order_status"] == "Cancelled" and final["cannot_cancel_order"] is True
        again = (await client.delete(f"/iserver/account/{ACCT}/order/{oid}")).json()
        assert again == {"error": f"OrderID {oid} doesn't exist"}


async def test_limit_fills_when_crossed(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await ready(client)
    inst = sim.universe.get(AAPL)
    assert inst is not None
    t0 = clock.now()
    asks = [(s, sim.market.tick(AAPL, t0 + s).ask) for s in range(1, 1801)]
    limit = min(a for _, a in asks)
    assert limit < sim.market.tick(AAPL, t0).ask
    crossing = next(s for s, a in asks if a <= limit)
    oid = (await post_orders(client, lmt(AAPL, "BUY", 10, limit, cOID="x-1")))[0]["order_id"]
    clock.advance(crossing - 1)
    assert (await client.get(f"/iserver/account/order/status/{oid}")).json()[
        "order_status"
    ] == "Submitted"
    clock.advance(1)
    st = (await client.get(f"/iserver/account/order/status/{oid}")).json()
    assert st["order_status"] == "Filled" and st["average_price"] == f"{limit:.2f}"
    trade = (await client.get("/iserver/account/trades")).json()[-1]
    assert trade["trade_time_r"] == int((t0 + crossing) * 1000) and trade["price"] == f"{limit:.2f}"
    assert trade["commission"] == "1.00" and trade["order_ref"] == "x-1"


async def test_stop_triggers_then_fills_at_the_touch(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await ready(client)
    t0 = clock.now()
    ticks = [(s, sim.market.tick(SPY, t0 + s)) for s in range(1, 1801)]
    stop = min(t.last for _, t in ticks)
    s_hit, tick = next((s, t) for s, t in ticks if t.last <= stop)
    body = {
        "conid": SPY,
        "orderType": "STP",
        "side": "SELL",
        "quantity": 4,
        "auxPrice": float(stop),
        "tif": "GTC",
    }
    reply, seen = await confirm_all(client, await post_orders(client, body))
    assert seen == ["o10331"]
    oid = reply[0]["order_id"]
    assert reply[0]["order_status"] == "PreSubmitted"
    clock.advance(1800)
    st = (await client.get(f"/iserver/account/order/status/{oid}")).json()
    assert st["order_status"] == "Filled" and st["average_price"] == f"{tick.bid:.2f}"
    trade = (await client.get("/iserver/account/trades")).json()[-1]
    assert trade["trade_time_r"] == int((t0 + s_hit) * 1000)


async def test_stop_limit_and_ioc(client: httpx.AsyncClient, sim: Simulator) -> None:
    await ready(client)
    await client.post(
        "/iserver/questions/suppress", json={"messageIds": ["o10331", "o163", "o451"]}
    )
    now_last = last(sim, IBM)
    # Already triggered (stop below last for a buy) but the limit cannot be met: working.
    body = {
        "conid": IBM,
        "orderType": "STOP_LIMIT",
        "side": "BUY",
        "quantity": 2,
        "auxPrice": float(now_last - 5),
        "price": float(now_last - 4),
        "tif": "DAY",
    }
    oid = (await post_orders(client, body))[0]["order_id"]
    row = (await client.get(f"/iserver/account/order/status/{oid}")).json()
    assert row["order_status"] == "Submitted" and row["stop_price"] == f"{now_last - 5:.2f}"
    # IOC larger than the displayed size: partly filled, the rest cancelled.
    tick = sim.market.tick(AAPL, sim.now())
    ioc = lmt(AAPL, "BUY", int(tick.ask_size) + 100, tick.ask, tif="IOC")
    oid = (await post_orders(client, ioc))[0]["order_id"]
    st = (await client.get(f"/iserver/account/order/status/{oid}")).json()
    assert st["order_status"] == "Cancelled" and st["cum_fill"] == f"{tick.ask_size:.1f}"


async def test_day_expiry_outside_hours_and_gtc(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await ready(client)
    await client.post("/iserver/questions/suppress", json={"messageIds": ["o163"]})
    far = (last(sim, IBM) / 2).quantize(Decimal("0.01"))
    day = (await post_orders(client, lmt(IBM, "BUY", 1, far)))[0]["order_id"]
    gtc = (await post_orders(client, lmt(IBM, "BUY", 1, far, tif="GTC")))[0]["order_id"]
    clock.set(datetime(2024, 11, 4, 22, 0, tzinfo=UTC))  # after the close
    status = lambda oid: client.get(f"/iserver/account/order/status/{oid}")  # noqa: E731
    assert (await status(day)).json()["order_status"] == "Cancelled"
    assert (await status(gtc)).json()["order_status"] == "Submitted"
    mkt = {"conid": IBM, "orderType": "MKT", "side": "BUY", "quantity": 3, "tif": "DAY"}
    oid = (await post_orders(client, mkt))[0]["order_id"]
    assert (await status(oid)).json()["order_status"] == "PreSubmitted"
    clock.set(datetime(2024, 11, 5, 14, 30, 5, tzinfo=UTC))
    st = (await status(oid)).json()
    assert st["order_status"] == "Filled"
    trade = (await client.get("/iserver/account/trades")).json()[-1]
    assert trade["trade_time"] == "20241105-14:30:00"  # at the open


async def test_bracket(client: httpx.AsyncClient, sim: Simulator, clock: ManualClock) -> None:
    await ready(client)
    await client.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o10331"]})
    t0 = clock.now()
    px = last(sim)
    highs = [sim.market.tick(AAPL, t0 + s).bid for s in range(1, 3601)]
    target = max(highs)
    orders = [
        lmt(AAPL, "BUY", 10, px + 1, cOID="br-1", tif="GTC"),
        {
            "conid": AAPL,
            "parentId": "br-1",
            "orderType": "STP",
            "price": float(px - 20),
            "side": "SELL",
            "quantity": 10,
            "tif": "GTC",
        },
        lmt(AAPL, "SELL", 10, target, parentId="br-1", tif="GTC"),
    ]
    placed = await post_orders(client, *orders)
    assert len(placed) == 3 and placed[0]["order_status"] == "Filled"
    stop_id, take_id = placed[1]["order_id"], placed[2]["order_id"]
    rows = {r["orderId"]: r for r in await live(client)}
    assert rows[int(stop_id)]["parentId"] == int(placed[0]["order_id"])
    clock.advance(3600)
    st = lambda oid: client.get(f"/iserver/account/order/status/{oid}")  # noqa: E731
    assert (await st(take_id)).json()["order_status"] == "Filled"
    assert (await st(stop_id)).json()["order_status"] == "Cancelled"  # one cancels the other


async def test_whatif(client: httpx.AsyncClient, sim: Simulator) -> None:
    await brokerage(client)
    px = last(sim)
    order = {"orders": [lmt(AAPL, "BUY", 10, px)]}
    body = (await client.post(f"/iserver/account/{ACCT}/orders/whatif", json=order)).json()
    assert body["amount"]["amount"] == f"{px * 10:,.2f} USD (10 Shares)"
    assert body["amount"]["commission"] == "1 USD"
    assert body["position"] == {"current": "60", "change": "10", "after": "70"}
    assert body["equity"]["change"] == "-1" and body["warn"].startswith("21/")
    assert sim.broker.orders == {}
    await snapshot_twice(client, [AAPL])
    assert (await client.post(f"/iserver/account/{ACCT}/orders/whatif", json=order)).json()[
        "warn"
    ] is None
    assert body["error"] is None


async def test_an_order_the_equity_cannot_margin_is_refused_in_the_whatif_and_when_placed(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    """IBKR refuses an order whose initial margin is more than the equity it leaves: a huge
    short (its commission alone sinks the equity) and a buy of 2,000 GLD (about 500k USD)."""
    await ready(client, (AAPL, GLD))
    huge_short = lmt(AAPL, "SELL", 99_999_999, last(sim, AAPL))
    big_buy = lmt(GLD, "BUY", 2000, last(sim, GLD))
    for order in (huge_short, big_buy):
        url = f"/iserver/account/{ACCT}/orders/whatif"
        body = (await client.post(url, json={"orders": [order]})).json()
        error = body["error"]
        assert error is not None and error.startswith("YOUR ORDER IS NOT ACCEPTED"), body
        assert "EQUITY WITH LOAN VALUE [" in error and "INITIAL MARGIN [" in error
        placed = await post_orders(client, order)
        while isinstance(placed, list) and "messageIds" in placed[0]:  # IBKR's questions first
            reply = f"/iserver/reply/{placed[0]['id']}"
            placed = (await client.post(reply, json={"confirmed": True})).json()
        assert isinstance(placed, dict) and placed["error"] == error
    assert sim.broker.orders == {}
    # closing part of a position frees margin: never refused
    small = lmt(AAPL, "SELL", 10, last(sim, AAPL))
    body = (await client.post(url, json={"orders": [small]})).json()
    assert body["error"] is None
