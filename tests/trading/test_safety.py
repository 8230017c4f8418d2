"""Validation, precaution limits, the live-account confirmation and the question policy."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibtui.ibkr.models import OrderType, Side, TimeInForce
from ibtui.trading.draft import MarketQuote, OrderDraft, TicketType, parse_amount
from ibtui.trading.safety import (
    DraftError,
    FieldError,
    build_order,
    check,
    live_confirmation_ok,
    parse_draft,
    precautions,
    question_policy,
    validate,
)
from ibtui.trading.settings import OrderSettings

MARKET = MarketQuote(last=Decimal("100.00"), bid=Decimal("99.99"), ask=Decimal("100.01"))
DRAFT = OrderDraft(
    account_id="DU4820311",
    conid=265598,
    symbol="AAPL",
    side=Side.BUY,
    quantity="10",
    order_type=TicketType.LMT,
    limit_price="99.50",
)


def fields(errors: list[FieldError]) -> dict[str, str]:
    return {e.field: e.message for e in errors}


def test_a_good_limit_order_validates() -> None:
    assert validate(DRAFT, MARKET) == []
    parsed = parse_draft(DRAFT, MARKET)
    assert parsed.quantity == 10 and parsed.limit_price == Decimal("99.50")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"quantity": ""}, "quantity", "enter a quantity"),
        ({"quantity": "ten"}, "quantity", "must be a number"),
        ({"quantity": "1e3"}, "quantity", "must be a number"),
        ({"quantity": "NaN"}, "quantity", "must be a number"),
        ({"quantity": "1,000"}, "quantity", "must be a number"),
        ({"quantity": "0"}, "quantity", "greater than zero"),
        ({"quantity": "-5"}, "quantity", "greater than zero"),
        ({"limit_price": None}, "limit_price", "enter a limit price"),
        ({"limit_price": "abc"}, "limit_price", "must be a number"),
        ({"order_type": TicketType.STP, "stop_price": ""}, "stop_price", "enter a stop price"),
        ({"order_type": "TRAIL"}, "order_type", "choose MKT"),
        ({"tif": TimeInForce.OPG}, "tif", "choose DAY, GTC or IOC"),
        ({"order_type": TicketType.MKT, "outside_rth": True}, "outside_rth", "regular hours"),
        (
            {"order_type": TicketType.STP, "stop_price": "99"},
            "stop_price",
            "buy stop must be above",
        ),
        (
            {"side": Side.SELL, "order_type": TicketType.STP, "stop_price": "101"},
            "stop_price",
            "sell stop must be below",
        ),
        (
            {"order_type": TicketType.STP_LMT, "stop_price": "102", "limit_price": "101"},
            "limit_price",
            "at or above its stop",
        ),
        (
            {
                "side": Side.SELL,
                "order_type": TicketType.STP_LMT,
                "stop_price": "98",
                "limit_price": "99",
            },
            "limit_price",
            "at or below its stop",
        ),
    ],
)
def test_each_validation_error_names_its_field(
    change: dict[str, object], field: str, words: str
) -> None:
    errors = fields(validate(replace(DRAFT, **change), MARKET))  # type: ignore[arg-type]
    assert field in errors and words in errors[field]


def test_prices_the_type_does_not_use_are_ignored_and_stops_need_no_market() -> None:
    market_order = replace(DRAFT, order_type=TicketType.MKT, limit_price="junk")
    assert validate(market_order, MARKET) == []
    stop = replace(DRAFT, order_type=TicketType.STP, stop_price="99", limit_price=None)
    assert validate(stop, None) == []  # no last price: the side of the market is unknown
    assert validate(replace(stop, stop_price="101"), MARKET) == []


def test_build_order_follows_ibkrs_price_conventions() -> None:
    stop_limit = replace(
        DRAFT, order_type=TicketType.STP_LMT, stop_price="101", limit_price="101.5"
    )
    order = build_order(parse_draft(stop_limit, MARKET), "c-1")
    assert order.order_type is OrderType.STOP_LIMIT
    assert (order.price, order.aux_price) == (Decimal("101.5"), Decimal("101"))
    stop = build_order(
        parse_draft(replace(DRAFT, order_type=TicketType.STP, stop_price="101")), "c"
    )
    assert (stop.price, stop.aux_price) == (Decimal("101"), None)
    with pytest.raises(DraftError) as caught:
        parse_draft(replace(DRAFT, quantity="x"))
    assert caught.value.errors[0].field == "quantity"


numeric = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.decimals())


@given(quantity=numeric, limit=numeric, stop=numeric, kind=st.sampled_from(list(TicketType)))
def test_validate_never_raises_on_arbitrary_input(
    quantity: object, limit: object, stop: object, kind: TicketType
) -> None:
    draft = replace(DRAFT, quantity=quantity, limit_price=limit, stop_price=stop, order_type=kind)  # type: ignore[arg-type]
    errors = validate(draft, MARKET)
    assert all(isinstance(e, FieldError) and e.message for e in errors)
    if not errors:
        parsed = parse_amount(quantity)
        assert parsed is not None and parsed > 0
    assert isinstance(precautions(draft, MARKET.last, OrderSettings()), list)
    assert isinstance(check(draft, MARKET, OrderSettings()).sendable, bool)


@given(text=st.text(max_size=40))
def test_a_number_field_with_letters_is_an_error_not_a_crash(text: str) -> None:
    errors = fields(validate(replace(DRAFT, quantity=text + "x"), MARKET))
    assert "quantity" in errors


def test_precautions_warn_by_default_and_block_when_configured() -> None:
    settings = OrderSettings(max_order_value=1000.0, max_quantity=5.0, max_price_deviation_pct=2)
    draft = replace(DRAFT, limit_price="90")  # 10 x 90 = 900, 10 % away
    kinds = {p.kind: p for p in precautions(draft, MARKET.last, settings)}
    assert set(kinds) == {"quantity", "price_deviation"}
    assert not any(p.blocking for p in kinds.values())
    assert "10.0% away" in kinds["price_deviation"].message
    assert check(draft, MARKET, settings).sendable

    blocking = replace(settings, precaution_action="block")
    big = replace(DRAFT, quantity="20", limit_price="100")
    result = check(big, MARKET, blocking)
    assert {p.kind for p in result.precautions} == {"order_value", "quantity"}
    assert all(p.blocking for p in result.precautions) and not result.sendable
    assert "2,000.00 USD" in result.precautions[0].message


def test_precaution_messages_show_the_limits_as_numbers_are_written() -> None:
    """Settings read from TOML are floats (50000.0): the messages show 50,000, never 50,000.0."""
    settings = OrderSettings(max_order_value=50_000.0, max_quantity=10_000.0)
    settings = replace(settings, max_price_deviation_pct=5.0)
    big = replace(DRAFT, quantity="20000", limit_price="100")
    kinds = {p.kind: p.message for p in precautions(big, MARKET.last, settings)}
    assert kinds["order_value"] == ("order value 2,000,000.00 USD is above your limit of 50,000.00")
    assert kinds["quantity"] == "quantity 20,000 is above your limit of 10,000"
    far = replace(DRAFT, limit_price="110.50")
    (deviation,) = precautions(far, MARKET.last, settings)
    assert deviation.message == (
        "limit 110.50 is 10.5% away from the last price 100.00 (your limit: 5%)"
    )


def test_a_market_order_without_a_last_price_cannot_be_valued() -> None:
    market = replace(DRAFT, order_type=TicketType.MKT)
    (only,) = precautions(market, None, OrderSettings())
    assert only.kind == "no_price" and not only.blocking
    assert precautions(market, Decimal("100"), OrderSettings()) == []


def test_live_confirmation_is_the_last_four_characters() -> None:
    assert live_confirmation_ok("U1234567", "4567")
    assert live_confirmation_ok("U123456X", " 456x ")
    assert not live_confirmation_ok("U1234567", "1234")
    assert not live_confirmation_ok("U1234567", "")
    assert not live_confirmation_ok("U1234567", None)
    assert not live_confirmation_ok("", "")


def test_question_policy_per_message_id() -> None:
    settings = OrderSettings(questions=MappingProxyType({"o163": "confirm", "o451": "reject"}))
    assert question_policy("o163", settings) == "confirm"
    assert question_policy("o451", settings) == "reject"
    assert question_policy("o354", settings) == "ask"
    assert question_policy(None, settings) == "ask"


def test_a_limit_or_stop_without_a_last_price_says_it_could_not_be_checked() -> None:
    """A limit of 1000 on a stock near 156 must not pass as checked while no price has come."""
    far = replace(DRAFT, limit_price="1000")
    (only,) = precautions(far, None, OrderSettings())
    assert only.kind == "price_unchecked" and not only.blocking
    assert only.message.startswith(
        "no last price: limit 1,000 could not be checked against the market (your limit: 5"
    )
    blocked = check(far, None, OrderSettings(precaution_action="block"))
    assert not blocked.sendable and blocked.precautions[0].kind == "price_unchecked"
    stop = replace(DRAFT, order_type=TicketType.STP, limit_price=None, stop_price="90")
    assert [p.kind for p in precautions(stop, None, OrderSettings())] == ["price_unchecked"]
    assert "stop 90" in precautions(stop, None, OrderSettings())[0].message
    # with a price the distance is checked as before
    assert [p.kind for p in precautions(far, Decimal("156"), OrderSettings())] == [
        "price_deviation"
    ]
