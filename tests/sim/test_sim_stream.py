"""The simulator's WebSocket, /v1/api/ws (API.md §10), in-process through httpx-ws."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketUpgradeError,
    aconnect_ws,
)
from httpx_ws.transport import ASGIWebSocketTransport
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto.events import BytesMessage, TextMessage

from ibtui.sim import LIVE_ACCOUNT, ManualClock, Simulator, create_app
from ibtui.sim.views_portfolio import pnl_row

from .conftest import brokerage
from .test_sim_orders import AAPL, ACCT, SPY, confirm_all, lmt, post_orders

FAST = {"stream_push_seconds": 0.005, "stream_heartbeat_seconds": 10.0}


@asynccontextmanager
async def http_for(sim: Simulator, token: str = "tok-a") -> AsyncIterator[httpx.AsyncClient]:
    transport = ASGIWebSocketTransport(app=create_app(sim))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sim/v1/api", headers={"X-Test-Token": token}
    ) as client:
        yield client


@asynccontextmanager
async def stream(
    client: httpx.AsyncClient, token: str = "tok-a", cookie: str | None = None
) -> AsyncIterator[AsyncWebSocketSession]:
    if cookie is None:
        cookie = (await client.post("/tickle")).json()["session"]
    async with aconnect_ws(
        f"http://sim/v1/api/ws?oauth_token={token}",
        client,
        headers={"Cookie": f"api={cookie}"},
        keepalive_ping_interval_seconds=None,
    ) as ws:
        yield ws


async def frames(ws: AsyncWebSocketSession, wanted: Callable[[Any], bool], limit: int = 500) -> Any:
    """The first JSON frame ``wanted`` accepts (others are skipped)."""
    async with asyncio.timeout(5):
        for _ in range(limit):
            event = await ws.receive()
            if isinstance(event, TextMessage | BytesMessage):
                try:
                    message = json.loads(event.data)
                except ValueError:
                    continue
                if wanted(message):
                    return message
    raise AssertionError("not received")


def refusal(exc: BaseException) -> bool:
    """Refused before the upgrade: in-process the transport says 1008 (under uvicorn: 403)."""
    if isinstance(exc, BaseExceptionGroup):
        return any(refusal(e) for e in exc.exceptions)
    if isinstance(exc, WebSocketDisconnect):
        return exc.code == 1008
    return isinstance(exc, WebSocketUpgradeError)


def topic(name: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, dict) and m.get("topic") == name


@pytest.fixture
def fast_sim(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim(**FAST)


async def test_greeting_in_order_then_heartbeats(fast_sim: Simulator, clock: ManualClock) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            got = [json.loads(await ws.receive_text(timeout=2)) for _ in range(3)]
            assert [m["topic"] for m in got] == ["system", "act", "sts"]
            assert got[0]["success"] == "jqtrader1"
            assert ACCT in got[1]["args"]["accounts"]
            assert got[2]["args"]["authenticated"] is True
            clock.advance(11)
            hb = await frames(ws, lambda m: m.get("topic") == "system" and "hb" in m)
            assert isinstance(hb["hb"], int)


@pytest.mark.parametrize(
    ("token", "cookie"),
    [
        ("tok-zz", None),  # unknown access token
        ("tok-a", ""),  # no api cookie
        ("tok-a", "0" * 32),  # another session's cookie
    ],
)
async def test_upgrade_refused_without_the_right_token_and_cookie(
    fast_sim: Simulator, token: str, cookie: str | None
) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        with pytest.raises(BaseException) as refused:
            async with stream(client, token=token, cookie=cookie):
                pass
        assert refusal(refused.value)


async def test_expired_lst_refused(fast_sim: Simulator) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        session = (await client.post("/tickle")).json()["session"]
        fast_sim.faults.expire_lsts()
        with pytest.raises(BaseException) as refused:
            async with stream(client, cookie=session):
                pass
        assert refusal(refused.value)


async def test_ticks_carry_only_changed_fields_and_umd_stops_them(
    fast_sim: Simulator, clock: ManualClock
) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            await ws.send_text(f'smd+{AAPL}+{{"fields":["31","84","86","55"]}}')
            first = await frames(ws, topic(f"smd+{AAPL}"))
            assert {"31", "84", "86", "55", "conid", "_updated"} <= set(first)
            for _ in range(50):
                clock.advance(2)
                later = await frames(ws, topic(f"smd+{AAPL}"))
                if "55" not in later:
                    break
            assert "55" not in later  # the symbol did not change: not sent again
            assert later["conid"] == AAPL and "_updated" in later
            await ws.send_text(f"umd+{AAPL}+{{}}")
            await ws.send_text("tic")
            await frames(ws, topic("tic"))
            clock.advance(5)
            await ws.send_text("tic")
            await frames(ws, topic("tic"))  # drains anything sent before the umd arrived
            clock.advance(5)
            await asyncio.sleep(0.05)
            await ws.send_text("tic")
            after = []
            async with asyncio.timeout(2):
                while True:
                    m = json.loads(await ws.receive_text())
                    if m.get("topic") == "tic":
                        break
                    after.append(m)
            assert not any(m.get("topic") == f"smd+{AAPL}" for m in after)


async def test_a_streamed_instrument_has_market_data_for_orders(fast_sim: Simulator) -> None:
    """A ticket priced by the stream only (an instrument found by search, never in a snapshot)
    is not previewed with IBKR's "without having market data" warning (21/)."""
    async with http_for(fast_sim) as client:
        await brokerage(client)
        order = {"orders": [lmt(AAPL, "BUY", 1, fast_sim.market.last(AAPL, fast_sim.now()))]}
        url = f"/iserver/account/{ACCT}/orders/whatif"
        assert (await client.post(url, json=order)).json()["warn"].startswith("21/")
        async with stream(client) as ws:
            await ws.send_text(f'smd+{AAPL}+{{"fields":["31","84","86"]}}')
            await frames(ws, topic(f"smd+{AAPL}"))
            assert (await client.post(url, json=order)).json()["warn"] is None


async def test_tic_unknown_topic_and_bad_conid(fast_sim: Simulator) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        session = (await client.post("/tickle")).json()["session"]
        async with stream(client, cookie=session) as ws:
            await ws.send_text("tic")
            tic = await frames(ws, topic("tic"))
            assert tic["alive"] is True and tic["id"] == session
            await ws.send_text("xyz+{}")
            error = await frames(ws, lambda m: "error" in m)
            assert error["code"] == 1 and "Topic unknown" in error["error"]
            await ws.send_text('smd+999999999+{"fields":["31"]}')
            error = await frames(ws, lambda m: "error" in m)
            assert "999999999" in error["error"]


async def test_order_updates_and_pnl(fast_sim: Simulator, clock: ManualClock) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        await client.get("/iserver/account/orders")
        async with stream(client) as ws:
            await ws.send_text("sor+{}")
            await ws.send_text("spl+{}")
            pnl = await frames(ws, topic("spl"))
            assert f"{ACCT}.Core" in pnl["args"] and "dpl" in pnl["args"][f"{ACCT}.Core"]
            last = fast_sim.market.last(SPY, fast_sim.now())
            asked = await post_orders(client, lmt(SPY, "BUY", 1, last * 2 // 3, cOID="ws-1"))
            placed, _ = await confirm_all(client, asked)
            order_id = int(placed[0]["order_id"])
            update = await frames(ws, topic("sor"))
            (row,) = update["args"]
            assert row["orderId"] == order_id and row["side"] == "BUY"
            await client.delete(f"/iserver/account/{ACCT}/order/{order_id}")
            clock.advance(3)
            cancelled = await frames(
                ws, lambda m: m.get("topic") == "sor" and m["args"][0].get("status") == "Cancelled"
            )
            (partial,) = cancelled["args"]
            assert partial["orderId"] == order_id
            assert "side" not in partial  # only what changed, with the identifiers


async def test_quiet_subscriptions_expire_unless_sent_again(
    make_sim: Callable[..., Simulator], clock: ManualClock
) -> None:
    sim = make_sim(**FAST, stream_expiry_seconds=100.0)
    fields = '{"fields":["31","84","86","7762"]}'
    async with http_for(sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            await ws.send_text(f"smd+{AAPL}+{fields}")
            await ws.send_text(f"smd+{SPY}+{fields}")
            await frames(ws, topic(f"smd+{SPY}"))
            clock.advance(50)
            await ws.send_text(f"smd+{SPY}+{fields}")  # renewed; AAPL is not
            await frames(ws, topic(f"smd+{SPY}"))
            clock.advance(55)
            await ws.send_text("tic")
            await frames(ws, topic("tic"))
            seen: set[str] = set()
            for _ in range(8):
                clock.advance(5)
                m = await frames(ws, lambda m: str(m.get("topic", "")).startswith("smd+"))
                seen.add(m["topic"])
            assert seen == {f"smd+{SPY}"}


async def test_nightly_reset_keeps_heartbeats_but_kills_subscriptions(
    fast_sim: Simulator, clock: ManualClock
) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        old = (await client.post("/tickle")).json()["session"]
        async with stream(client, cookie=old) as ws:
            await ws.send_text(f'smd+{AAPL}+{{"fields":["31"]}}')
            await frames(ws, topic(f"smd+{AAPL}"))
            fast_sim.faults.nightly_reset()
            await ws.send_text("tic")
            tic = await frames(ws, topic("tic"))
            assert tic["id"] != old  # what tells a client to connect again
            clock.advance(11)
            hb = await frames(ws, lambda m: m.get("topic") == "system" and "hb" in m)
            assert hb


async def test_stream_faults(make_sim: Callable[..., Simulator], clock: ManualClock) -> None:
    sim = make_sim(**FAST)
    sim.faults.add_spec("wsgarbage:every=2")
    async with http_for(sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            kinds = []
            async with asyncio.timeout(3):
                for _ in range(6):
                    event = await ws.receive()
                    kinds.append(type(event).__name__)
            assert "BytesMessage" in kinds  # the non-UTF-8 one
    sim.faults.clear()
    sim.faults.add_spec("wsstall:count=1:every=4")
    async with http_for(sim) as client, stream(client) as ws:
        got = [await ws.receive_text(timeout=2) for _ in range(3)]
        assert len(got) == 3
        clock.advance(30)
        with pytest.raises(TimeoutError):
            await ws.receive_text(timeout=0.3)  # silent, not closed
    sim.faults.clear()
    sim.faults.add_spec("wsdrop:count=1:every=3")
    async with http_for(sim) as client, stream(client) as ws:
        await ws.receive_text(timeout=2)
        await ws.receive_text(timeout=2)
        with pytest.raises(WebSocketDisconnect):
            await ws.receive_text(timeout=2)


async def test_the_socket_closes_when_its_lst_is_over(fast_sim: Simulator) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            await frames(ws, topic("sts"))
            fast_sim.faults.expire_lsts()
            with pytest.raises(WebSocketDisconnect):
                await frames(ws, lambda m: False)


async def test_a_competing_login_is_pushed_and_a_logout_closes(fast_sim: Simulator) -> None:
    async with http_for(fast_sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            await frames(ws, topic("sts"))
            fast_sim.faults.competing_login()
            pushed = await frames(ws, topic("sts"))
            assert pushed["args"] == {"competing": True}
            await client.post("/logout")
            with pytest.raises(WebSocketDisconnect):
                await frames(ws, lambda m: False)


class _Collect:
    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)


COMMANDS = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda topic, target, body: f"{topic}+{target}+{body}",
        st.sampled_from(["smd", "umd", "sor", "uor", "spl", "upl", "str", "x"]),
        st.sampled_from(["265598", "-1", "0", "abc", "", "9" * 30, "1.5"]),
        st.sampled_from(["{}", "", "{", "[]", '{"fields":[1]}', '{"fields":"31"}', "[" * 5000]),
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(COMMANDS, max_size=6))
def test_no_command_ends_the_connection(sim: Simulator, commands: list[str]) -> None:
    from ibtui.sim.stream import _Connection

    session = sim.sessions.touch("tok-a", sim.now())
    sim.sessions.open_brokerage(session, sim.now())
    ws = _Collect()

    async def run() -> None:
        connection = _Connection(sim, ws, session, session.tickle_id)  # type: ignore[arg-type]
        for command in commands:
            await connection._command(command.strip())
        await connection._command("tic")

    asyncio.run(run())
    assert json.loads(ws.sent[-1])["topic"] == "tic"


async def test_a_tick_is_stamped_with_when_its_market_moved(
    fast_sim: Simulator, clock: ManualClock
) -> None:
    """``_updated`` is the start of the market's step that made the values (an exchange's
    tick time), not when the push loop got round to building the frame; the answer to a
    subscription is stamped with when it is made."""
    fields = '{"fields":["31","84","86","85","88","7059","7762"]}'
    async with http_for(fast_sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            clock.advance(0.4)
            await ws.send_text(f"smd+{AAPL}+{fields}")
            first = await frames(ws, topic(f"smd+{AAPL}"))
            assert first["_updated"] == int(clock.now() * 1000)
            clock.advance(1.7)  # the market moved on the whole second, 0.1 s before now
            later = await frames(ws, topic(f"smd+{AAPL}"))
            moved = math.floor(clock.now())
            assert later["_updated"] == moved * 1000 < int(clock.now() * 1000)


async def test_pnl_pushes_carry_the_selected_account_only(
    fast_sim: Simulator, clock: ManualClock
) -> None:
    """IBKR's partitioned P&L is the selected account's: the pushes follow an account switch
    (and do not value every account's book each second)."""
    live = LIVE_ACCOUNT
    async with http_for(fast_sim) as client:
        await brokerage(client)
        async with stream(client) as ws:
            await ws.send_text("spl+{}")
            pnl = await frames(ws, topic("spl"))
            assert set(pnl["args"]) == {f"{ACCT}.Core"}
            switched = await client.post("/iserver/account", json={"acctId": live})
            assert switched.json()["acctId"] == live
            clock.advance(fast_sim.config.stream_pnl_seconds)
            pnl = await frames(ws, lambda m: m.get("topic") == "spl" and ACCT not in str(m))
            assert set(pnl["args"]) == {f"{live}.Core"}
            value = fast_sim.broker.valuation(live, fast_sim.now())
            assert pnl["args"][f"{live}.Core"] == pnl_row(value)
