"""Order tickets ibtui sends, and the strictness of the readers under every model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ibtui.ibkr import models as m
from ibtui.ibkr.errors import ProtocolError

EXAMPLES = Path(__file__).parent.parent / "data" / "examples"


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def limit_buy(**overrides: Any) -> m.OrderRequest:
    fields: dict[str, Any] = {
        "conid": 265598,
        "side": m.Side.BUY,
        "quantity": Decimal("10"),
        "order_type": m.OrderType.LIMIT,
        "coid": "ibtui-20241104-0001",
        "price": Decimal("221.50"),
        "account_id": "DU4820311",
        "listing_exchange": "SMART",
        "sec_type": "STK",
    }
    fields.update(overrides)
    return m.OrderRequest(**fields)


def test_limit_order_body_matches_ibkr_example() -> None:
    body = m.order_body([limit_buy()])
    assert body == load("order_place_request.json")
    # and it is plain JSON (no Decimal left in it)
    assert json.loads(json.dumps(body)) == body


def test_bracket_body_matches_ibkr_example() -> None:
    common: dict[str, Any] = {
        "conid": 265598,
        "quantity": Decimal("10"),
        "tif": m.TimeInForce.GTC,
        "account_id": "DU4820311",
    }
    parent = m.OrderRequest(
        side=m.Side.BUY,
        order_type=m.OrderType.LIMIT,
        price=Decimal("221.5"),
        coid="ibtui-br-7781",
        **common,
    )
    stop = m.OrderRequest(
        side=m.Side.SELL,
        order_type=m.OrderType.STOP,
        price=Decimal("214.0"),
        coid="ibtui-br-7781-sl",
        parent_coid="ibtui-br-7781",
        **common,
    )
    take = m.OrderRequest(
        side=m.Side.SELL,
        order_type=m.OrderType.LIMIT,
        price=Decimal("236.0"),
        coid="ibtui-br-7781-tp",
        parent_coid="ibtui-br-7781",
        **common,
    )
    sent = m.order_body([parent, stop, take])["orders"]
    expected = load("order_bracket_request.json")["orders"]
    assert isinstance(sent, list)
    for got, want in zip(sent, expected, strict=True):
        assert isinstance(got, dict)
        for key in ("conid", "orderType", "price", "side", "tif", "quantity"):
            assert got[key] == want[key]
        assert got.get("parentId") == want.get("parentId")


def test_stop_limit_and_market_bodies() -> None:
    stop_limit = limit_buy(
        order_type=m.OrderType.STOP_LIMIT, price=Decimal("225"), aux_price=Decimal("224.5")
    ).to_json()
    assert stop_limit["orderType"] == "STOP_LIMIT"
    assert stop_limit["price"] == 225 and stop_limit["auxPrice"] == 224.5
    market = limit_buy(
        order_type=m.OrderType.MARKET, price=None, side=m.Side.SELL, outside_rth=True
    ).to_json()
    assert market["orderType"] == "MKT" and market["side"] == "SELL"
    assert "price" not in market and market["outsideRTH"] is True


def test_fractional_quantity_is_a_json_float() -> None:
    assert limit_buy(quantity=Decimal("0.5")).to_json()["quantity"] == 0.5


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"price": None}, "limit price"),
        ({"order_type": m.OrderType.MARKET}, "market order takes no price"),
        ({"order_type": m.OrderType.STOP, "price": None}, "stop price"),
        ({"order_type": m.OrderType.STOP_LIMIT}, "aux_price"),
        ({"aux_price": Decimal("1")}, "takes no aux_price"),
        ({"quantity": Decimal("0")}, "quantity"),
        ({"quantity": Decimal("-5")}, "quantity"),
        ({"price": Decimal("-1")}, "price"),
        ({"coid": ""}, "coid"),
        ({"coid": "has space"}, "coid"),
        ({"conid": 0}, "conid"),
        ({"order_type": m.OrderType.TRAIL}, "not supported"),
    ],
)
def test_inconsistent_tickets_are_refused(overrides: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        limit_buy(**overrides)


def test_order_body_needs_an_order() -> None:
    with pytest.raises(ValueError):
        m.order_body([])


def test_make_coid_is_unique_and_valid() -> None:
    now = datetime(2024, 11, 4, 15, 30, 12, tzinfo=UTC)
    first, second = m.make_coid(now=now), m.make_coid(now=now)
    assert first.startswith("ibtui-20241104153012-") and first != second
    limit_buy(coid=first)  # accepted by the ticket


def test_reply_text_is_plain() -> None:
    reply = m.ReplyRequired("id", ("<h4>Warning</h4>Price &amp; size\nOK?",), ("o163",))
    assert reply.text == "WarningPrice & size\nOK?"


def test_accepted_bracket_lists_every_order() -> None:
    result = m.parse_place_result(
        [
            {"order_id": "1", "order_status": "PreSubmitted", "encrypt_message": "1"},
            {"order_id": "2", "order_status": "PreSubmitted", "parent_order_id": "1"},
        ]
    )
    assert isinstance(result, m.Accepted)
    assert [a.order_id for a in result.orders] == [1, 2]
    assert result.orders[1].parent_order_id == 1
    assert result.orders[0].status is m.OrderState.PRE_SUBMITTED


def test_place_result_unknown_shape_is_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        m.parse_place_result([])
    with pytest.raises(ProtocolError):
        m.parse_place_result([{"something": "else"}])


# ----------------------------------------------------------------- reader strictness


@pytest.mark.parametrize(
    ("parser", "body", "needle"),
    [
        (m.Quote.from_json, {"conid": "abc"}, "conid"),
        (m.Quote.from_json, {"conid": 1, "_updated": 10**30}, "_updated"),
        (m.Quote.from_json, {"conid": True}, "conid"),
        (m.Position.from_json, {"acctId": "DU1", "conid": 1}, "position"),
        (m.LedgerEntry.from_json, {"currency": "USD", "timestamp": "yesterday"}, "timestamp"),
        (m.OrderStatus.from_json, {"order_id": 1, "conid": 1, "side": "X"}, "side"),
        (
            m.Trade.from_json,
            {"execution_id": "e", "side": "B", "size": 1, "price": "1,0x"},
            "price",
        ),
        (m.History.from_json, {"data": [{"t": 1, "o": 1, "h": 1, "l": 1}]}, "'c'"),
        (m.History.from_json, {"data": [], "startTime": "2024-11-04"}, "startTime"),
        (m.parse_positions, {"not": "a list"}, "expected a list"),
    ],
)
def test_malformed_values_name_the_key(parser: Any, body: object, needle: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parser(body)
    assert needle in info.value.reason
    assert info.value.endpoint is None


def test_protocol_error_gets_the_endpoint_from_the_client() -> None:
    try:
        m.parse_snapshot({"conid": 1})
    except ProtocolError as exc:
        named = exc.with_endpoint("/iserver/marketdata/snapshot")
    assert named.endpoint == "/iserver/marketdata/snapshot"
    assert "/iserver/marketdata/snapshot" in str(named) and "expected a list" in str(named)


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"31": "NaN"}, "31"),
        ({"84": "Infinity"}, "84"),
        ({"87": "12.2X"}, "87"),
        ({"7920": "Undefined"}, "7920"),  # a position's daily P&L: missing, not the row
    ],
)
def test_a_snapshot_field_that_does_not_parse_is_missing_and_logged_by_key(
    row: dict[str, str], code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="ibtui.ibkr.models.market")
    quote = m.Quote.from_json({"conid": 777001 + int(code), "86": "1.5", **row})
    assert quote.ask == Decimal("1.5") and quote.last is None and quote.bid is None
    assert any(f"field {code}" in r.getMessage() for r in caplog.records)


def test_reasons_never_carry_the_whole_body(caplog: pytest.LogCaptureFixture) -> None:
    long_text = "x" * 5000
    with pytest.raises(ProtocolError) as info:
        m.Quote.from_json({"conid": long_text})
    assert len(str(info.value)) < 300
    caplog.set_level("WARNING", logger="ibtui.ibkr.models.market")
    m.Quote.from_json({"conid": 918_273_645, "31": long_text})  # a conid no other test logs
    assert caplog.records and all(len(r.getMessage()) < 300 for r in caplog.records)
