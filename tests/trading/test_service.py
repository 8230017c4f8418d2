"""OrderService against the in-process simulator: questions, double sends, unknown outcomes,
cancel, modify, the kill switch, and the journal they leave."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ibtui.ibkr.models import (
    Accepted,
    OrderRequest,
    OrderState,
    OrderType,
    ReplyRequired,
    Side,
    make_coid,
)
from ibtui.sim import LIVE_ACCOUNT, PAPER_ACCOUNT
from ibtui.trading.draft import TicketType
from ibtui.trading.journal import EVENTS, read_journal
from ibtui.trading.outcomes import CancelStatus, Question, SubmitStatus
from ibtui.trading.settings import OrderSettings
from tests.trading.conftest import AAPL, Answers, World, limit_draft


def _position(positions: list[Any], conid: int) -> Decimal:
    return next((p.quantity for p in positions if p.conid == conid), Decimal(0))


async def _live_refs(world: World) -> list[str | None]:
    await world.conn.client.live_orders(force=True)
    live = await world.conn.client.live_orders()
    return [o.order_ref for o in live.orders]


async def test_a_limit_buy_through_two_chained_questions_fills_into_positions(
    world: World,
) -> None:
    service = world.service()
    market = await world.market()
    before = _position(await world.conn.client.positions(PAPER_ACCOUNT), AAPL)
    draft = limit_draft(market, "1.04", quantity=30)  # 4 % above last: o163; > 5,000 USD: o451
    answers = Answers(True)

    outcome = await service.submit(draft, answers, market=market)

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert answers.ids == ["o163", "o451"]
    assert [q.step for q in answers.asked] == [1, 2]
    assert "Percentage constraint" in answers.asked[0].text
    assert "<" not in answers.asked[1].text and "Total Value Limit" in answers.asked[1].text
    assert answers.asked[0].order == draft.describe() and answers.asked[0].coid == outcome.coid
    assert [(a.confirmed, a.by) for a in outcome.answers] == [(True, "you"), (True, "you")]
    assert outcome.order_id is not None

    world.clock.advance(2)
    orders = await service.orders(refresh=True)
    mine = next(o for o in orders if o.order_id == outcome.order_id)
    assert mine.order_ref == outcome.coid and mine.status is OrderState.FILLED
    after = _position(await world.conn.client.positions(PAPER_ACCOUNT, invalidate=True), AAPL)
    assert after == before + 30
    trades = await service.trades()
    assert any(t.order_ref == outcome.coid and t.quantity == 30 for t in trades)


async def test_rejecting_a_question_sends_nothing(world: World) -> None:
    service = world.service()
    market = await world.market()
    refs_before = await _live_refs(world)
    answers = Answers(lambda q: q.message_id != "o451")  # yes to o163, no to o451

    outcome = await service.submit(limit_draft(market, "1.04", quantity=30), answers)

    assert outcome.status is SubmitStatus.CANCELLED
    assert outcome.message == "cancelled by you: nothing was placed"
    assert answers.ids == ["o163", "o451"] and outcome.order_id is None
    assert world.sim_orders == 0
    assert await _live_refs(world) == refs_before
    declined = [
        r
        for r in read_journal(world.journal.path)
        if r["event"] == "response" and r.get("declined")
    ]
    assert declined and declined[0]["text"] == "Order not confirmed"


async def test_question_policy_confirms_or_rejects_by_message_id(world: World) -> None:
    market = await world.market()
    draft = limit_draft(market, "1.04", quantity=30)
    policies = MappingProxyType({"o163": "confirm", "o451": "reject"})
    rejecting = world.service(OrderSettings(questions=policies))  # type: ignore[arg-type]
    never = Answers(True)

    outcome = await rejecting.submit(draft, never)

    assert outcome.status is SubmitStatus.CANCELLED
    assert "question policy for o451" in outcome.message
    assert never.asked == [] and world.sim_orders == 0
    assert [(a.question.message_id, a.confirmed, a.by) for a in outcome.answers] == [
        ("o163", True, "policy"),
        ("o451", False, "policy"),
    ]

    mixed = world.service(OrderSettings(questions=MappingProxyType({"o163": "confirm"})))
    asked = Answers(True)
    outcome = await mixed.submit(draft, asked)
    assert outcome.status is SubmitStatus.ACCEPTED
    assert asked.ids == ["o451"]  # o163 confirmed by policy, o451 asked
    assert world.sim_orders == 1


async def test_a_double_submit_sends_once(world: World) -> None:
    service = world.service()
    market = await world.market()
    draft = limit_draft(market, "0.99")  # no questions

    first, second = await asyncio.gather(
        service.submit(draft, Answers()), service.submit(draft, Answers())
    )

    assert {first.status, second.status} == {SubmitStatus.ACCEPTED, SubmitStatus.BUSY}
    assert world.sim_orders == 1


async def test_a_second_press_while_a_question_is_open_is_busy(world: World) -> None:
    service = world.service()
    market = await world.market()
    draft = limit_draft(market, "1.04", quantity=30)
    asked = asyncio.Event()
    release = asyncio.Event()

    async def slow_yes(question: Question) -> bool:
        asked.set()
        await release.wait()
        return True

    first = asyncio.create_task(service.submit(draft, slow_yes))
    await asked.wait()
    assert service.in_flight  # the ticket's send key is disabled meanwhile
    second = await service.submit(draft, slow_yes)
    assert second.status is SubmitStatus.BUSY and "not sent" in second.message
    release.set()
    assert (await first).status is SubmitStatus.ACCEPTED
    assert world.sim_orders == 1
    assert not getattr(service, "in_flight")  # noqa: B009 (no narrowing from the check above)


async def test_a_dropped_place_response_is_found_by_coid_and_not_resent(world: World) -> None:
    service = world.service()
    market = await world.market()
    rule = world.demo.sim.faults.drop_responses(count=1)

    outcome = await service.submit(limit_draft(market, "0.99"), Answers())

    assert rule.hits == 1
    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert "found by its cOID" in outcome.message and outcome.order_id is not None
    assert (await _live_refs(world)).count(outcome.coid) == 1
    assert world.sim_orders == 1
    events = [r["event"] for r in read_journal(world.journal.path) if r["coid"] == outcome.coid]
    assert events[-3:] == ["submit", "unknown_outcome", "reconciled"]


async def test_a_lost_answer_to_the_last_question_is_found_by_coid(world: World) -> None:
    service = world.service()
    market = await world.market()
    world.demo.sim.faults.drop_responses(path="/v1/api/iserver/reply/", count=1)

    outcome = await service.submit(limit_draft(market, "0.95"), Answers())  # o163, confirmed

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert [a.question.message_id for a in outcome.answers] == ["o163"]
    assert (await _live_refs(world)).count(outcome.coid) == 1 and world.sim_orders == 1


async def test_a_submission_abandoned_at_a_question_placed_nothing_and_holds_nothing(
    world: World,
) -> None:
    service = world.service()
    market = await world.market()
    draft = limit_draft(market, "0.95")
    asked = asyncio.Event()

    async def never(question: Question) -> bool:
        asked.set()
        await asyncio.Event().wait()
        return True

    task = asyncio.create_task(service.submit(draft, never))
    await asked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not service.in_flight and service.unresolved == ()
    assert world.sim_orders == 0
    again = await service.submit(draft, Answers())
    assert again.status is SubmitStatus.ACCEPTED and world.sim_orders == 1


async def test_a_submission_abandoned_on_the_wire_holds_its_draft(world: World) -> None:
    service = world.service()
    market = await world.market()
    draft = limit_draft(market, "0.99")
    on_the_wire = asyncio.Event()
    place = world.conn.client.place_order

    async def slow_place(*args: Any, **kwargs: Any) -> Any:
        on_the_wire.set()
        await asyncio.Event().wait()
        return await place(*args, **kwargs)

    world.conn.client.place_order = slow_place  # type: ignore[method-assign]
    task = asyncio.create_task(service.submit(draft, Answers()))
    await on_the_wire.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    world.conn.client.place_order = place  # type: ignore[method-assign]
    assert [u.order for u in service.unresolved] == [draft.describe()]
    again = await service.submit(draft, Answers())
    assert again.status is SubmitStatus.UNKNOWN and world.sim_orders == 0


async def test_an_unknown_outcome_blocks_the_same_draft_until_released(world: World) -> None:
    service = world.service()
    market = await world.market()
    draft = limit_draft(market, "0.95")  # 5 % below: IBKR asks o163 first
    world.demo.sim.faults.drop_responses(count=1)  # ... and that answer is lost

    first = await service.submit(draft, Answers())
    assert first.status is SubmitStatus.UNKNOWN
    assert first.message.startswith("unknown: check the orders screen")
    assert [u.coid for u in service.unresolved] == [first.coid]

    placed = 0
    place = world.conn.client.place_order

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal placed
        placed += 1
        return await place(*args, **kwargs)

    world.conn.client.place_order = counting  # type: ignore[method-assign]
    again = await service.submit(draft, Answers())
    assert again.status is SubmitStatus.UNKNOWN and placed == 0
    other = await service.submit(replace(draft, quantity="2"), Answers())
    assert other.status is SubmitStatus.ACCEPTED and placed == 1  # another draft goes

    assert await service.release(first.coid or "")
    third = await service.submit(draft, Answers())
    assert third.status is SubmitStatus.ACCEPTED and placed == 2
    assert third.coid != first.coid and world.sim_orders == 2


async def test_cancel(world: World) -> None:
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.99"), Answers())
    assert placed.order_id is not None

    outcome = await service.cancel(placed.order_id)
    assert outcome.status is CancelStatus.REQUESTED and outcome.message == "Request was submitted"
    world.clock.advance(2)  # the simulator's cancel lag
    orders = {o.order_id: o for o in await service.orders(refresh=True)}
    assert orders[placed.order_id].status is OrderState.CANCELLED

    again = await service.cancel(placed.order_id)
    assert again.status is CancelStatus.REJECTED and "doesn't exist" in again.message


async def test_an_order_cancelled_just_before_a_session_restart_still_ends_cancelled(
    world: World,
) -> None:
    # IBKR lists only the current brokerage session's finished orders: one cancelled just before
    # a competing login drops out of the list without ever having been seen cancelled there.
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.99"), Answers())
    assert placed.order_id is not None
    assert (await service.cancel(placed.order_id)).requested
    world.clock.advance(2)  # the simulator's cancel lag
    world.demo.sim.faults.competing_login()
    world.clock.advance(1)
    assert (await world.conn.keep_alive()).healthy  # taken back: a new brokerage session

    orders = {o.order_id: o for o in await service.orders(refresh=True)}

    assert orders[placed.order_id].status is OrderState.CANCELLED
    assert orders[placed.order_id].order_ref == placed.coid
    statuses = [r for r in read_journal(world.journal.path) if r["event"] == "status"]
    assert (statuses[-1]["order_id"], statuses[-1]["status"]) == (placed.order_id, "Cancelled")
    assert statuses[-1]["coid"] == placed.coid
    # and it stays in the answer (IBKR's list still leaves it out)
    world.clock.advance(6)
    assert placed.order_id in {o.order_id for o in await service.orders()}


async def test_an_order_seen_cancelled_stays_in_the_list_after_a_session_restart(
    world: World,
) -> None:
    # Seen cancelled in IBKR's list, then a competing login: the new brokerage session's list
    # leaves it out, and the blotter must not lose it.
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.99"), Answers())
    assert placed.order_id is not None
    assert (await service.cancel(placed.order_id)).requested
    world.clock.advance(2)  # the simulator's cancel lag
    seen = {o.order_id: o for o in await service.orders(refresh=True)}
    assert seen[placed.order_id].status is OrderState.CANCELLED
    world.demo.sim.faults.competing_login()
    world.clock.advance(1)
    assert (await world.conn.keep_alive()).healthy  # taken back: a new brokerage session
    world.clock.advance(6)

    orders = {o.order_id: o for o in await service.orders(refresh=True)}

    assert orders[placed.order_id].status is OrderState.CANCELLED
    assert orders[placed.order_id].order_ref == placed.coid
    statuses = [r for r in read_journal(world.journal.path) if r["event"] == "status"]
    assert [s["status"] for s in statuses if s["order_id"] == placed.order_id][-1] == "Cancelled"


async def test_modify_quantity_and_price_through_a_question(world: World) -> None:
    service = world.service()
    market = await world.market()
    placed = await service.submit(limit_draft(market, "0.99", quantity=4), Answers())
    assert placed.order_id is not None
    assert market.last is not None
    new_price = (market.last * Decimal("0.96")).quantize(Decimal("0.01"))  # 4 % away: o163
    answers = Answers(True)

    outcome = await service.modify(
        placed.order_id, quantity="6", limit_price=new_price, answer=answers
    )

    assert outcome.status is SubmitStatus.ACCEPTED, outcome.message
    assert outcome.order_id == placed.order_id and answers.ids == ["o163"]
    assert answers.asked[0].action == "modify"
    status = await world.conn.client.order_status(placed.order_id)
    assert status.limit_price == new_price and status.total_size == 6
    assert world.sim_orders == 1

    declined = await service.modify(placed.order_id, quantity="7", answer=Answers(False))
    assert declined.status is SubmitStatus.CANCELLED
    assert (await world.conn.client.order_status(placed.order_id)).total_size == 6


async def test_modify_refuses_a_finished_order(world: World) -> None:
    service = world.service()
    market = await world.market()
    filled = await service.submit(limit_draft(market, "1.01"), Answers())  # marketable
    assert filled.order_id is not None
    outcome = await service.modify(filled.order_id, quantity="2", answer=Answers())
    assert outcome.status is SubmitStatus.NOT_SENT and "Filled" in outcome.message


async def test_kill_switch_cancels_every_working_order(world: World) -> None:
    service = world.service()
    market = await world.market()
    working: list[int] = []
    drafts = [limit_draft(market, f) for f in ("0.99", "0.985", "0.98")]
    drafts.append(limit_draft(market, "1.01", side=Side.SELL))
    for draft in drafts:
        outcome = await service.submit(draft, Answers())
        assert outcome.order_id is not None
        working.append(outcome.order_id)
    filled = (await service.submit(limit_draft(market, "1.01"), Answers())).order_id
    assert filled is not None
    # an order the service never saw (placed elsewhere) is found in the fresh list
    assert market.last is not None
    elsewhere = OrderRequest(
        AAPL,
        Side.BUY,
        Decimal(1),
        OrderType.LIMIT,
        make_coid("other"),
        price=(market.last * Decimal("0.97")).quantize(Decimal("0.01")),
    )
    placed = await world.conn.client.place_order(PAPER_ACCOUNT, elsewhere)
    while isinstance(placed, ReplyRequired):
        placed = await world.conn.client.reply(placed.reply_id, confirmed=True)
    assert isinstance(placed, Accepted)
    working.append(placed.order_id)

    result = await service.cancel_all()

    assert sorted(result.requested) == sorted(working) and not result.failed
    assert filled not in result.requested
    assert result.message == "cancel requested for 5 working orders"
    world.clock.advance(2)
    orders = {o.order_id: o for o in await service.orders(refresh=True)}
    assert all(orders[oid].status is OrderState.CANCELLED for oid in working)
    assert orders[filled].status is OrderState.FILLED
    assert (await service.cancel_all()).message == "no working orders to cancel"


async def test_a_live_account_needs_the_typed_last_four(world: World) -> None:
    service = world.service(account_id=LIVE_ACCOUNT, is_paper=False)
    market = await world.market()
    draft = limit_draft(market, "0.99", account_id=LIVE_ACCOUNT, is_paper=False)
    assert service.needs_live_confirmation(draft)

    for typed in (None, "", "1234", LIVE_ACCOUNT):
        refused = await service.submit(draft, Answers(), confirmation=typed)
        assert refused.status is SubmitStatus.NOT_SENT and "LIVE" in refused.message
    assert world.sim_orders == 0

    # a draft that claims paper does not get past a service that knows the account is live
    claims_paper = replace(draft, is_paper=True)
    assert (await service.submit(claims_paper, Answers())).status is SubmitStatus.NOT_SENT

    sent = await service.submit(draft, Answers(), confirmation=LIVE_ACCOUNT[-4:])
    assert sent.status is SubmitStatus.ACCEPTED and world.sim_orders == 1


async def test_invalid_drafts_and_blocking_precautions_send_nothing(world: World) -> None:
    market = await world.market()
    service = world.service(OrderSettings(max_order_value=100.0, precaution_action="block"))
    bad = await service.submit(limit_draft(market, "0.99", quantity="ten"), Answers())
    assert bad.status is SubmitStatus.NOT_SENT
    assert [e.field for e in bad.errors] == ["quantity"]
    stop = limit_draft(market, "0.99", order_type=TicketType.STP, stop_price="1.00")
    wrong_side = await service.submit(stop, Answers(), market=market)
    assert [e.field for e in wrong_side.errors] == ["stop_price"]
    blocked = await service.submit(limit_draft(market, "0.99"), Answers(), market=market)
    assert blocked.status is SubmitStatus.NOT_SENT
    assert [p.kind for p in blocked.precautions] == ["order_value"]
    other_account = await service.submit(
        limit_draft(market, "0.99", account_id=LIVE_ACCOUNT), Answers()
    )
    assert [e.field for e in other_account.errors] == ["account"]
    assert world.sim_orders == 0


async def test_preview(world: World) -> None:
    service = world.service()
    market = await world.market()
    preview = await service.preview(limit_draft(market, "0.99", quantity=10))
    assert preview.ok and preview.currency == "USD"
    assert preview.commission is not None and preview.commission > 0
    assert preview.initial_margin_change is not None
    assert preview.equity_after is not None
    assert preview.position_after is not None
    assert world.sim_orders == 0
    (record,) = [r for r in read_journal(world.journal.path) if r["event"] == "preview"]
    assert Decimal(record["preview"]["commission"]) == preview.commission


async def test_the_journal_holds_every_step(world: World) -> None:
    service = world.service()
    market = await world.market()
    await service.preview(limit_draft(market, "0.99"))
    chained = await service.submit(limit_draft(market, "1.04", quantity=30), Answers(True))
    world.demo.sim.faults.drop_responses(count=1)
    dropped = await service.submit(limit_draft(market, "0.99"), Answers())
    resting = await service.submit(limit_draft(market, "0.98"), Answers())
    assert dropped.order_id is not None and resting.order_id is not None
    await service.modify(resting.order_id, quantity="3", answer=Answers())
    await service.cancel(dropped.order_id)
    await service.cancel_all()
    await service.orders(refresh=True)

    records = read_journal(world.journal.path)
    assert {r["event"] for r in records} == EVENTS - {
        "alert"
    }  # "alert" is the console's, not the order service's
    assert all(r["account"] == PAPER_ACCOUNT and r["ts"].endswith("Z") for r in records)
    steps = [
        (r["event"], r.get("result"))
        for r in records
        if r["coid"] == chained.coid and r["event"] != "status"
    ]
    assert steps == [
        ("intent", None),
        ("validation", "ok"),
        ("submit", None),
        ("response", "question"),
        ("question", None),
        ("answer", None),
        ("response", "question"),
        ("question", None),
        ("answer", None),
        ("response", "accepted"),
    ]
    submit = next(r for r in records if r["event"] == "submit" and r["coid"] == chained.coid)
    assert submit["order"]["cOID"] == chained.coid and submit["order"]["orderType"] == "LMT"
    statuses = [r for r in records if r["event"] == "status" and r["coid"] == chained.coid]
    assert statuses and statuses[-1]["status"] == "Filled"


async def test_an_order_is_not_sent_when_a_symlink_is_planted_at_the_journal(
    world: World, tmp_path: Path
) -> None:
    service = world.service()
    market = await world.market()
    target = tmp_path / "elsewhere"
    target.write_text("")
    world.journal.path.parent.mkdir(mode=0o700, exist_ok=True)
    world.journal.path.symlink_to(target)
    try:
        outcome = await service.submit(limit_draft(market, "0.99"), Answers())
    finally:
        world.journal.path.unlink()
    assert outcome.status is SubmitStatus.NOT_SENT
    assert outcome.message == (
        f"not sent: the journal cannot be written ({world.journal.path}: is a symbolic link, "
        "which ibtui does not follow for a private file (it could point anywhere). Fix: remove "
        f"the link (rm {world.journal.path}))"
    )
    assert target.read_text() == "" and world.sim_orders == 0
