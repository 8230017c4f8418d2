"""Drive the unchanged ibind client against ``ibtui sim``; run as a script by test_ibind*.py.

ibind is configured only through its documented environment variables (``IBIND_*``, read when
ibind is imported), exactly as a user would after ``. ibind.env``. The script prints one JSON
object with what it observed on its last stdout line; any ibind exception makes it fail.

    python ibind_driver.py oauth   # LST handshake and signed calls to the oauth-only server
    python ibind_driver.py full    # the whole session against the full simulator
    python ibind_driver.py ws      # IbkrWsClient: market data for two conids, an order update
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def oauth_scenario() -> dict[str, Any]:
    from ibind import IbkrClient

    client = IbkrClient()  # IBIND_USE_OAUTH=true: the LST handshake and its validation run here
    try:
        plain = client.get("whoami")
        with_query = client.get("whoami", params={"conids": "265598,8314", "fields": "31,84"})
        posted = client.post("whoami", params={"publish": True, "compete": True})
        return {
            "lst_expires_ms": client.live_session_token_expires_ms,
            "get": plain.data,
            "get_with_query": with_query.data,
            "post_json": posted.data,
        }
    finally:
        client.close()


def _price(value: str) -> float:
    """A snapshot price string: ``C``/``H`` prefixes mark closing/halted values."""
    return float(value.lstrip("CH").replace(",", ""))


def full_scenario() -> dict[str, Any]:
    from ibind import IbkrClient, OrderRequest, QuestionType

    seen: dict[str, Any] = {}
    # LST handshake, its validation and ssodh/init all happen inside the constructor
    client = IbkrClient()
    try:
        seen["auth_status"] = client.authentication_status().data
        seen["tickle"] = client.tickle().data
        seen["healthy"] = client.check_health()
        seen["portfolio_accounts"] = client.portfolio_accounts().data
        seen["iserver_accounts"] = client.receive_brokerage_accounts().data
        account = next(a["id"] for a in seen["portfolio_accounts"] if a["id"].startswith("DU"))
        seen["account"] = account
        seen["positions"] = client.positions(account_id=account, page=0).data

        conids, fields = ["265598", "8314"], ["31", "84", "86", "55"]
        seen["snapshot_warmup"] = client.live_marketdata_snapshot(conids, fields).data
        seen["snapshot"] = client.live_marketdata_snapshot(conids, fields).data
        seen["history"] = client.marketdata_history_by_conid("265598", bar="5min", period="1d").data

        aapl = next(row for row in seen["snapshot"] if str(row["conid"]) == "265598")
        limit = round(_price(aapl["31"]) * 0.9, 2)  # far below the market: o163 is asked
        order = OrderRequest(
            conid=265598,
            side="BUY",
            quantity=1,
            order_type="LMT",
            price=limit,
            acct_id=account,
            tif="DAY",
        )
        try:
            client.place_order(order, {QuestionType.PRICE_PERCENTAGE_CONSTRAINT: False}, account)
        except RuntimeError as exc:  # ibind refuses to confirm: the question reached it
            seen["refused_question"] = str(exc)
        answers = {
            QuestionType.PRICE_PERCENTAGE_CONSTRAINT: True,
            QuestionType.MISSING_MARKET_DATA: True,
        }
        placed = client.place_order(order, answers, account).data
        seen["placed"] = placed
        order_id = placed["order_id"]
        seen["limit"] = limit
        seen["live_orders"] = _live_orders_until(client, lambda o: str(o["orderId"]) == order_id)
        seen["cancel"] = client.cancel_order(order_id, account).data
        seen["after_cancel"] = _live_orders_until(
            client,
            lambda o: str(o["orderId"]) == order_id and o.get("status") == "Cancelled",
        )
    finally:
        client.close()  # IBIND_SHUTDOWN_OAUTH: stops the tickler and calls /logout
    return seen


def _live_orders_until(client: Any, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Poll live orders until one matches: the first call may come back empty (API.md §8.1)
    and a cancel takes effect a moment after it was acknowledged."""
    data: dict[str, Any] = {}
    for attempt in range(40):
        data = client.live_orders().data
        if any(wanted(o) for o in data.get("orders", [])):
            data["attempts"] = attempt + 1
            return data
        time.sleep(0.25)
    raise AssertionError(f"no matching live order after 40 calls: {data}")


def ws_scenario() -> dict[str, Any]:
    """ibind's WebSocket client with OAuth (``?oauth_token=``, the ``api`` cookie from /tickle,
    its User-Agent), subscribed to market data for two conids and to orders; an order placed
    over REST must come back as an ``sor`` update."""
    from ibind import CallbackSink, IbkrClient, IbkrWsClient, OrderRequest, QuestionType, events
    from ibind.subscriptions import MarketDataSubscription, OrdersSubscription

    seen: dict[str, Any] = {"market_data": {}, "orders": []}
    sink = CallbackSink()
    sink.on(
        events.MarketData,
        lambda e: seen["market_data"].setdefault(str(e.conid), {}).update(e.data),
    )
    sink.on(events.Orders, lambda e: seen["orders"].append(e.data))
    client = IbkrClient()
    account = next(a["id"] for a in client.portfolio_accounts().data if a["id"].startswith("DU"))
    client.receive_brokerage_accounts()
    ws = IbkrWsClient(
        account_id=account, ibkr_client=client, sink=sink, synchronous_output_events=True
    )
    try:
        seen["started"] = ws.start()
        conids = ["265598", "8314"]
        handles = [
            ws.subscribe(MarketDataSubscription(conid=c, fields=["31", "84", "86"])) for c in conids
        ]
        handles.append(ws.subscribe(OrdersSubscription()))
        seen["unconfirmed"] = len(ws.wait_all(handles[:2], timeout_each=10))
        _until(lambda: set(conids) <= set(seen["market_data"]))
        # ibind names the fields (31 → last_price, 84 → bid_price, 86 → ask_price)
        last = float(str(seen["market_data"]["265598"]["last_price"]).lstrip("CH"))
        order = OrderRequest(
            conid=265598,
            side="BUY",
            quantity=1,
            order_type="LMT",
            price=round(last * 0.99, 2),
            acct_id=account,
            tif="DAY",
        )
        answers = {
            QuestionType.PRICE_PERCENTAGE_CONSTRAINT: True,
            QuestionType.MISSING_MARKET_DATA: True,
        }
        placed = client.place_order(order, answers, account).data
        seen["order_id"] = placed[0]["order_id"] if isinstance(placed, list) else placed["order_id"]
        _until(lambda: _has_order(seen["orders"], seen["order_id"]))
        client.cancel_order(seen["order_id"], account)
    finally:
        ws.shutdown()
        client.close()
    return seen


def _has_order(updates: list[Any], order_id: str) -> bool:
    """Whether an ``sor`` message (ibind hands on the whole ``{"topic", "args"}``) names it."""
    rows = [row for u in updates for row in u.get("args", [])]
    return any(isinstance(r, dict) and str(r.get("orderId")) == str(order_id) for r in rows)


def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not seen in time")
        time.sleep(0.05)


def main() -> int:
    scenarios = {"oauth": oauth_scenario, "full": full_scenario, "ws": ws_scenario}
    observed = scenarios[sys.argv[1]]()
    print(json.dumps(observed, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
