"""The WebSocket stream against a scripted socket, on a simulated clock (API.md §10)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any, cast

import pytest

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.stream import MarketStream, StreamTiming, stream_url
from tests.client.stream_fakes import (
    SESSION,
    FakeClient,
    FakeServer,
    FakeSocket,
    FakeTime,
    Recorder,
)


class Rig:
    def __init__(self, allowance: int = 100, timing: StreamTiming | None = None) -> None:
        self.time = FakeTime()
        self.server = FakeServer()
        self.client = FakeClient()
        self.events = Recorder()
        self.stream = MarketStream(
            cast(IbkrClient, self.client),
            self.events,
            access_token="abcd1234",
            line_allowance=allowance,
            fields=("31", "84", "86"),
            clock=self.time.clock,
            sleep=self.time.sleep,
            timing=timing,
            connect=self.server.connect,
        )

    def tick(self, conid: int, **values: Any) -> None:
        frame = {"topic": f"smd+{conid}", "conid": conid, "_updated": 1730734301122}
        frame.update({k.lstrip("f"): v for k, v in values.items()})
        self.server.last.push(frame)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig(allowance=2)
    task = asyncio.create_task(r.stream.run())
    await r.time.settle()
    yield r
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_url_from_base_url() -> None:
    assert stream_url("https://api.ibkr.com/v1/api/", "abcd1234") == (
        "wss://api.ibkr.com/v1/api/ws?oauth_token=abcd1234"
    )
    assert (
        stream_url("http://127.0.0.1:8123/v1/api", "t")
        == "ws://127.0.0.1:8123/v1/api/ws?oauth_token=t"
    )


async def test_connects_with_cookie_and_user_agent_and_goes_live(rig: Rig) -> None:
    socket = rig.server.last
    assert socket.url == "wss://api.ibkr.com/v1/api/ws?oauth_token=abcd1234"
    assert socket.headers["Cookie"] == f"api={SESSION}"
    assert socket.headers["User-Agent"] == "ClientPortalGW/1"
    assert rig.stream.state.status == "live"
    assert [s.status for s in rig.events.states] == ["connecting", "live"]


async def test_nothing_subscribed_before_the_greeting() -> None:
    r = Rig()
    r.server.greet = False
    r.stream.want_quotes([1, 2])
    r.stream.want_orders(True)
    task = asyncio.create_task(r.stream.run())
    await r.time.advance(3)
    assert r.server.last.sent == []
    assert r.stream.state.status == "connecting"
    r.server.last.greet()
    await r.time.settle()
    assert r.server.last.smd() == [
        'smd+1+{"fields":["31","84","86"]}',
        'smd+2+{"fields":["31","84","86"]}',
    ]
    assert "sor+{}" in r.server.last.sent
    task.cancel()


async def test_subscriptions_diffed_within_the_allowance(rig: Rig) -> None:
    socket = rig.server.last
    rig.stream.want_quotes([1, 2, 3])
    await rig.time.settle()
    assert socket.smd() == [
        'smd+1+{"fields":["31","84","86"]}',
        'smd+2+{"fields":["31","84","86"]}',
    ]
    socket.sent.clear()
    rig.stream.want_quotes([3, 1, 2])  # 3 comes into the first two, 2 goes out
    await rig.time.settle()
    assert socket.smd() == ["umd+2+{}", 'smd+3+{"fields":["31","84","86"]}']
    socket.sent.clear()
    rig.stream.want_quotes([3, 1])
    await rig.time.settle()
    assert socket.smd() == []


async def test_partial_ticks_are_merged_into_full_quotes(rig: Rig) -> None:
    rig.stream.want_quotes([1])
    await rig.time.settle()
    assert rig.stream.streamed() == frozenset()  # subscribed, nothing delivered yet
    rig.tick(1, f31="10.00", f84="9.99", f86="10.01")
    rig.tick(1, f31="10.02")
    await rig.time.settle()
    quote = rig.events.last_quote(1)
    assert (quote.last, quote.bid, quote.ask) == (
        Decimal("10.02"),
        Decimal("9.99"),
        Decimal("10.01"),
    )
    assert rig.stream.streamed() == frozenset({1})


async def test_keepalive_updates_and_malformed_frames_do_not_end_the_stream(rig: Rig) -> None:
    rig.stream.want_quotes([1])
    await rig.time.settle()
    socket = rig.server.last
    socket.push(b"\xff\xfe\x00 not utf-8")
    socket.push("not json {")
    socket.push("[1, 2]")
    socket.push({"topic": "smd+1"})  # an empty keep-alive update without conid
    socket.push({"topic": "smd+1", "conid": "x", "_updated": 1})
    socket.push(b'{"topic":"smd+1","conid":1,"_updated":1730734301122,"31":"11.5"}')  # binary
    await rig.time.settle()
    assert rig.events.last_quote(1).last == Decimal("11.5")
    assert rig.stream.state.status == "live"
    assert len(rig.server.sockets) == 1


async def test_reconnects_with_backoff_and_subscribes_everything_again(rig: Rig) -> None:
    rig.stream.want_quotes([1, 2])
    rig.stream.want_orders(True)
    rig.stream.want_pnl(True)
    await rig.time.settle()
    rig.tick(1, f31="10")
    await rig.time.settle()
    rig.server.last.push(ConnectionError("reset by peer"))
    await rig.time.settle()
    assert rig.stream.state.status == "down"
    assert "dropped" in rig.stream.state.reason
    assert rig.stream.streamed() == frozenset()  # the poller takes over
    assert len(rig.server.sockets) == 1
    await rig.time.advance(1)  # the first back-off
    assert len(rig.server.sockets) == 2
    again = rig.server.last.sent
    assert 'smd+1+{"fields":["31","84","86"]}' in again
    assert 'smd+2+{"fields":["31","84","86"]}' in again
    assert "sor+{}" in again and "spl+{}" in again
    assert rig.stream.state.status == "live"


async def test_backoff_doubles_while_it_keeps_failing(rig: Rig) -> None:
    rig.server.greet = False
    rig.server.last.push(ConnectionError("gone"))
    await rig.time.settle()
    opened = [rig.time.now]
    for _ in range(4):
        while len(rig.server.sockets) == len(opened):
            await rig.time.advance(0.5)
        opened.append(rig.time.now)
        rig.server.last.push(ConnectionError("gone"))
        await rig.time.settle()
    gaps = [b - a for a, b in itertools.pairwise(opened)]
    assert gaps == [1.0, 2.0, 4.0, 8.0]


async def test_every_smd_sent_again_before_ibkr_drops_it(rig: Rig) -> None:
    rig.stream.timing = StreamTiming(stall=10_000)
    rig.stream.want_quotes([1, 2])
    await rig.time.settle()
    socket = rig.server.last
    socket.sent.clear()
    await rig.time.advance(599)
    assert socket.smd() == []
    await rig.time.advance(2)
    assert socket.smd() == [
        'smd+1+{"fields":["31","84","86"]}',
        'smd+2+{"fields":["31","84","86"]}',
    ]
    await rig.time.advance(14 * 60)  # still refreshed, every ten minutes
    assert len(socket.smd()) == 4


async def test_heartbeats_at_least_once_a_minute(rig: Rig) -> None:
    socket = rig.server.last
    for _ in range(6):
        await rig.time.advance(10)
        socket.push({"topic": "system", "hb": 1730734301122})
    assert socket.sent.count("tic") >= 1
    assert socket.sent.count("ech+hb") >= 1


async def test_a_server_that_stops_heart_beating_is_left(rig: Rig) -> None:
    socket = rig.server.last
    await rig.time.advance(30)
    assert len(rig.server.sockets) == 1
    await rig.time.advance(6)
    assert rig.stream.state.status in ("down", "connecting", "live")
    assert any("sent nothing" in s.reason for s in rig.events.states)
    await rig.time.advance(2)
    assert len(rig.server.sockets) == 2
    assert socket.closed


async def test_nightly_reset_reconnects_with_the_new_session(rig: Rig) -> None:
    rig.client.session = "f" * 32
    rig.server.last.push({"topic": "tic", "alive": True, "id": "f" * 32, "lastAccessed": 1})
    await rig.time.advance(2)
    assert len(rig.server.sockets) == 2
    assert rig.server.last.headers["Cookie"] == "api=" + "f" * 32
    assert any("session changed" in s.reason for s in rig.events.states)


async def test_new_lst_reconnects(rig: Rig) -> None:
    class Tokens:
        lst: Any = None

    class Lst:
        generation = 2

    rig.client.tokens = Tokens()
    rig.client.tokens.lst = Lst()
    await rig.time.advance(2.5)
    assert len(rig.server.sockets) == 2  # the token it connected with was none; now #2
    await rig.time.advance(5)
    assert len(rig.server.sockets) == 2


async def test_orders_merged_by_order_id_and_refusal_lists_accounts(rig: Rig) -> None:
    rig.stream.want_orders(True)
    await rig.time.settle()
    socket = rig.server.last
    socket.push({"error": "unable to subscribe", "code": 500, "topic": "sor"})
    await rig.time.settle()
    assert rig.client.accounts_listed == 1
    assert socket.sent.count("sor+{}") == 2
    full = {
        "acct": "DU1",
        "conid": 265598,
        "orderId": 77,
        "side": "BUY",
        "status": "Submitted",
        "orderType": "Limit",
        "price": "150",
        "totalSize": 10,
    }
    socket.push({"topic": "sor", "args": [full]})
    socket.push(
        {"topic": "sor", "args": [{"orderId": 77, "status": "Filled", "filledQuantity": 10}]}
    )
    socket.push({"topic": "sor", "args": [{"orderId": 78, "acct": "DU1", "isEventTrading": "0"}]})
    await rig.time.settle()
    got = rig.events.got_orders
    assert [(o.order_id, o.status_text) for o in got] == [(77, "Submitted"), (77, "Filled")]
    assert got[-1].side.value in ("BUY", "B") and got[-1].price == Decimal("150")


async def test_pnl_rows(rig: Rig) -> None:
    rig.stream.want_pnl(True)
    await rig.time.settle()
    rig.server.last.push(
        {"topic": "spl", "args": {"DU1.Core": {"rowType": 1, "dpl": -215.4, "nl": 118930.52}}}
    )
    await rig.time.settle()
    assert rig.events.got_pnl[-1]["DU1"].daily_pnl == Decimal("-215.4")


async def test_a_failing_listener_does_not_end_the_stream(rig: Rig) -> None:
    def boom(quotes: object) -> None:
        raise RuntimeError("listener bug")

    rig.events.quotes = boom  # type: ignore[method-assign]
    rig.stream.want_quotes([1])
    await rig.time.settle()
    rig.tick(1, f31="1")
    rig.tick(1, f31="2")
    await rig.time.settle()
    assert rig.stream.state.status == "live"
    assert rig.stream.streamed() == frozenset({1})


async def test_the_access_token_stays_out_of_reasons_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = Rig()

    @contextlib.asynccontextmanager
    async def unreachable(url: str, headers: Mapping[str, str]) -> AsyncIterator[FakeSocket]:
        raise ConnectionError(f"cannot connect to {url}")
        yield FakeSocket(url, headers)  # pragma: no cover

    r.stream._connect = unreachable
    task = asyncio.create_task(r.stream.run())
    with caplog.at_level(logging.DEBUG):
        await r.time.settle()
    task.cancel()
    down = r.events.states[-1]
    assert down.status == "down" and "cannot connect to" in down.reason
    assert "abcd1234" not in down.reason and "<access token>" in down.reason
    assert "cannot connect" in caplog.text and "abcd1234" not in caplog.text


async def test_the_orders_kept_for_merging_are_bounded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ibtui.ibkr.stream_merge.MAX_ORDERS_KEPT", 3)
    rig.stream.want_orders(True)
    await rig.time.settle()
    base = {"acct": "DU1", "conid": 1, "side": "BUY", "status": "Submitted", "totalSize": 1}
    for order_id in (1, 2, 3):
        rig.server.last.push({"topic": "sor", "args": [{**base, "orderId": order_id}]})
    rig.server.last.push({"topic": "sor", "args": [{"orderId": 1, "status": "Filled"}]})
    rig.server.last.push({"topic": "sor", "args": [{**base, "orderId": 4}]})  # 2 is forgotten
    rig.server.last.push({"topic": "sor", "args": [{"orderId": 1, "filledQuantity": 1}]})
    rig.server.last.push({"topic": "sor", "args": [{"orderId": 2, "status": "Filled"}]})
    await rig.time.settle()
    got = [(o.order_id, o.status_text) for o in rig.events.got_orders]
    assert got == [
        (1, "Submitted"),
        (2, "Submitted"),
        (3, "Submitted"),
        (1, "Filled"),
        (4, "Submitted"),
        (1, "Filled"),
    ]


async def test_a_tickle_elsewhere_that_names_another_session_reconnects(rig: Rig) -> None:
    rig.stream.note_session(SESSION)
    await rig.time.advance(3)
    assert len(rig.server.sockets) == 1
    rig.client.session = "e" * 32
    rig.stream.note_session("e" * 32)
    await rig.time.advance(2.5)
    assert len(rig.server.sockets) == 2
    assert rig.server.last.headers["Cookie"] == "api=" + "e" * 32
    await rig.time.advance(5)
    assert len(rig.server.sockets) == 2


async def test_a_competing_login_or_lost_authentication_takes_the_stream_down(rig: Rig) -> None:
    rig.server.last.push({"topic": "sts", "args": {"competing": True}})
    await rig.time.settle()
    assert rig.stream.state.status == "down"
    assert rig.stream.state.reason == "another login took the brokerage session"
    await rig.time.advance(1)
    assert rig.stream.state.status == "live"  # the next greeting says it is back
    rig.server.last.push({"topic": "sts", "args": {"authenticated": False}})
    await rig.time.settle()
    assert rig.stream.state.reason == "IBKR says the session is not authenticated"


async def test_a_tickle_that_went_through_cuts_the_back_off_short(rig: Rig) -> None:
    rig.server.greet = False  # IBKR not ready: the socket opens, no greeting, again and again
    for _ in range(6):
        rig.server.last.push(ConnectionError("gone"))
        count = len(rig.server.sockets)
        while len(rig.server.sockets) == count:
            await rig.time.advance(0.5)
    rig.server.last.push(ConnectionError("gone"))
    await rig.time.settle()
    assert rig.stream.state.status == "down"  # and waiting 60 s now
    count = len(rig.server.sockets)
    await rig.time.advance(5)
    assert len(rig.server.sockets) == count
    rig.server.greet = True
    rig.stream.note_session(SESSION)
    await rig.time.settle()
    assert len(rig.server.sockets) == count + 1
    assert rig.stream.state.status == "live"


async def test_the_keep_alives_tickle_tells_the_stream_its_session(rig: Rig) -> None:
    # the client tells every /tickle answer's session to its watchers: the stream is one while
    # it runs, so a nightly reset the keep-alive sees reconnects it without a /tickle of its own
    assert rig.client.session_watchers == [rig.stream.note_session]
    rig.client.session = "f" * 32
    for watcher in rig.client.session_watchers:
        watcher("f" * 32)
    await rig.time.advance(2.5)
    assert len(rig.server.sockets) == 2
    assert rig.server.last.headers["Cookie"] == "api=" + "f" * 32


async def test_a_stopped_stream_is_no_longer_told_the_sessions() -> None:
    r = Rig(allowance=2)
    task = asyncio.create_task(r.stream.run())
    await r.time.settle()
    assert r.client.session_watchers
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert r.client.session_watchers == []
