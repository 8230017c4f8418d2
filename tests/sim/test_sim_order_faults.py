"""The order path's named faults: a question withdrawn by another request (``reply503``), and an
order POST carried out but answered 429 or 500 (``post429carried``, ``post5xxcarried``); with
IBKR's duplicate-cOID refusal when the same order is sent again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ibtui.sim import Simulator
from ibtui.sim.faults import ORDER_KINDS

from .conftest import brokerage

ACCT = "DU4820311"


async def _order(sim: Simulator, client: httpx.AsyncClient, coid: str, pct: str) -> dict[str, Any]:
    """A BUY LMT of 3 AMD at last minus ``pct`` percent (10: IBKR asks o163 first)."""
    await brokerage(client)
    await client.get("/iserver/marketdata/snapshot", params={"conids": "8314"})
    last = float(sim.market.last(8314, sim.now()))
    price = round(last * (1 - float(pct) / 100), 2)
    return {
        "conid": 8314,
        "orderType": "LMT",
        "price": price,
        "side": "BUY",
        "quantity": 3,
        "tif": "DAY",
        "cOID": coid,
    }


def test_the_order_kinds_are_named() -> None:
    assert set(ORDER_KINDS) == {"reply503", "post429carried", "post5xxcarried"}


async def test_a_request_between_question_and_reply_withdraws_the_question(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    rule = sim.faults.reply503()
    order = await _order(sim, client, "q-1", "10")
    asked = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()
    reply_id = asked[0]["id"]
    assert (await client.get("/tickle")).status_code == 200  # the poller's keep-alive, say
    r = await client.post(f"/iserver/reply/{reply_id}", json={"confirmed": True})
    assert (r.status_code, r.json()) == (503, {"error": "Service Unavailable", "statusCode": 503})
    assert sim.broker.orders == {} and rule.hits == 1
    # nothing else in between: the question stands and the order is placed
    order = await _order(sim, client, "q-2", "10")
    asked = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()
    r = await client.post(f"/iserver/reply/{asked[0]['id']}", json={"confirmed": True})
    assert r.status_code == 200 and r.json()[0]["order_status"] in ("PreSubmitted", "Submitted")
    assert len(sim.broker.orders) == 1


async def test_without_the_fault_a_request_in_between_withdraws_nothing(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    order = await _order(sim, client, "q-3", "10")
    asked = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()
    await client.get("/tickle")
    r = await client.post(f"/iserver/reply/{asked[0]['id']}", json={"confirmed": True})
    assert r.status_code == 200 and len(sim.broker.orders) == 1


@pytest.mark.parametrize(
    ("status", "said"), [(429, "Too many requests"), (500, "Internal Server Error")]
)
async def test_a_carried_out_order_post_is_answered_with_a_failure(
    sim: Simulator, client: httpx.AsyncClient, status: int, said: str
) -> None:
    rule = sim.faults.post_carried(status)
    assert rule.kind == ("post429carried" if status == 429 else "post5xxcarried")
    order = await _order(sim, client, f"c-{status}", "1")  # rests: no question
    r = await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
    assert (r.status_code, r.json()) == (status, {"error": said, "statusCode": status})
    assert len(sim.broker.orders) == 1 and rule.hits == 1  # ... but the order IS placed
    # sent again, IBKR's duplicate-cOID check refuses it
    again = await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
    assert again.json()["error"] == (
        f"Order couldn't be submitted: Local order ID=c-{status} is already registered."
    )
    assert len(sim.broker.orders) == 1


async def test_a_carried_out_reply_is_answered_with_a_failure(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.faults.post_carried(503, path="/v1/api/iserver/reply/")
    order = await _order(sim, client, "r-1", "10")
    asked = (await client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})).json()
    assert "id" in asked[0]  # the placement itself was not hit
    r = await client.post(f"/iserver/reply/{asked[0]['id']}", json={"confirmed": True})
    assert r.status_code == 503 and len(sim.broker.orders) == 1


async def test_what_if_and_reads_are_not_order_posts(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    rule = sim.faults.post_carried(500)
    order = await _order(sim, client, "w-1", "1")
    r = await client.post(f"/iserver/account/{ACCT}/orders/whatif", json={"orders": [order]})
    assert r.status_code == 200
    assert (await client.get("/iserver/account/orders")).status_code == 200
    assert rule.hits == 0
    with pytest.raises(ValueError, match="429, 500 or 503"):
        sim.faults.post_carried(404)
