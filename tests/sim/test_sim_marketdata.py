"""Snapshot pre-flight and formats, unsubscribe, contract search, historical bars."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from ibtui.sim import ManualClock, Simulator
from ibtui.sim.history import Spec, bars
from ibtui.sim.views_market import fmt_volume

from .conftest import brokerage, client_for, snapshot_twice

SNAP = "/iserver/marketdata/snapshot"
HIST = "/iserver/marketdata/history"


async def test_preflight_then_data_then_remembered_fields(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    first = (await client.get(SNAP, params={"conids": "265598,8314", "fields": "31,84"})).json()
    assert first == [{"conid": 265598, "conidEx": "265598"}, {"conid": 8314, "conidEx": "8314"}]
    rows = (await client.get(SNAP, params={"conids": "265598,8314", "fields": "31,84"})).json()
    for row in rows:
        assert {"31", "84", "_updated", "6509", "server_id"} <= row.keys()
        assert "86" not in row
        assert all(isinstance(v, str) for k, v in row.items() if k not in ("conid", "_updated"))
        assert isinstance(row["_updated"], int) and row["_updated"] > 10**12
    # Later calls deliver every field ever asked for, even with no fields at all.
    await client.get(SNAP, params={"conids": "265598", "fields": "86,55"})
    again = (await client.get(SNAP, params={"conids": "265598"})).json()[0]
    assert {"31", "84", "86", "55"} <= again.keys() and again["55"] == "AAPL"
    assert again["server_id"] == again["6119"] == "q0"


async def test_limits(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    many = ",".join(str(i) for i in range(1, 102))
    r = await client.get(SNAP, params={"conids": many, "fields": "31"})
    assert r.status_code == 400 and "conids" in r.json()["error"]
    fields = ",".join(str(i) for i in range(51))
    r = await client.get(SNAP, params={"conids": "265598", "fields": fields})
    assert r.status_code == 400 and "fields" in r.json()["error"]
    ok_call = await client.get(SNAP, params={"conids": many[: many.index(",100,")], "fields": "31"})
    assert ok_call.status_code == 200


async def test_closed_market_prefix_and_formats(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await brokerage(client)
    fields = "31,55,70,71,82,83,84,85,86,87,88,7295,7296,7741,6509"
    live = (await snapshot_twice(client, [265598], fields))[0]
    assert live["6509"] == "RpB" and live["31"][0].isdigit()
    assert live["87"][-1] in "KM"
    q = sim.market.quote(265598, clock.now())
    assert live["31"] == f"{q.last:.2f}" and live["7741"] == f"{q.day.prior_close:.2f}"
    assert float(live["82"]) == pytest.approx(float(q.last - q.day.prior_close))
    clock.set(datetime(2024, 11, 5, 0, 20, tzinfo=UTC))  # 19:20 New York
    closed = (await client.get(SNAP, params={"conids": "265598"})).json()[0]
    assert closed["31"].startswith("C") and closed["6509"] == "ZpB"
    assert closed["31"][1:] == closed["7296"]
    clock.set(datetime(2024, 11, 5, 13, 0, tzinfo=UTC))  # 8:00, before the next open
    early = (await client.get(SNAP, params={"conids": "265598"})).json()[0]
    assert early["31"] == closed["31"]
    clock.set(datetime(2024, 11, 5, 14, 31, tzinfo=UTC))
    opened = (await client.get(SNAP, params={"conids": "265598"})).json()[0]
    assert not opened["31"].startswith("C") and opened["7741"] == closed["7296"]
    sim.market.halted.add(265598)
    assert (await client.get(SNAP, params={"conids": "265598"})).json()[0]["31"].startswith("H")


def test_volume_format() -> None:
    assert [fmt_volume(v) for v in (850, 12_500, 850_000, 41_812_354, 2_300_000_000)] == [
        "850",
        "12.5K",
        "850K",
        "41.8M",
        "2.30B",
    ]


async def test_unsubscribe(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    await snapshot_twice(client, [265598, 756733])
    assert (
        await client.post("/iserver/marketdata/unsubscribe", json={"conid": 265598})
    ).json() == {"success": True}
    rows = (await client.get(SNAP, params={"conids": "265598,756733", "fields": "31"})).json()
    assert rows[0] == {"conid": 265598, "conidEx": "265598"} and "31" in rows[1]
    r = await client.post("/iserver/marketdata/unsubscribe", json={"conid": 8314})
    assert r.status_code == 404
    await client.get("/iserver/marketdata/unsubscribeall")
    rows = (await client.get(SNAP, params={"conids": "756733", "fields": "31"})).json()
    assert rows == [{"conid": 756733, "conidEx": "756733"}]


async def test_delayed_profile_and_position_fields(
    make_sim: Callable[..., Simulator], clock: ManualClock
) -> None:
    sim = make_sim(delayed_market_data=True)
    async with client_for(sim) as c:
        await brokerage(c)
        row = (await snapshot_twice(c, [265598], "31,73,74,75,76"))[0]
        assert row["6509"] == "DpB"
        assert row["31"] == f"{sim.market.last(265598, clock.now() - 900):.2f}"
        assert row["76"] == "60" and row["74"] == "207.42"  # the paper account holds 60 AAPL


async def test_contract_lookup(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    found = (await client.get("/iserver/secdef/search", params={"symbol": "msft"})).json()
    assert [f["conid"] for f in found] == ["272093"]
    assert (await client.get("/iserver/secdef/search", params={"symbol": "ZZZZZZ"})).json() == []
    prefix = (await client.get("/iserver/secdef/search", params={"symbol": "goo"})).json()
    assert [f["symbol"] for f in prefix] == ["GOOG", "GOOGL"]  # symbols starting with it
    by_name = (
        await client.post("/iserver/secdef/search", json={"symbol": "APPLE", "name": True})
    ).json()
    assert by_name[0]["symbol"] == "AAPL"
    r = await client.get("/iserver/contract/999/info")
    assert r.status_code == 500 and "error" in r.json()
    stocks = (await client.get("/trsrv/stocks", params={"symbols": "AAPL,SAP"})).json()
    assert stocks["SAP"][0]["contracts"][0]["isUS"] is False


async def _history(client: httpx.AsyncClient, **params: str | int) -> httpx.Response:
    return await client.get(HIST, params=params)


async def test_history_shape_and_consistency(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await brokerage(client)
    clock.set(datetime(2024, 11, 4, 16, 0, tzinfo=UTC))  # 11:00 New York
    body = (await _history(client, conid=265598, period="1d", bar="5min")).json()
    data = body["data"]
    assert body["barLength"] == 300 and body["points"] == len(data) == 18  # 9:30-11:00
    open_ms = int(datetime(2024, 11, 4, 14, 30, tzinfo=UTC).timestamp() * 1000)
    assert [d["t"] for d in data] == [open_ms + i * 300_000 for i in range(18)]
    for a, b in itertools.pairwise(data):
        assert a["c"] == b["o"]
    for d in data:
        assert d["l"] <= min(d["o"], d["c"]) <= max(d["o"], d["c"]) <= d["h"] and d["v"] > 0
    assert data[-1]["c"] == float(sim.market.last(265598, clock.now()))
    hi = max(data, key=lambda d: d["h"])
    total = round(sum(d["v"] for d in data), 2)
    assert body["high"] == f"{round(hi['h'] * 100)}/{total}/{(hi['t'] - open_ms) // 60000}"
    assert body["startTime"] == "20241104-14:30:00" and body["priceFactor"] == 100
    again = (await _history(client, conid=265598, period="1d", bar="5min")).json()
    assert again["data"] == data and again["serverId"] != body["serverId"]


async def test_history_step_table(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    r = await _history(client, conid=265598, period="1y", bar="1min")
    assert r.status_code == 400
    assert (await _history(client, conid=265598, period="1y", bar="1d")).status_code == 200
    assert (await _history(client, conid=265598, period="2x", bar="1d")).status_code == 400
    default = (await _history(client, conid=265598, period="1w")).json()
    assert default["barLength"] == 900  # the table's default for 1w is 15min
    upper = (await _history(client, conid=265598, period="1w", bar="5MIN")).json()
    assert upper["barLength"] == 900  # unknown unit replaced by the default (reported quirk)
    weekly = (await _history(client, conid=756733, period="1y", bar="1w")).json()
    days = {datetime.fromtimestamp(d["t"] / 1000, UTC).weekday() for d in weekly["data"][1:]}
    assert days == {0} and 50 <= len(weekly["data"]) <= 54  # Mondays (the first may be partial)


async def test_history_start_time_and_no_data(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    body = (
        await _history(client, conid=8314, period="2h", bar="10min", startTime="20241101-15:00:00")
    ).json()
    first = datetime.fromtimestamp(body["data"][0]["t"] / 1000, UTC)
    assert first == datetime(2024, 11, 1, 15, 0, tzinfo=UTC) and len(body["data"]) == 12
    future = await _history(
        client, conid=8314, period="1h", bar="5min", startTime="20300101-15:00:00"
    )
    assert (future.status_code, future.json()) == (500, {"error": "No data."})


def test_history_caps_at_1000_bars(sim: Simulator) -> None:
    inst = sim.universe.get(265598)
    assert inst is not None
    out = bars(sim.market, inst, Spec("200d", 200, "d", "1h"), None, sim.now())
    assert len(out) == 1000  # 200 sessions of 7 hourly bars, the latest 1,000 kept
    assert out[-1].t > out[0].t
