"""A pushed frame merged field by field gives what reading it whole and merging gives.

:meth:`FrameMerger.tick_merged` merges a frame of a conid already known with
:func:`~ibtui.ibkr.models.market.merge_row`, reading only the fields the frame carries; the
reference is the frame read as a Quote (:meth:`Quote.from_json`) and merged over the known one
(:meth:`Quote.merge`). For any known quote and any frame the two give the same Quote, down to
each Decimal's digits, or both leave the frame out. The frames' JSON is read as ``json.loads``
reads it.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.models.market import Quote, merge_row
from ibtui.ibkr.stream_merge import FrameMerger, _json
from tests.unit.test_snapshot_fast_path import (
    KEYS,
    PLACEHOLDERS,
    VALUES,
    fresh_log,
    shown,
    simulator_row,
    spelled_numbers,
)

CONID = 265598
FRAMES = st.fixed_dictionaries(
    {"conid": st.just(CONID)},
    optional={key: VALUES for key in KEYS}
    | {"31": spelled_numbers() | PLACEHOLDERS, "topic": st.just(f"smd+{CONID}")},
)
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(known: Quote, frame: dict[str, Any]) -> str:
    try:
        return shown(known.merge(Quote.from_json(frame)))
    except ProtocolError:
        return "left out"


def fast(known: Quote, frame: dict[str, Any]) -> str:
    try:
        return shown(merge_row(known, frame))
    except Exception:  # the merger then asks the reference, which says why
        return "left out"


def known_quote(first: dict[str, Any]) -> Quote | None:
    try:
        return Quote.from_json(first)
    except ProtocolError:
        return None


@SETTINGS
@given(first=FRAMES, frame=FRAMES)
def test_a_frame_merges_as_the_reference_merges_it(
    first: dict[str, Any], frame: dict[str, Any]
) -> None:
    with fresh_log():
        known = known_quote(first)
        if known is None:
            return
        for _ in range(2):  # the second time the placeholders are already logged
            assert fast(known, frame) == reference(known, frame)


@SETTINGS
@given(first=FRAMES, frames=st.lists(FRAMES, min_size=1, max_size=4), subscribed=st.booleans())
def test_the_merger_hands_on_what_the_reference_path_hands_on(
    first: dict[str, Any], frames: list[dict[str, Any]], subscribed: bool
) -> None:
    """``tick_merged`` against ``tick`` then ``merge`` on a merger of their own: the same quotes,
    the same frames left out (counted as malformed alike)."""
    lines = {CONID} if subscribed else set()
    with fresh_log():
        merger, plain = FrameMerger(), FrameMerger()
        got, expected = [], []
        for frame in [first, *frames]:
            got.append(shown(merger.tick_merged(frame, lines)))
            update = plain.tick(frame)
            expected.append(
                shown(None if update is None or update.conid not in lines else plain.merge(update))
            )
        assert got == expected
        assert merger._malformed == plain._malformed


def test_a_simulator_frame_keeps_what_it_does_not_carry() -> None:
    """The usual frame: a few fields changed; the rest of the quote stays as it was."""
    merger = FrameMerger()
    merger.tick_merged(simulator_row(CONID), {CONID})
    quote = merger.tick_merged(
        {"conid": CONID, "_updated": 1730734312245, "31": "C223.10", "84": "223.09", "85": "1,400"},
        {CONID},
    )
    assert quote is not None
    assert (quote.last, quote.is_close, quote.bid, quote.ask_size) == (
        Decimal("223.10"),
        True,
        Decimal("223.09"),
        1400,
    )
    assert (quote.ask, quote.volume, quote.symbol) == (Decimal("222.92"), 41812354, "AAPL")
    assert quote.updated is not None and quote.updated.timestamp() == 1730734312.245


def test_a_frame_that_does_not_parse_is_left_out_and_the_quote_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    merger = FrameMerger()
    before = merger.tick_merged(simulator_row(CONID), {CONID})
    with caplog.at_level(logging.WARNING):
        assert merger.tick_merged({"conid": CONID, "_updated": "soon"}, {CONID}) is None
    assert "a market-data frame that does not parse" in caplog.text
    again = merger.tick_merged({"conid": CONID, "84": "1"}, {CONID})
    assert before is not None and again is not None and again.ask == before.ask


def _ok(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


TEXTS = (
    st.text(max_size=12)
    | st.builds(json.dumps, st.dictionaries(st.text(max_size=3), VALUES.filter(_ok), max_size=3))
    | st.sampled_from(['{"a":1} ', ' {"a":1}', '{"a":1}x', '{"a":', "{}", "{", '{"a":NaN}'])
    | st.sampled_from(['{"a":1}{"b":2}', '\ufeff{"a":1}', '{"a":[' * 3000, "[1]", "1", '""'])
)


@settings(max_examples=500, deadline=None)
@given(text=TEXTS)
def test_frames_json_reads_as_json_loads(text: str) -> None:
    def outcome(read: Any) -> str:
        try:
            return repr(read(text))
        except (ValueError, RecursionError):
            return "not JSON"

    assert outcome(_json) == outcome(json.loads)
