"""Checking what the trader types to change a working order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ibtui.trading.modify_input import kind_code, parse_modify, uses_limit, uses_stop

D = Decimal


@dataclass(frozen=True)
class Order:
    kind: str
    quantity: Decimal | None
    filled: Decimal | None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None


def test_parse_modify_checks_each_field() -> None:
    aapl = Order("LMT", D("10"), D("4"), limit_price=D("215.00"))
    values, problems = parse_modify(aapl, "20", "214.5")
    assert problems == {} and values is not None
    assert (values.quantity, values.limit_price, values.stop_price) == (
        Decimal(20),
        Decimal("214.5"),
        None,
    )
    assert parse_modify(aapl, "-1", "x")[1] == {
        "quantity": "must be positive",
        "limit": "numbers only",
    }
    assert parse_modify(aapl, "4", "")[1] == {
        "quantity": "must be more than the 4 filled",
        "limit": "required",
    }
    assert parse_modify(aapl, "10", "215")[1] == {"": "nothing changed"}
    assert parse_modify(aapl, "1e3", "2e2")[1] == {  # no exponents: not 1,000 and 200
        "quantity": "numbers only",
        "limit": "numbers only",
    }
    assert parse_modify(aapl, "12.5", "215")[1] == {"quantity": "whole shares only"}
    fractional = Order("LMT", D("2.5"), D("0"), limit_price=D("215.00"))
    values, problems = parse_modify(fractional, "3.5", "215")
    assert problems == {} and values is not None and values.quantity == D("3.5")
    stop = Order("STP", D("5"), D("0"), stop_price=D("400"))
    values, problems = parse_modify(stop, "5", "ignored", "399.5")
    assert values is not None and values.stop_price == Decimal("399.5")
    assert values.limit_price is None


def test_the_order_types_prices_are_named_as_ibkr_spells_them() -> None:
    assert kind_code("Stop Limit") == "STP LMT" and kind_code("MARKET") == "MKT"
    assert uses_limit("LIMIT") and uses_limit("STOP_LIMIT") and not uses_limit("STP")
    assert uses_stop("Stop") and uses_stop("STP LMT") and not uses_stop("MKT")
