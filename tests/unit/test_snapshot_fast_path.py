"""The snapshot's fast path reads every field as the reference reader does.

:meth:`Quote.from_json` reads the common row (an object with an integer ``conid``) without the
reference's per-field regular expressions, closures and exceptions; :func:`reference_quote` is
the plain field-by-field statement of what a row means (``parse_price``, ``parse_volume``,
``parse_percent``, ``to_decimal``, each left out when it does not parse). For any value of any
field, and any row, the two give the same Quote, down to each Decimal's digits (``Decimal("1.0")``
and ``Decimal("1")`` are equal but do not show alike), or the same error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.models import market
from ibtui.ibkr.models._parse import from_epoch_ms, to_decimal
from ibtui.ibkr.models.market import (
    Quote,
    parse_percent,
    parse_price,
    parse_snapshot,
    parse_volume,
    reference_quote,
)


@contextmanager
def fresh_log() -> Iterator[set[tuple[str, int]]]:
    """The fields already logged as left out, empty for the test and restored after it (the
    memory is bounded: a test that fills it would silence another's warnings)."""
    saved = market._UNPARSED
    market._UNPARSED = set()
    try:
        yield market._UNPARSED
    finally:
        market._UNPARSED = saved


# --- field values: what IBKR sends, its placeholders, and garbage ---------------------------
DIGITS = st.text(alphabet="0123456789", max_size=7)
UNICODE_DIGITS = st.text(alphabet=st.characters(categories=["Nd"]), min_size=1, max_size=4)


# IBKR's usual spellings, and near misses of them (a letter for a prefix, two signs, a space)
USUAL = st.from_regex(r"[CHchxU ]?[-+]{0,2}[0-9,]{0,7}(\.[0-9]{0,4})?[ KM%]?", fullmatch=True)


@st.composite
def spelled_numbers(draw: st.DrawFn) -> str:
    """A number as text, in any of the ways the readers meet (or could meet) one."""
    whole = draw(DIGITS | UNICODE_DIGITS)
    if draw(st.booleans()) and len(whole) > 1:  # thousands commas, anywhere
        at = draw(st.integers(1, len(whole) - 1))
        whole = whole[:at] + draw(st.sampled_from([",", ",,", ".", " "])) + whole[at:]
    text = whole
    if draw(st.booleans()):
        text += "." + draw(DIGITS)
    if draw(st.integers(0, 5)) == 0:
        text += draw(st.sampled_from("eE")) + draw(st.sampled_from(["", "+", "-"]))
        text += draw(st.text(alphabet="0123456789", min_size=0, max_size=6))
    text = draw(st.sampled_from(["", "", "", "-", "+", "--", "-+"])) + text
    text = draw(st.sampled_from(["", "", "", "C", "H", "c", "h", "CC", " ", "C ", "x"])) + text
    text += draw(st.sampled_from(["", "", "", "K", "M", "B", "T", "k", " M", "%", "X", " ", "_0"]))
    return text


PLACEHOLDERS = st.sampled_from(
    ["", "Undefined", ".", "-", "C", "H", ",", "%", "K", "C.", "H-", "NaN", "Infinity", "inf",
     "-inf", "sNaN", "1e400", "1E+309", "1e-99999", "1_000", "0x10", " ", "\t1\n", "٣٫٥", "²"]
)  # fmt: skip
LONG = st.builds(
    lambda n, dot, sign: sign + ("9" * n if dot is None else "9" * dot + "." + "9" * (n - dot)),
    st.integers(300, 320),
    st.none() | st.integers(0, 300),
    st.sampled_from(["", "-", "C"]),
)
VALUES = (
    USUAL
    | spelled_numbers()
    | PLACEHOLDERS
    | LONG
    | st.text(max_size=8)
    | st.none()
    | st.booleans()
    | st.integers(-(10**320), 10**320)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
)


def shown(value: object) -> str:
    """What tells two results apart: a Decimal's digits and exponent, not only its value."""
    return repr(value)


def outcome(read: Callable[[], object]) -> str:
    try:
        return shown(read())
    except ProtocolError as exc:
        return f"ProtocolError: {exc.reason}"


def lenient(conid: int, code: str, read: Callable[[object, str], object], value: object) -> str:
    """The reference reader's answer for one field, as a snapshot row reads it."""
    return outcome(lambda: market._lenient(conid, code, lambda: read(value, f"field {code}")))


# --- one field at a time ---------------------------------------------------------------------
@settings(max_examples=600, deadline=None)
@given(value=VALUES, conid=st.integers(1, 3), logged=st.booleans())
def test_a_price_field_reads_as_parse_price(value: object, conid: int, logged: bool) -> None:
    with fresh_log() as log:
        if logged:  # an earlier answer's placeholder in this field was logged
            log.add(("84", conid))
        for _ in range(2):  # the second time the placeholders are already logged
            expected = lenient(conid, "84", lambda v, w: parse_price(v, w)[0], value)
            assert (
                outcome(lambda: market._number(value, conid, "84", market._first_price, True))
                == expected
            )


@settings(max_examples=600, deadline=None)
@given(value=VALUES, conid=st.integers(1, 3), logged=st.booleans())
def test_the_last_price_and_its_prefix_read_as_parse_price(
    value: object, conid: int, logged: bool
) -> None:
    with fresh_log() as log:
        if logged:
            log.add(("31", conid))
        for _ in range(2):
            expected = outcome(
                lambda: (
                    market._lenient(conid, "31", lambda: parse_price(value, "field 31"))
                    or (None, None)
                )
            )
            assert outcome(lambda: market._last(value, conid)) == expected


@pytest.mark.parametrize(
    "read", [parse_volume, parse_percent, to_decimal], ids=["volume", "percent", "amount"]
)
@settings(max_examples=400, deadline=None)
@given(value=VALUES, conid=st.integers(1, 3), logged=st.booleans())
def test_a_number_field_reads_as_its_reader(
    read: Callable[[object, str], Decimal | None], value: object, conid: int, logged: bool
) -> None:
    with fresh_log() as log:
        if logged:
            log.add(("85", conid))
        for _ in range(2):
            expected = lenient(conid, "85", read, value)
            assert outcome(lambda: market._number(value, conid, "85", read)) == expected


@settings(max_examples=400, deadline=None)
@given(
    stamp=st.integers(-(10**16), 10**16)
    | st.integers(market._FAST_MS - 10**6, market._FAST_MS + 10**6)
    | st.integers(0, 2_000_000_000_000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet="0123456789.-", max_size=16)
    | st.none()
)
def test_the_update_time_reads_as_from_epoch_ms(stamp: object) -> None:
    expected = outcome(lambda: from_epoch_ms(stamp, "snapshot row '_updated'"))
    got = outcome(lambda: market._updated(stamp))
    assert got == expected
    if isinstance(stamp, int) and 0 <= stamp < market._FAST_MS:  # to the millisecond
        when = market._updated(stamp)
        assert isinstance(when, datetime)
        assert round(when.timestamp() * 1000) == stamp and when.microsecond % 1000 == 0


# --- whole rows --------------------------------------------------------------------------------
KEYS = [*market.QUOTE_FIELDS, market.F_VOLUME_RAW, "_updated", "conidEx", "server_id", "6119"]
ROWS = st.fixed_dictionaries(
    {"conid": st.integers(1, 10**12)},
    optional={key: VALUES for key in KEYS}
    | {"31": spelled_numbers() | PLACEHOLDERS, "55": st.text(max_size=6)},
)


def row_outcome(read: Callable[[object], Quote], row: object) -> str:
    return outcome(lambda: read(row))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=ROWS)
def test_a_row_reads_as_the_reference_reads_it(row: dict[str, object]) -> None:
    with fresh_log():
        for _ in range(2):
            assert row_outcome(Quote.from_json, row) == row_outcome(reference_quote, row)


@settings(max_examples=200, deadline=None)
@given(row=VALUES | st.fixed_dictionaries({"conid": VALUES}) | ROWS.map(lambda r: [r]))
def test_rows_of_other_shapes_read_as_the_reference_reads_them(row: object) -> None:
    with fresh_log():
        assert row_outcome(Quote.from_json, row) == row_outcome(reference_quote, row)


def simulator_row(conid: int, prefix: str = "") -> dict[str, object]:
    """A row as the simulator (and IBKR, API.md §5.1) sends it for a held position."""
    return {
        "conid": conid,
        "conidEx": str(conid),
        "_updated": 1730734311245,
        "server_id": "q0",
        "6119": "q0",
        "6509": "RpB",
        "31": f"{prefix}222.91",
        "55": "AAPL",
        "84": "222.90",
        "85": "1,300",
        "86": "222.92",
        "88": "2",
        "82": "-0.54",
        "83": "-0.24",
        "70": "225.35",
        "71": "221.97",
        "87": "41.8M",
        "7762": "41812354",
        "7295": "223.87",
        "7296": "222.91",
        "7741": "223.45",
        "7059": "100",
        "7635": "222.91",
        "7920": "-12.50",
    }


@pytest.mark.parametrize("prefix", ["", "C", "H"])
def test_a_usual_row_is_read_without_the_reference_reader(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IBKR's usual spellings, its warm-up rows and its placeholders once logged are read
    without the reference's readers, which raise for a placeholder on each field and tick."""
    row = simulator_row(265598, prefix)
    expected = reference_quote(row)
    with fresh_log():
        placeholders = {**row, "84": "Undefined", "86": "", "70": "-", "7920": "."}
        reference_quote(placeholders)  # logged once, as the first answer would be

        def refused(*args: object) -> None:
            raise AssertionError("the reference reader was asked")

        monkeypatch.setattr(market, "_lenient", refused)
        (quote, warm, held) = parse_snapshot(
            [row, {"conid": 8314, "conidEx": "8314"}, placeholders]
        )
    assert repr(quote) == repr(expected)
    assert warm.is_warmup and warm.last is None
    assert held.bid is None and held.ask is None and held.high is None and held.daily_pnl is None
    assert held.last == Decimal("222.91") and held.low == Decimal("221.97")


def test_a_placeholder_is_still_logged_once_per_field_and_conid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="ibtui.ibkr.models.market")
    row = {**simulator_row(4242), "84": "Undefined", "7920": "-"}
    with fresh_log():
        for _ in range(3):
            quote = Quote.from_json(row)
            assert quote.bid is None and quote.daily_pnl is None and quote.ask is not None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert any("field 84 of conid 4242" in m and "'Undefined'" in m for m in messages)
    assert any("field 7920 of conid 4242" in m for m in messages)
