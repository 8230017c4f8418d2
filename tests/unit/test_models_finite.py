"""Numbers from the server are finite: NaN, infinities and values a float cannot hold (``"1e400"``,
which every consumer would turn into ``inf``) are a parse error for their field."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibtui.ibkr import models as m
from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.models._parse import to_decimal
from tests.unit.test_models_fuzz import BODIES


@pytest.mark.parametrize(
    "value",
    [
        "1e400",
        "-1e400",
        "1E+309",
        "1.8e308",
        pytest.param("9" * 310, id="310 nines"),
        pytest.param(10**400, id="10**400"),
        float("inf"),
        float("nan"),
        "NaN",
    ],
)
def test_numbers_beyond_a_float_are_refused(value: object) -> None:
    with pytest.raises(ProtocolError, match="quantity"):
        to_decimal(value, "quantity")


@pytest.mark.parametrize("value", ["1.7e308", "-1.7976931348623157e308", "1e-400", "0", "1,300"])
def test_large_and_tiny_numbers_a_float_holds_are_kept(value: str) -> None:
    number = to_decimal(value, "quantity")
    assert number is not None and math.isfinite(float(number))


numbers = st.one_of(
    st.from_regex(r"[+-]?\d{1,4}(\.\d{0,3})?[eE][+-]?\d{1,4}", fullmatch=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)


@given(value=numbers)
def test_any_number_read_is_a_finite_float(value: object) -> None:
    try:
        number = to_decimal(value, "price")
    except ProtocolError:
        return
    assert number is not None and math.isfinite(float(number))


def test_a_volume_multiplied_past_a_float_is_refused() -> None:
    assert m.parse_volume("1.5M") == Decimal("1500000")
    with pytest.raises(ProtocolError, match="volume"):
        m.parse_volume("1.7e308K")


def test_a_position_with_quantity_1e400_is_a_parse_error_naming_the_field() -> None:
    body = json.loads(json.dumps(BODIES["portfolio_positions_page0.json"]))
    body[0]["position"] = "1e400"
    with pytest.raises(ProtocolError, match="position 'position' is not a finite number"):
        m.parse_positions(body)
    body[0]["position"] = 1e400  # a JSON number too large: json.loads makes it inf
    with pytest.raises(ProtocolError, match="position 'position' is not a finite number"):
        m.parse_positions(body)
