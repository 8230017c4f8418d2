"""Parsers given garbage: arbitrary JSON, mutated and truncated example bodies.

Each parser must return a model or raise ProtocolError; never KeyError, TypeError, ValueError,
InvalidOperation or anything else. A ProtocolError must come from the parsers' own checks (no
``__cause__``), not from the last-resort guard that converts stray exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.ibkr import models as m
from ibtui.ibkr.errors import ProtocolError

EXAMPLES = Path(__file__).parent.parent / "data" / "examples"
BODIES: dict[str, Any] = {
    p.name: json.loads(p.read_text())
    for p in sorted(EXAMPLES.glob("*.json"))
    if p.name not in ("errors_catalog.json", "ws_transcript.json")
}

PARSERS: dict[str, Callable[[object], object]] = {
    "auth_status": m.AuthStatus.from_json,
    "tickle": m.Tickle.from_json,
    "account": m.Account.from_json,
    "portfolio_accounts": m.parse_portfolio_accounts,
    "iserver_accounts": m.IserverAccounts.from_json,
    "account_switch": m.AccountSwitch.from_json,
    "summary": m.AccountSummary.from_json,
    "ledger_entry": m.LedgerEntry.from_json,
    "ledger": m.parse_ledger,
    "positions": m.parse_positions,
    "position": m.Position.from_json,
    "pnl": m.parse_pnl,
    "pnl_row": lambda data: m.PnlRow.from_json(data, "DU1.Core"),
    "search": m.parse_contract_search,
    "search_result": m.ContractSearchResult.from_json,
    "contract_info": m.ContractInfo.from_json,
    "snapshot": m.parse_snapshot,
    "quote": m.Quote.from_json,
    "history": m.History.from_json,
    "history_bar": m.HistoryBar.from_json,
    "place": m.parse_place_result,
    "ack": m.OrderAck.from_json,
    "cancel": m.parse_cancel_result,
    "live_orders": m.LiveOrders.from_json,
    "live_order": m.LiveOrder.from_json,
    "order_status": m.OrderStatus.from_json,
    "trades": m.parse_trades,
    "trade": m.Trade.from_json,
    "whatif": m.WhatIf.from_json,
}

# Which parser reads which example, so mutations of real bodies reach deep into each parser.
FOR_BODY: dict[str, list[str]] = {
    "auth_status_authenticated.json": ["auth_status"],
    "auth_status_before_init.json": ["auth_status"],
    "auth_status_competing.json": ["auth_status"],
    "ssodh_init.json": ["auth_status"],
    "tickle.json": ["tickle"],
    "portfolio_accounts.json": ["portfolio_accounts"],
    "iserver_accounts.json": ["iserver_accounts"],
    "iserver_account_switch.json": ["account_switch"],
    "portfolio_summary.json": ["summary"],
    "portfolio_ledger.json": ["ledger"],
    "portfolio_positions_page0.json": ["positions"],
    "pnl_partitioned.json": ["pnl"],
    "secdef_search_AAPL.json": ["search"],
    "contract_info_265598.json": ["contract_info"],
    "snapshot.json": ["snapshot"],
    "snapshot_closed_market.json": ["snapshot"],
    "history_AAPL_30min_5min.json": ["history"],
    "order_place_accepted.json": ["place"],
    "order_place_reply_required.json": ["place"],
    "order_price_mgmt_prompt.json": ["place"],
    "order_cancel.json": ["cancel"],
    "orders_live.json": ["live_orders"],
    "order_status.json": ["order_status"],
    "trades.json": ["trades"],
    "order_whatif.json": ["whatif"],
}


def _keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            out.add(key)
            _keys(item, out)
    elif isinstance(value, list):
        for item in value:
            _keys(item, out)
    return out


KNOWN_KEYS = sorted(_keys(list(BODIES.values()), {"upnl", "87_raw", "error", "iserver"}))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["", "C1.5", "H", "41.8M", "1,300", "NaN", "Infinity", "1e99999", "B", "S", "-", "%"]
    )
    | st.sampled_from(["20241104-15:31:07", "241104153012", "20241115", "1_000", "0x10", "K"])
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=6)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=25,
)


def check(name: str, data: object) -> None:
    try:
        PARSERS[name](data)
    except ProtocolError as exc:
        assert exc.__cause__ is None, f"{name}: guard caught {exc.__cause__!r} for {data!r}"


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=json_values)
def test_arbitrary_json(name: str, data: object) -> None:
    check(name, data)


def _mutate(value: Any, draw: st.DrawFn) -> Any:
    """Replace, drop or truncate one spot of a JSON value."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        copy = dict(value)
        action = draw(st.sampled_from(["replace", "drop", "descend"]))
        if action == "drop":
            del copy[key]
        elif action == "replace":
            copy[key] = draw(json_values)
        else:
            copy[key] = _mutate(value[key], draw)
        return copy
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        action = draw(st.sampled_from(["replace", "truncate", "descend"]))
        if action == "truncate":
            return value[:index]
        items = list(value)
        items[index] = draw(json_values) if action == "replace" else _mutate(value[index], draw)
        return items
    return draw(json_values) if draw(st.booleans()) else value


@st.composite
def mutations(draw: st.DrawFn, body: Any) -> Any:
    return _mutate(body, draw)


@pytest.mark.parametrize("body_name", sorted(FOR_BODY))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_examples(body_name: str, data: st.DataObject) -> None:
    mutated = data.draw(mutations(BODIES[body_name]))
    for name in FOR_BODY[body_name]:
        check(name, mutated)


@st.composite
def scrambled(draw: st.DrawFn, body: Any) -> Any:
    """The body's shape with many leaves swapped for random scalars."""
    if isinstance(body, dict):
        return {key: draw(scrambled(value)) for key, value in list(body.items())[:16]}
    if isinstance(body, list):
        return [draw(scrambled(item)) for item in body[:3]]
    return draw(scalars) if draw(st.integers(0, 3)) == 0 else body


@pytest.mark.parametrize("body_name", sorted(FOR_BODY))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_scrambled_examples(body_name: str, data: st.DataObject) -> None:
    scrambled_body = data.draw(scrambled(BODIES[body_name]))
    for name in FOR_BODY[body_name]:
        check(name, scrambled_body)


@pytest.mark.parametrize("body_name", sorted(FOR_BODY))
@settings(max_examples=15, deadline=None)
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_bodies(body_name: str, cut: float) -> None:
    text = json.dumps(BODIES[body_name])
    truncated = text[: int(len(text) * cut)]
    try:
        decoded = m.decode_body(truncated.encode(), "/x")
    except ProtocolError:
        return
    for name in FOR_BODY[body_name]:
        check(name, decoded)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_parser_on_every_example(name: str) -> None:
    """Wrong shapes (a list where an object belongs...) are ProtocolErrors, not crashes."""
    for body in BODIES.values():
        check(name, body)
