"""Text from the server is data, never terminal control codes: every string a parser returns is
cleaned of C0/C1 control characters (tab and newline only where the field has several lines)."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.ibkr import errors as e
from ibtui.ibkr import models as m
from ibtui.ibkr.errors import ProtocolError
from ibtui.text import clean_data, clean_text
from tests.unit.test_models_fuzz import BODIES, FOR_BODY, PARSERS

OSC52 = "\x1b]52;c;SGVsbG8=\x07"  # write "Hello" to the clipboard
CLEAR = "\x1b[2J"  # clear the screen
CSI = "\x9b2J"  # the same with the one-character C1 CSI
BEL = "\x07"
HOSTILE = f"A{OSC52}B{CLEAR}C{CSI}D{BEL}E\x7fF\x00G\x08H\ud800I"

# C0, DEL, C1 and lone surrogates; tab and newline are checked per field
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
FORBIDDEN_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The fields that hold several lines (IBKR's questions and warnings): tab and newline allowed
MULTI_LINE = {
    "ReplyRequired.messages",
    "ServerPrompt.text",
    "WhatIf.warn",
    "WhatIf.error",
}


def texts(value: object, where: str = "") -> list[tuple[str, str]]:
    """Every (field, text) inside a parsed model: dataclass fields, tuples, mapping keys."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, enum.Enum):
        return []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = []
        for f in dataclasses.fields(value):
            found += texts(getattr(value, f.name), f"{type(value).__name__}.{f.name}")
        return found
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            found += texts(key, where) + texts(item, where)
        return found
    if isinstance(value, tuple | list):
        return [t for item in value for t in texts(item, where)]
    return []


def assert_clean(value: object) -> None:
    for field, text in texts(value):
        pattern = FORBIDDEN if field in MULTI_LINE else FORBIDDEN_ONE_LINE
        assert not pattern.search(text), f"{field} = {text!r}"


# --------------------------------------------------------------------------------------------
# The cleaner


def test_every_control_character_becomes_a_replacement_character() -> None:
    cleaned = clean_text(HOSTILE)
    assert "\x1b" not in cleaned and "\x9b" not in cleaned and "\x07" not in cleaned
    assert (
        cleaned
        == "A\ufffd]52;c;SGVsbG8=\ufffdB\ufffd[2JC\ufffd2JD\ufffdE\ufffdF\ufffdG\ufffdH\ufffdI"
    )
    cleaned.encode()  # no lone surrogate left: it can be written to a UTF-8 terminal


@pytest.mark.parametrize("code", [*range(0x20), 0x7F, *range(0x80, 0xA0)])
def test_each_c0_and_c1_control_goes(code: int) -> None:
    char = chr(code)
    expected = " " if char in "\t\n\r" else "\ufffd"
    assert clean_text(f"x{char}y") == f"x{expected}y"
    kept = {"\t": "\t", "\n": "\n", "\r": "\n"}.get(char, "\ufffd")
    assert clean_text(f"x{char}y", lines=True) == f"x{kept}y"


def test_printable_text_is_kept_as_it_is() -> None:
    for text in ("AAPL", "Société Générale", "苹果公司", "BRK B", "S&P 500 [ETF]", "\u00a0x"):
        assert clean_text(text) == text
        assert clean_text(text, lines=True) == text


def test_lines_keep_newlines_and_tabs_and_unify_line_ends() -> None:
    assert clean_text("one\r\ntwo\rthree\n\tfour", lines=True) == "one\ntwo\nthree\n\tfour"
    assert clean_text("one\r\ntwo\tthree") == "one  two three"


def test_clean_data_cleans_keys_values_and_nested_lists() -> None:
    data = {"a\x1b": ["b\x9b", {"c": "d\ne"}], "n": 1.5, "none": None}
    assert clean_data(data) == {"a\ufffd": ["b\ufffd", {"c": "d e"}], "n": 1.5, "none": None}
    assert clean_data(data, lines=True)["a\ufffd"][1] == {"c": "d\ne"}


# --------------------------------------------------------------------------------------------
# The models


def position_json(**fields: object) -> dict[str, object]:
    base = json.loads(json.dumps(BODIES["portfolio_positions_page0.json"][0]))
    base.update(fields)
    return dict(base)


def test_a_positions_symbol_description_and_name_are_clean() -> None:
    position = m.Position.from_json(
        position_json(
            ticker=f"MSFT{CLEAR}",
            contractDesc=f"MSFT{OSC52}",
            fullName=f"Microsoft{CSI}",
            name="MICROSOFT&#13;&#10;&#27;[2J&#x9b;CORP",  # a line break once decoded
            currency=f"US{BEL}D",
            listingExchange="NASDAQ\x1b]8;;http://x\x1b\\",
        )
    )
    assert position.symbol == "MSFT\ufffd[2J"
    assert position.contract_desc == "MSFT\ufffd]52;c;SGVsbG8=\ufffd"
    assert position.description == "Microsoft\ufffd2J"
    assert position.name == "MICROSOFT  [2J›CORP"  # (HTML drops &#27;, reads &#x9b; as ›)
    assert position.currency == "US\ufffdD"
    assert_clean(position)


def test_an_order_question_keeps_its_lines_and_loses_its_controls() -> None:
    result = m.parse_place_result(
        [
            {
                "id": "reply-1",
                "message": [f"Are you sure?{OSC52}\nLine two\ttabbed &#27;[2J"],
                "messageIds": [f"o163{CSI}"],
            }
        ]
    )
    assert isinstance(result, m.ReplyRequired)
    assert result.messages == (
        "Are you sure?\ufffd]52;c;SGVsbG8=\ufffd\nLine two\ttabbed &#27;[2J",
    )
    assert result.message_ids == ("o163\ufffd2J",)
    assert result.text == "Are you sure?\ufffd]52;c;SGVsbG8=\ufffd\nLine two\ttabbed [2J"
    assert m.plain_text(f"<b>x</b>{CLEAR}&#13;y&#7;") == "x\ufffd[2J\ny"
    single = m.parse_place_result({"id": "r", "message": f"one{BEL}"})
    assert isinstance(single, m.ReplyRequired) and single.messages == ("one\ufffd",)


def test_an_order_status_and_an_order_error_are_clean() -> None:
    body = json.loads(json.dumps(BODIES["order_status.json"]))
    body["order_status"] = f"Submitted{CLEAR}"
    body["symbol"] = f"AAPL{OSC52}"
    status = m.OrderStatus.from_json(body)
    assert status.status_text == "Submitted\ufffd[2J"
    assert_clean(status)
    error = m.parse_place_result({"error": f"Rejected{CSI}{BEL}"})
    assert error == m.OrderError("Rejected\ufffd2J\ufffd")
    ack = m.parse_place_result([{"order_id": "1", "order_status": f"Filled{CSI}"}])
    assert isinstance(ack, m.Accepted) and ack.orders[0].status_text == "Filled\ufffd2J"


def test_keys_that_name_accounts_and_currencies_are_clean() -> None:
    accounts = m.IserverAccounts.from_json(
        {"accounts": [f"DU1{CLEAR}"], "aliases": {f"DU1{CLEAR}": f"Mine{OSC52}"}}
    )
    assert accounts.accounts == ("DU1\ufffd[2J",)
    assert accounts.aliases == {"DU1\ufffd[2J": "Mine\ufffd]52;c;SGVsbG8=\ufffd"}
    ledger = m.parse_ledger({f"US{CSI}": {"cashbalance": 1}})
    assert list(ledger) == ["US\ufffd2J"] and ledger["US\ufffd2J"].currency == "US\ufffd2J"
    pnl = m.parse_pnl({"upnl": {f"DU1{BEL}.Core": {"dpl": 1}}})
    assert list(pnl) == ["DU1\ufffd"]


def test_an_error_message_from_a_server_body_is_clean() -> None:
    body = json.dumps({"error": f"bad{OSC52}request{CSI}x{CLEAR}"})
    err = e.error_from_response(400, "/portfolio/accounts", body, "application/json")
    assert isinstance(err, e.ApiStatusError)
    assert err.server_text == "bad\ufffd]52;c;SGVsbG8=\ufffdrequest\ufffd2Jx\ufffd[2J"
    assert not FORBIDDEN_ONE_LINE.search(str(err))
    rejected = e.error_from_response(
        400, "/iserver/account/DU1/orders", f"no{BEL}\x9b", "text/plain"
    )
    assert isinstance(rejected, e.OrderRejectedError) and "\x07" not in str(rejected)
    # a message made from anything (a key named in a parse error, say) is clean too
    assert str(e.ProtocolError("/x", f"key '{CLEAR}'")).count("\x1b") == 0


def test_a_parse_error_naming_a_hostile_key_is_clean() -> None:
    with pytest.raises(ProtocolError) as caught:
        m.AccountSummary.from_json({f"net{CLEAR}": "not an object"})
    assert not FORBIDDEN_ONE_LINE.search(str(caught.value))
    assert "net\ufffd[2J" in str(caught.value)


# --------------------------------------------------------------------------------------------
# Any text from the server, after parsing


controls = st.sampled_from(
    [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))] + ["\ud800", "\udfff"]
)
hostile_text = st.one_of(
    st.sampled_from([OSC52, CLEAR, CSI, BEL, HOSTILE, "&#27;[2J", "&#x9b;"]),
    st.text(controls | st.characters(), max_size=12),
)


def _poison(value: Any, draw: st.DrawFn) -> Any:
    """The body with some texts replaced or extended by hostile text, and some objects given
    an extra entry under a hostile key (as IBKR keys accounts, currencies and metrics)."""
    if isinstance(value, str):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            return value
        return draw(hostile_text) if choice == 1 else value + draw(hostile_text)
    if isinstance(value, list):
        return [_poison(item, draw) for item in value]
    if isinstance(value, dict):
        out = {key: _poison(item, draw) for key, item in value.items()}
        if value and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(value)))
            out[key + draw(hostile_text)] = out[key]
        return out
    return value


@st.composite
def poisoned(draw: st.DrawFn, body: Any) -> Any:
    return _poison(body, draw)


@pytest.mark.parametrize("body_name", sorted(FOR_BODY))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_server_text_is_clean_after_parsing(body_name: str, data: st.DataObject) -> None:
    body = data.draw(poisoned(BODIES[body_name]))
    for name in FOR_BODY[body_name]:
        try:
            parsed = PARSERS[name](body)
        except ProtocolError as exc:
            assert not FORBIDDEN_ONE_LINE.search(str(exc)), str(exc)
            continue
        assert_clean(parsed)
        if isinstance(parsed, m.ReplyRequired):
            assert not FORBIDDEN.search(parsed.text)
