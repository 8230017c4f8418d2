"""The order service against the real IBKR's misbehaviour on the order path (the simulator's
named faults): a question withdrawn by another request, an order POST carried out but answered
429 or 5xx, IBKR's duplicate-cOID refusal, a reply id gone. Each order is accounted for exactly
once: one order at the simulator (or none), the journal says what happened, and the outcome says
working (or filled), never rejected, for an order that works."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ibtui.ibkr.connect import Recovery, connect
from ibtui.ibkr.gate import QuestionGate
from ibtui.ibkr.pacing import EndpointRule, Pacer, RateLimit
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.faults import FaultRule
from ibtui.trading.journal import read_journal
from ibtui.trading.outcomes import Question, SubmitStatus
from ibtui.trading.service import OrderService
from ibtui.trading.settings import OrderSettings
from tests.trading.conftest import AAPL, Answers, World, limit_draft


def _events(world: World, coid: str | None) -> list[str]:
    return [r["event"] for r in read_journal(world.journal.path) if r["coid"] == coid]


def _mine(world: World) -> list[Any]:
    return [o for o in world.demo.sim.broker.orders.values() if o.account_id == PAPER_ACCOUNT]


@contextlib.asynccontextmanager
async def polling(world: World, log: list[str]) -> AsyncIterator[None]:
    """What the console does meanwhile: keep-alive and quotes, every few milliseconds."""

    async def poll() -> None:
        while True:
            await world.conn.client.tickle()
            await world.conn.client.snapshot([AAPL])
            log.append("polled")
            await asyncio.sleep(0.005)

    task = asyncio.create_task(poll())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- 7: order questions and the requests around them ---------------------------------------------


async def test_the_console_polling_during_a_question_does_not_withdraw_it(world: World) -> None:
    rule = world.demo.sim.faults.reply503()  # IBKR: a request in between withdraws the question
    service = world.service()
    market = await world.market()
    log: list[str] = []

    async def slow_yes(question: Question) -> bool:
        log.append("asked")
        await asyncio.sleep(0.1)  # the trader reads it; the poller would have gone 10 times
        log.append("answered")
        return True

    async with polling(world, log):
        await asyncio.sleep(0.02)
        outcome = await service.submit(limit_draft(market, "0.95"), slow_yes)  # o163
        await asyncio.sleep(0.02)

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith("accepted: order")
    assert len(_mine(world)) == 1 and rule.hits == 0
    asked = log.index("asked")
    assert "polled" in log[:asked] and "polled" in log[asked:]  # paused, then resumed
    assert "polled" not in log[asked : log.index("answered")]


async def test_a_question_left_open_past_the_limit_expires_and_places_nothing(
    world: World,
) -> None:
    world.demo.sim.faults.reply503()
    world.conn.client.question_gate = QuestionGate(limit=0.05)
    service = world.service()
    market = await world.market()
    log: list[str] = []

    async def away(question: Question) -> bool:
        log.append("asked")
        await asyncio.sleep(0.3)  # the trader went for coffee
        log.append("answered")
        return True

    async with polling(world, log):
        outcome = await service.submit(limit_draft(market, "0.95"), away)

    assert outcome.status is SubmitStatus.CANCELLED, outcome.message
    assert "expired" in outcome.message and "nothing was placed" in outcome.message
    assert "polled" in log[log.index("asked") : log.index("answered")]  # not starved
    assert _mine(world) == []
    assert "expired" in str(read_journal(world.journal.path))


async def test_an_order_sent_while_the_session_is_taken_back_waits_for_it_then_goes(
    world: World,
) -> None:
    # The keep-alive took the brokerage session back from a competing login and, holding the
    # brokerage gate, polled the status of the new session; an order sent meanwhile held the
    # question gate and waited for the brokerage gate; the status polls waited for the question
    # gate. Both stood still until the question's hold ran out (30 s): no quotes, no order.
    world.conn.client.question_gate = QuestionGate(clock=lambda: 0.0)  # its hold never runs out
    service = world.service()
    market = await world.market()
    world.demo.sim.faults.add_spec("nobridge:count=2")  # the new session warms up: status polls
    world.demo.sim.faults.competing_login()

    taking_back = asyncio.create_task(world.conn.keep_alive())
    while not world.conn.client.gate.busy:  # noqa: ASYNC110 (the gate has no event to await)
        await asyncio.sleep(0)
    sending = asyncio.create_task(service.submit(limit_draft(market, "0.95"), Answers()))
    kept, outcome = await asyncio.wait_for(asyncio.gather(taking_back, sending), 10.0)

    assert kept.recovery is Recovery.RECLAIMED and kept.healthy
    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert len(_mine(world)) == 1


async def test_a_request_waiting_for_its_pace_neither_holds_up_an_order_nor_cuts_in(
    world: World,
) -> None:
    # An order's hold waited for every request past the question gate, one still waiting in the
    # pacer for its turn too (the order list: one per 5 s): the order and every quote stood
    # still for up to 5 s. Such a request now meets the gate when its turn comes: the order
    # goes at once, and the request waits for the question's answer (in between, it would
    # withdraw the question), without keeping its turn: the reply needs the one global turn.
    rule = world.demo.sim.faults.reply503()  # IBKR: a request in between withdraws the question
    world.conn.client.question_gate = QuestionGate(drain=1000.0, clock=lambda: 0.0)
    now = [0.0]
    turn = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the pacer's waits end when the test says
        await turn.wait()
        now[0] += seconds

    orders_list = EndpointRule(
        "orders", "/iserver/account/orders", RateLimit(1, 5.0), methods=frozenset({"GET"})
    )
    service = world.service()
    market = await world.market()
    world.conn.client.pacer = Pacer(
        global_limit=RateLimit(1, 5.0), rules=(orders_list,), clock=lambda: now[0], sleep=sleep
    )
    await world.conn.client.live_orders()  # the list's turn is taken
    listing = asyncio.create_task(world.conn.client.live_orders())  # waits 5 s for its turn
    for _ in range(20):
        await asyncio.sleep(0)
    now[0] = 10.0  # the order's turn has come; the list's is still being waited for
    log: list[str] = []

    async def yes_once_its_turn_came(question: Question) -> bool:
        turn.set()  # the list's turn comes while the question is open
        for _ in range(20):
            await asyncio.sleep(0)
        log.append("listed" if listing.done() else "answered")
        return True

    outcome = await asyncio.wait_for(
        service.submit(limit_draft(market, "0.95"), yes_once_its_turn_came), 10.0
    )
    await asyncio.wait_for(listing, 10.0)

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert log == ["answered"] and rule.hits == 0  # the list went after the answer
    assert len(_mine(world)) == 1


async def test_a_reply_answered_503_is_resolved_by_coid_not_resent(world: World) -> None:
    # the reply is carried out (the order placed), but its answer is a 503
    world.demo.sim.faults.post_carried(503, path="/v1/api/iserver/reply/")
    service = world.service()
    market = await world.market()

    outcome = await service.submit(limit_draft(market, "0.95"), Answers())

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith("working: order") and "found by its cOID" in outcome.message
    assert [o.order_id for o in _mine(world)] == [outcome.order_id]
    assert _events(world, outcome.coid)[-2:] == ["unknown_outcome", "reconciled"]


async def test_a_reply_id_not_found_is_unknown_not_rejected(world: World) -> None:
    service = world.service()
    market = await world.market()

    async def too_late(question: Question) -> bool:
        world.clock.advance(61)  # IBKR's reply id is gone by the time the answer comes
        return True

    outcome = await service.submit(limit_draft(market, "0.95"), too_late)

    assert outcome.status is SubmitStatus.UNKNOWN, outcome.message
    assert "reply id not found" in outcome.message
    assert _mine(world) == []  # and nothing was sent again
    events = _events(world, outcome.coid)
    assert events.count("submit") == 1 and events[-2:] == ["unknown_outcome", "reconciled"]


# --- 8: a carried-out order POST answered 429 or 5xx ---------------------------------------------


async def test_an_order_carried_out_then_answered_429_is_found_working(world: World) -> None:
    rule = world.demo.sim.faults.post_carried(429)
    service = world.service()
    market = await world.market()

    outcome = await service.submit(limit_draft(market, "0.99"), Answers())  # rests, no question

    assert rule.hits == 1
    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith("working: order") and "429" in outcome.message
    assert [o.order_id for o in _mine(world)] == [outcome.order_id]
    assert _events(world, outcome.coid)[-3:] == ["submit", "unknown_outcome", "reconciled"]


async def test_an_order_carried_out_then_answered_500_is_found_working(world: World) -> None:
    world.demo.sim.faults.post_carried(500)
    service = world.service()
    market = await world.market()

    outcome = await service.submit(limit_draft(market, "0.99"), Answers())

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith("working: order") and "500" in outcome.message
    assert [o.order_id for o in _mine(world)] == [outcome.order_id]


async def test_a_marketable_order_found_after_a_failure_says_filled(world: World) -> None:
    world.demo.sim.faults.post_carried(500)
    service = world.service()
    market = await world.market()

    outcome = await service.submit(limit_draft(market, "1.01"), Answers())  # marketable

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith("filled: order"), outcome.message


class AnswerLostOnce(httpx.AsyncBaseTransport):
    """The first order POST is carried out, but its answer is replaced by a 401: the client's
    signer renews the token and sends it again (as it does after any 401), and IBKR answers the
    second with its duplicate-cOID refusal."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.order_posts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith(f"/{PAPER_ACCOUNT}/orders"):
            self.order_posts += 1
            if self.order_posts == 1:
                await answer.aread()
                return httpx.Response(401, json={"error": "Invalid signature"})
        return answer


async def test_a_duplicate_coid_refusal_is_unknown_and_found_working(world: World) -> None:
    wire = AnswerLostOnce(world.demo.transport)
    demo = world.demo
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(demo.base_url, demo.consumer, access, transport=wire, pacer=unpaced) as conn:
        await conn.start()
        await conn.client.snapshot([AAPL])
        service = OrderService(
            conn.client, PAPER_ACCOUNT, world.journal, OrderSettings(), reconcile_delays=(0.0,)
        )
        market = await world.market()

        outcome = await service.submit(limit_draft(market, "0.99"), Answers())

    assert wire.order_posts == 2
    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith("working: order") and "already registered" in outcome.message
    assert [o.order_id for o in _mine(world)] == [outcome.order_id]
    journal = [r for r in read_journal(world.journal.path) if r["coid"] == outcome.coid]
    assert [r["event"] for r in journal][-3:] == ["response", "unknown_outcome", "reconciled"]


async def test_a_change_carried_out_then_answered_500_is_found_in_effect(world: World) -> None:
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.99", quantity=4), Answers())
    assert placed.order_id is not None
    world.demo.sim.faults.post_carried(500)

    outcome = await service.modify(placed.order_id, quantity="6", answer=Answers())

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.message.startswith(f"modified: order {placed.order_id} working")
    assert (await world.conn.client.order_status(placed.order_id)).total_size == 6
    assert len(_mine(world)) == 1
    assert _events(world, placed.coid)[-2:] == ["unknown_outcome", "reconciled"]


async def test_a_change_answered_429_is_not_sent_again(world: World) -> None:
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.99", quantity=4), Answers())
    assert placed.order_id is not None
    rule = world.demo.sim.faults.post_carried(429)
    assert market.last is not None
    price = (market.last * Decimal("0.985")).quantize(Decimal("0.01"))

    outcome = await service.modify(placed.order_id, limit_price=price, answer=Answers())

    assert rule.hits == 1
    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert "found in effect" in outcome.message and "429" in outcome.message
    assert (await world.conn.client.order_status(placed.order_id)).limit_price == price
    assert _events(world, placed.coid)[-2:] == ["unknown_outcome", "reconciled"]


# --- refused before IBKR took it: not placed, never "rejected" -----------------------------------

_ORDER_POSTS = "/v1/api/iserver/account/"


def _session_gone(world: World) -> None:
    """Every order POST answered 410 Gone (the client's retries and new token included)."""
    world.demo.sim.faults.add(FaultRule("gone410", _ORDER_POSTS, frozenset({"POST"})))


def _no_bridge(world: World) -> None:
    """The brokerage session ends and each new one answers "no bridge" for a long while."""
    world.demo.sim.faults.misbehave("nobridge", count=50)
    world.demo.sim.faults.nightly_reset()


@pytest.mark.parametrize(
    ("fault", "told"),
    [
        (
            _session_gone,
            "Not placed: IBKR says this session is gone (410). Nothing was sent to the market; "
            "send it again when the session is back.",
        ),
        (
            lambda world: world.demo.sim.faults.competing_login(),
            "Not placed: another IBKR login (TWS, IBKR Mobile, Client Portal or another ibtui) "
            "holds the brokerage session. Nothing was sent to the market; take the session back "
            "from the console or log out of the other platform, then send it again.",
        ),
        (
            _no_bridge,
            "Not placed: IBKR has no brokerage session open (no bridge). Nothing was sent to the "
            "market; ibtui reopens it: send it again in a moment (if this persists, another IBKR "
            "login may hold the session).",
        ),
    ],
    ids=["gone410", "competing-login", "nobridge"],
)
async def test_an_order_refused_before_it_was_placed_says_not_placed_and_what_to_do(
    world: World, fault: Callable[[World], None], told: str
) -> None:
    service = world.service()
    market = await world.market()
    fault(world)

    outcome = await service.submit(limit_draft(market, "0.99"), Answers(True))

    assert (outcome.status, outcome.message) == (SubmitStatus.NOT_PLACED, told)
    assert "reject" not in outcome.message.lower()
    assert _mine(world) == []  # nothing at IBKR
    journal = read_journal(world.journal.path)
    (line,) = [r for r in journal if r["coid"] == outcome.coid and r["event"] == "response"]
    assert (line["result"], line["text"]) == ("not_placed", told)  # the journal says the same
    assert line["error"]  # and keeps the client's error as it was


async def test_an_order_ibkr_refuses_is_still_rejected(world: World) -> None:
    service = world.service()
    market = await world.market()
    outcome = await service.submit(limit_draft(market, "0.99", quantity=900_000), Answers(True))
    assert outcome.status is SubmitStatus.REJECTED, outcome.message
    assert outcome.message.startswith("rejected by IBKR: ")
    assert _mine(world) == []


async def test_a_change_the_session_refuses_says_not_changed(world: World) -> None:
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.95", quantity=2), Answers(True))
    assert placed.order_id is not None
    _session_gone(world)

    outcome = await service.modify(placed.order_id, quantity="3", answer=Answers(True))

    told = (
        f"Not changed: IBKR says this session is gone (410). Order {placed.order_id} stays as it "
        "was; make the change again when the session is back."
    )
    assert (outcome.status, outcome.message) == (SubmitStatus.NOT_PLACED, told)
    (order,) = _mine(world)
    assert order.ticket.quantity == 2  # as it was
    line = [r for r in read_journal(world.journal.path) if r["event"] == "modify_response"][-1]
    assert (line["result"], line["text"]) == ("not_placed", told)
