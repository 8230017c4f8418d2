"""Every example body of tests/data/examples parsed into the values a trader would see."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibtui.ibkr import models as m
from ibtui.ibkr.errors import ProtocolError

EXAMPLES = Path(__file__).parent.parent / "data" / "examples"


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


# -------------------------------------------------------------------------- session


def test_auth_status_healthy() -> None:
    status = m.AuthStatus.from_json(load("auth_status_authenticated.json"))
    assert status.authenticated and status.connected and not status.competing
    assert status.healthy
    assert status.server_name == "JifN17091"


def test_auth_status_before_init_and_competing_are_not_healthy() -> None:
    before = m.AuthStatus.from_json(load("auth_status_before_init.json"))
    competing = m.AuthStatus.from_json(load("auth_status_competing.json"))
    assert not before.healthy and not before.connected
    assert competing.competing and competing.connected and not competing.healthy


def test_ssodh_init_parses_as_auth_status() -> None:
    assert m.AuthStatus.from_json(load("ssodh_init.json")).healthy


def test_ws_sts_args_with_flat_server_fields() -> None:
    sts = m.AuthStatus.from_json({"authenticated": True, "competing": False, "serverName": "X1"})
    assert sts.healthy and sts.server_name == "X1"
    assert not m.AuthStatus.from_json({"authenticated": False, "competing": True}).healthy


def test_tickle() -> None:
    tickle = m.Tickle.from_json(load("tickle.json"))
    assert tickle.session == "5d41402abc4b2a76b9719d911017c592"
    assert tickle.sso_expires == timedelta(milliseconds=585695)
    assert tickle.collision is False
    assert tickle.user_id == 87654321
    assert tickle.auth_status is not None and tickle.auth_status.healthy
    assert tickle.hmds_error == "no bridge"


def test_tickle_before_init_has_no_auth_status() -> None:
    tickle = m.Tickle.from_json({"session": "ab" * 16, "iserver": {}, "collission": True})
    assert tickle.auth_status is None and tickle.collision


def test_tickle_failure_variant_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as info:
        m.Tickle.from_json({"error": "failed to process request"})
    assert "failed to process request" in str(info.value)


# -------------------------------------------------------------------------- accounts


def test_accounts_merged() -> None:
    portfolio = m.parse_portfolio_accounts(load("portfolio_accounts.json"))
    iserver = m.IserverAccounts.from_json(load("iserver_accounts.json"))
    (account,) = m.merge_accounts(portfolio, iserver)
    assert account.id == "DU4820311"
    assert account.paper is True
    assert account.currency == "USD"
    assert account.alias is None  # IBKR repeats the id as alias: no real alias
    assert account.display_name == "Jane Q Trader"
    assert account.opened == utc(2023, 3, 15, 4, 0)
    assert iserver.selected_account == "DU4820311"
    assert iserver.supports_fractions == {"DU4820311": True}


def test_merge_takes_alias_and_iserver_only_accounts_but_not_all() -> None:
    portfolio = m.parse_portfolio_accounts(
        [{"id": "U1234567", "currency": "EUR", "type": "INDIVIDUAL", "accountAlias": None}]
    )
    iserver = m.IserverAccounts.from_json(
        {
            "accounts": ["All", "U1234567", "U7654321"],
            "aliases": {"All": "All", "U1234567": "Main", "U7654321": "U7654321"},
            "selectedAccount": "U1234567",
            "isPaper": False,
        }
    )
    merged = m.merge_accounts(portfolio, iserver)
    assert [a.id for a in merged] == ["U1234567", "U7654321"]
    assert merged[0].alias == "Main" and merged[0].label == "Main (U1234567)"
    assert merged[0].paper is False and merged[0].currency == "EUR"
    assert merged[1].alias is None and merged[1].currency is None
    assert iserver.has_all


def test_account_switch() -> None:
    switch = m.AccountSwitch.from_json(load("iserver_account_switch.json"))
    assert switch.set and switch.account_id == "DU4820312"


def test_summary() -> None:
    summary = m.AccountSummary.from_json(load("portfolio_summary.json"))
    assert summary.account_id == "DU4820311"
    assert summary.currency == "USD"
    assert summary.net_liquidation == Decimal("118276.94")
    assert summary.available_funds == Decimal("111922.84")
    assert summary.buying_power == Decimal("447691.36")
    assert summary.excess_liquidity == Decimal("112500.49")
    assert summary.init_margin == Decimal("6354.1")
    assert summary.maint_margin == Decimal("5776.45")
    assert summary.total_cash == Decimal("93512.44")
    assert summary.gross_position_value == Decimal("24777.5")
    assert summary.updated == utc(2024, 11, 4, 15, 20, 12)
    assert summary.values["accountready"].text == "true"
    assert summary.values["netliquidation-s"].amount == Decimal("118276.94")


def test_summary_missing_and_null_metrics_are_none() -> None:
    summary = m.AccountSummary.from_json(
        {"netliquidation": {"amount": 0.0, "isNull": True, "currency": "USD", "value": None}}
    )
    assert summary.net_liquidation is None
    assert summary.buying_power is None


def test_ledger_timestamp_is_seconds() -> None:
    ledger = m.parse_ledger(load("portfolio_ledger.json"))
    assert set(ledger) == {"USD", "BASE"}
    usd = ledger["USD"]
    assert usd.cash_balance == Decimal("93512.44")
    assert usd.net_liquidation == Decimal("118276.94")
    assert usd.option_market_value == Decimal("-6.5")
    assert usd.timestamp == utc(2024, 11, 4, 15, 20, 12)  # 1730733612 s, not ms
    assert ledger["BASE"].currency == "BASE"


# -------------------------------------------------------------------------- positions and pnl


def test_positions_page() -> None:
    aapl, spy, msft_put = m.parse_positions(load("portfolio_positions_page0.json"))
    assert aapl.symbol == "AAPL" and aapl.conid == 265598 and aapl.account == "DU4820311"
    assert aapl.quantity == Decimal("60")
    assert aapl.market_price == Decimal("222.91004725")
    assert aapl.market_value == Decimal("13374.6")
    assert aapl.avg_cost == Decimal("207.4215")
    assert aapl.unrealized_pnl == Decimal("929.31")
    assert aapl.realized_pnl == Decimal("0")
    assert aapl.currency == "USD" and aapl.asset_class == "STK"
    assert aapl.multiplier is None and aapl.strike is None and aapl.expiry is None
    assert spy.symbol == "SPY" and spy.name == "SPDR S&P 500 ETF TRUST"
    assert msft_put.symbol == "MSFT"
    assert msft_put.description == "MSFT Nov15'24 400 Put"
    assert msft_put.quantity == Decimal("-1") and msft_put.is_short
    assert msft_put.avg_cost == Decimal("112") and msft_put.avg_price == Decimal("1.12")
    assert msft_put.multiplier == Decimal("100")
    assert msft_put.strike == Decimal("400") and msft_put.put_or_call == "P"
    assert msft_put.expiry == date(2024, 11, 15)
    assert msft_put.underlying_conid == 272093


def test_positions_page_past_the_end() -> None:
    assert m.parse_positions(load("portfolio_positions_page1_empty.json")) == ()


def test_pnl_partitioned() -> None:
    rows = m.parse_pnl(load("pnl_partitioned.json"))
    row = rows["DU4820311"]
    assert row.key == "DU4820311.Core"
    assert row.daily_pnl == Decimal("-215.4")
    assert row.unrealized_pnl == Decimal("1205.81")
    assert row.net_liquidation == Decimal("118276.94")
    assert row.excess_liquidity == Decimal("112500.49")
    assert row.market_value == Decimal("24764.5")


def test_pnl_first_call_is_empty_not_an_error() -> None:
    assert m.parse_pnl(load("pnl_partitioned_first_call.json")) == {}


# -------------------------------------------------------------------------- contracts


def test_secdef_search_conid_string_becomes_int() -> None:
    results = m.parse_contract_search(load("secdef_search_AAPL.json"))
    assert [r.conid for r in results] == [265598, 38708077, 273982664]
    first = results[0]
    assert first.symbol == "AAPL" and first.exchange == "NASDAQ"
    assert first.company_name == "APPLE INC"
    assert "OPT" in first.sec_types and first.option_months[0] == "NOV24"
    assert first.option_expiries[0] == "20241108"


def test_secdef_search_skips_bond_issuers_and_unknown_symbol() -> None:
    body = [
        {"issuers": [{"id": "e1", "name": "X"}], "bondid": 1},
        {"conid": "8314", "symbol": "IBM"},
    ]
    assert [r.conid for r in m.parse_contract_search(body)] == [8314]
    assert m.parse_contract_search([]) == ()
    assert m.parse_contract_search({"error": "No symbol found"}) == ()


def test_contract_info() -> None:
    info = m.ContractInfo.from_json(load("contract_info_265598.json"))
    assert info.conid == 265598 and info.symbol == "AAPL"
    assert info.sec_type == "STK" and info.currency == "USD"
    assert info.valid_exchanges[0] == "SMART" and "NASDAQ" in info.valid_exchanges
    assert info.multiplier is None and info.underlying_conid is None


def test_option_contract_info() -> None:
    info = m.ContractInfo.from_json(
        {
            "con_id": 733712384,
            "symbol": "MSFT",
            "instrument_type": "OPT",
            "strike": "400",
            "right": "PUT",
            "expiry_full": "20241115",
            "multiplier": "100",
            "underlying_con_id": 272093,
        }
    )
    assert info.strike == Decimal("400") and info.right == "PUT"
    assert info.expiry == date(2024, 11, 15) and info.multiplier == Decimal("100")


# -------------------------------------------------------------------------- market data


def test_snapshot_live_row() -> None:
    aapl, spy = m.parse_snapshot(load("snapshot.json"))
    assert aapl.conid == 265598 and aapl.symbol == "AAPL"
    assert aapl.last == Decimal("222.91") and not aapl.is_close and not aapl.halted
    assert aapl.bid == Decimal("222.90") and aapl.ask == Decimal("222.92")
    assert aapl.bid_size == Decimal("2") and aapl.ask_size == Decimal("4")
    assert aapl.change == Decimal("-0.54") and aapl.change_pct == Decimal("-0.24")
    assert aapl.high == Decimal("225.35") and aapl.low == Decimal("221.97")
    assert aapl.open == Decimal("223.87") and aapl.prior_close == Decimal("223.45")
    assert aapl.volume == Decimal("41812354")  # the exact 7762 beats the rounded "41.8M"
    assert aapl.last_size == Decimal("100")
    assert aapl.availability is m.DataAvailability.REALTIME
    assert aapl.availability_code == "RpB"
    assert aapl.updated == utc(2024, 11, 4, 15, 31, 51, 245000)
    assert aapl.mark is None  # not sent: None, never 0
    assert aapl.mid == Decimal("222.91")
    assert not aapl.is_warmup
    assert spy.last == Decimal("569.82")


def test_snapshot_closed_market_c_prefix_and_suffix_volume() -> None:
    (aapl,) = m.parse_snapshot(load("snapshot_closed_market.json"))
    assert aapl.last == Decimal("222.01") and aapl.is_close
    assert aapl.volume == Decimal("45600000")  # "45.6M" (no 7762 in this row)
    assert aapl.availability is m.DataAvailability.FROZEN
    assert aapl.last_size is None


def test_snapshot_preflight_rows_are_warmup_quotes() -> None:
    rows = m.parse_snapshot(load("snapshot_preflight.json"))
    assert [q.conid for q in rows] == [265598, 756733]
    assert all(q.is_warmup for q in rows)
    assert all(q.last is None and q.bid is None and q.volume is None for q in rows)


def test_halted_and_suffix_helpers() -> None:
    quote = m.Quote.from_json(
        {"conid": 8314, "31": "H150.10", "87": "850K", "88": "1,300", "87_raw": 851234.0}
    )
    assert quote.halted and not quote.is_close and quote.last == Decimal("150.10")
    assert quote.bid_size == Decimal("1300")
    assert quote.volume == Decimal("851234")  # numeric companion preferred
    assert m.parse_volume("41.8M") == Decimal("41800000")
    assert m.parse_volume("850K") == Decimal("850000")
    assert m.parse_volume("1,300") == Decimal("1300")
    assert m.parse_volume(4.18e7) == Decimal("41800000")
    assert m.parse_price("C189.60") == (Decimal("189.60"), "C")
    assert m.parse_price("") == (None, None)
    assert m.parse_percent("-0.24%") == Decimal("-0.24")


def test_quote_merge_keeps_old_values_and_takes_changes() -> None:
    full = m.Quote.from_json(load("snapshot.json")[0])
    delta = m.Quote.from_json({"conid": 265598, "31": "C222.95", "84": "222.94"})
    merged = full.merge(delta)
    assert merged.last == Decimal("222.95") and merged.is_close
    assert merged.bid == Decimal("222.94") and merged.ask == Decimal("222.92")
    assert not merged.is_warmup


def test_history() -> None:
    history = m.History.from_json(load("history_AAPL_30min_5min.json"))
    assert history.symbol == "AAPL" and history.name == "APPLE INC"
    assert len(history.bars) == 6
    first = history.bars[0]
    assert first.time == utc(2024, 11, 4, 14, 30)
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("222.06"),
        Decimal("222.75"),
        Decimal("221.98"),
        Decimal("222.61"),
    )
    assert first.volume == Decimal("6251.33")
    assert history.bars[-1].close == Decimal("222.91")
    assert history.bar_seconds == 300 and history.period == "30min"
    assert history.price_factor == 100 and history.delay_seconds == 0
    assert history.start == utc(2024, 11, 4, 14, 30)
    assert history.server_id == "20477"


# -------------------------------------------------------------------------- orders


def test_place_accepted_order_id_string_becomes_int() -> None:
    result = m.parse_place_result(load("order_place_accepted.json"))
    assert isinstance(result, m.Accepted)
    assert result.order_id == 1487203311
    assert result.orders[0].status is m.OrderState.SUBMITTED


def test_place_reply_required_chain() -> None:
    first = m.parse_place_result(load("order_place_reply_required.json"))
    assert isinstance(first, m.ReplyRequired)
    assert first.reply_id == "3f9c2d2e-6b1a-4e0f-9a57-0c4d3b8e21aa"
    assert first.message_ids == ("o163",)
    assert "Percentage constraint of 3%" in first.messages[0]
    second = m.parse_place_result(load("order_reply_second_message.json"))
    assert isinstance(second, m.ReplyRequired) and second.message_ids == ("o354",)


def test_reply_not_found_and_unknown_order_are_order_errors() -> None:
    result = m.parse_place_result(load("order_reply_not_found.json"))
    assert result == m.OrderError("reply id not found: '3f9c2d2e-6b1a-4e0f-9a57-0c4d3b8e21aa'")
    modify = m.parse_modify_result(load("order_cancel_unknown.json"))
    assert modify == m.OrderError("OrderID 1487203399 doesn't exist")


def test_price_management_prompt() -> None:
    prompt = m.parse_place_result(load("order_price_mgmt_prompt.json"))
    assert isinstance(prompt, m.ServerPrompt)
    assert prompt.message_id == "p12" and prompt.order_id == 1487203312
    assert prompt.options == ("Use on this order", "Always use", "Do not use")
    assert prompt.text.endswith("Use the Price Management Algo?")


def test_cancel_results() -> None:
    ok = m.parse_cancel_result(load("order_cancel.json"))
    assert isinstance(ok, m.CancelResult)
    assert ok.order_id == 1487203311 and ok.message == "Request was submitted"
    wrapped = m.parse_cancel_result([load("order_cancel.json") | {"order_status": "PendingCancel"}])
    assert isinstance(wrapped, m.CancelResult) and wrapped.status is m.OrderState.PENDING_CANCEL
    unknown = m.parse_cancel_result(load("order_cancel_unknown.json"))
    assert unknown == m.OrderError("OrderID 1487203399 doesn't exist")


def test_live_orders() -> None:
    live = m.LiveOrders.from_json(load("orders_live.json"))
    assert live.snapshot is True
    working, filled = live.orders
    assert working.order_id == 1487203311 and working.conid == 265598
    assert working.side is m.Side.BUY
    assert working.order_type is m.OrderType.LIMIT and working.order_type_text == "Limit"
    assert working.price == Decimal("221.50")
    assert working.total_size == Decimal("10") and working.filled == Decimal("0")
    assert working.status is m.OrderState.SUBMITTED and working.status.is_working
    assert working.order_ref == "ibtui-20241104-0001"
    assert working.updated == utc(2024, 11, 4, 15, 30, 12)
    assert filled.side is m.Side.SELL and filled.order_type is m.OrderType.MARKET
    assert filled.price is None  # market order: no price, not 0
    assert filled.avg_price == Decimal("570.14")
    assert filled.status is m.OrderState.FILLED and filled.status.is_done


def test_live_orders_after_force_is_empty_with_snapshot_false() -> None:
    live = m.LiveOrders.from_json(load("orders_live_after_force.json"))
    assert live.orders == () and live.snapshot is False


def test_order_status_side_b() -> None:
    status = m.OrderStatus.from_json(load("order_status.json"))
    assert status.order_id == 1487203311 and status.conid == 265598
    assert status.side is m.Side.BUY
    assert status.order_type is m.OrderType.LIMIT
    assert status.limit_price == Decimal("221.50")
    assert status.remaining == Decimal("10") and status.filled == Decimal("0")
    assert status.status is m.OrderState.SUBMITTED
    assert status.editable and status.cancellable
    assert status.order_time == utc(2024, 11, 4, 15, 30, 12)


def test_trades_side_s() -> None:
    (trade,) = m.parse_trades(load("trades.json"))
    assert trade.side is m.Side.SELL
    assert trade.symbol == "SPY" and trade.conid == 756733
    assert trade.quantity == Decimal("5") and trade.price == Decimal("570.14")
    assert trade.commission == Decimal("1.00") and trade.net_amount == Decimal("2850.7")
    assert trade.time == utc(2024, 11, 4, 15, 7, 55)
    assert trade.order_ref == "ibtui-20241104-0000"


def test_trade_time_falls_back_to_text() -> None:
    row = load("trades.json")[0]
    del row["trade_time_r"]
    assert m.Trade.from_json(row).time == utc(2024, 11, 4, 15, 7, 55)


def test_whatif_strings_become_decimals() -> None:
    whatif = m.WhatIf.from_json(load("order_whatif.json"))
    assert whatif.amount is not None
    assert whatif.amount.value == Decimal("2215.00") and whatif.amount.currency == "USD"
    assert whatif.amount.text == "2,215.00 USD (10 Shares)"
    assert whatif.commission is not None and whatif.commission.value == Decimal("1")
    assert whatif.total is not None and whatif.total.value == Decimal("2216.00")
    assert whatif.initial_margin is not None and whatif.initial_margin.after is not None
    assert whatif.initial_margin.after.value == Decimal("6908")
    assert whatif.equity is not None and whatif.equity.change is not None
    assert whatif.equity.change.value == Decimal("-1")
    assert whatif.warn is None and whatif.error is None


def test_whatif_warning_kept_as_text() -> None:
    whatif = m.WhatIf.from_json({"warn": "21/You are trying to submit an order without data"})
    assert whatif.warn is not None and whatif.warn.startswith("21/")
    assert whatif.amount is None


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("BUY", "BUY"),
        ("B", "BUY"),
        ("Buy", "BUY"),
        ("SELL", "SELL"),
        ("S", "SELL"),
        ("Sell", "SELL"),
    ],
)
def test_sides_normalised(text: str, side: str) -> None:
    assert m.Side.parse(text) is m.Side(side)


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("Inactive", "INACTIVE"),
        ("PendingSubmit", "PENDING_SUBMIT"),
        ("PreSubmitted", "PRE_SUBMITTED"),
        ("pre_submitted", "PRE_SUBMITTED"),
        ("Submitted", "SUBMITTED"),
        ("Filled", "FILLED"),
        ("PendingCancel", "PENDING_CANCEL"),
        ("Cancelled", "CANCELLED"),
        ("WarnState", "WARN_STATE"),
        ("SomethingNew", "UNKNOWN"),
    ],
)
def test_order_states(text: str, state: str) -> None:
    assert m.OrderState.parse(text) is m.OrderState[state]


@pytest.mark.parametrize(
    ("text", "order_type"),
    [
        ("Limit", "LIMIT"),
        ("LIMIT", "LIMIT"),
        ("LMT", "LIMIT"),
        ("Market", "MARKET"),
        ("Stop", "STOP"),
        ("Stop Limit", "STOP_LIMIT"),
        ("STOP_LIMIT", "STOP_LIMIT"),
    ],
)
def test_order_types_from_display_text(text: str, order_type: str) -> None:
    assert m.OrderType.parse(text) is m.OrderType[order_type]


_maybe_price = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2)
_quotes = st.builds(
    m.Quote,
    conid=st.just(265598),
    symbol=st.none() | st.just("AAPL"),
    last=_maybe_price,
    is_close=st.booleans(),
    halted=st.booleans(),
    bid=_maybe_price,
    ask=_maybe_price,
    volume=_maybe_price,
    daily_pnl=_maybe_price,
    updated=st.none() | st.datetimes(timezones=st.just(UTC)),
    is_warmup=st.booleans(),
)


@given(_quotes, _quotes)
def test_quote_merge_takes_every_value_the_update_carries(old: m.Quote, new: m.Quote) -> None:
    """The merge of a stream's delta: each value the update has, the old one otherwise; the
    close and halt flags with the last price they came with; a warm-up only while both are."""
    merged = old.merge(new)
    for f in dataclasses.fields(m.Quote):
        if f.name not in ("is_close", "halted", "is_warmup"):
            value = getattr(new, f.name)
            assert getattr(merged, f.name) == (value if value is not None else getattr(old, f.name))
    flags = new if new.last is not None else old
    assert (merged.is_close, merged.halted) == (flags.is_close, flags.halted)
    assert merged.is_warmup == (old.is_warmup and new.is_warmup)
