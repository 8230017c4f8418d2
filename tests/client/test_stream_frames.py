"""No frame from the server ends the stream's reader: whatever IBKR (or something pretending
to be it) sends, as text or bytes, is read, used or left out (API.md §10.2: binary frames,
bytes that are not UTF-8)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, cast

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.stream import MarketStream, _Line, _Reconnect, _Socket
from tests.client.stream_fakes import SESSION, FakeClient, FakeServer, FakeSocket, Recorder

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["1", "C1.5", "H2", "1,300", "41.8M", "", "Undefined", ".", "-"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(
    [
        "conid",
        "_updated",
        "31",
        "84",
        "86",
        "55",
        "6509",
        "7762",
        "args",
        "error",
        "id",
        "hb",
        "success",
        "orderId",
        "side",
        "status",
        "authenticated",
        "competing",
        "acct",
        "code",
    ]
)
TOPICS = st.sampled_from(["smd+1", "smd+2", "sor", "spl", "sts", "system", "tic", "act", "blt", ""])
OBJECTS = st.builds(
    lambda topic, rest: {"topic": topic, **rest},
    TOPICS | JSON,
    st.dictionaries(KEYS, JSON, max_size=6),
)
ORDER_ROWS = st.builds(
    lambda rows: {"topic": "sor", "args": rows},
    st.lists(st.dictionaries(KEYS, JSON | st.integers(1, 3), max_size=6), max_size=3),
)
FRAMES = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40),
    JSON.map(lambda v: json.dumps(v, allow_nan=True)),
    OBJECTS.map(json.dumps),
    OBJECTS.map(lambda o: json.dumps(o).encode()),
    ORDER_ROWS.map(json.dumps),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAMES, max_size=8))
@example(
    ['{"topic":"sor","args":[{"orderId":Infinity}]}', '{"topic":"sor","args":[{"orderId":NaN}]}']
)
@example(['{"topic":"smd+1","conid":1,"_updated":1e400,"31":"1e400"}', "[" * 10000])
def test_no_frame_ends_the_reader(frames: list[str | bytes]) -> None:
    async def read() -> None:
        stream = MarketStream(
            cast(IbkrClient, FakeClient()),
            Recorder(),
            access_token="t",
            connect=FakeServer().connect,
        )
        socket = _Socket(FakeSocket("u", {}), SESSION, None)
        socket.lines = {1: _Line(sent=0.0, refreshed=0.0), 2: _Line(sent=0.0, refreshed=0.0)}
        socket.orders = True
        for frame in frames:
            message = stream._merger.decode(frame)
            if message is None:
                continue
            # sts unauthenticated or competing, another session's tic: a reconnect, asked for
            with contextlib.suppress(_Reconnect):
                await stream._handle(socket, message)

    asyncio.run(read())
