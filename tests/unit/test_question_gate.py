"""The question gate: while an order question is open, the session's other requests wait (at
most ``limit`` seconds), the order's own task never does."""

from __future__ import annotations

import asyncio

import pytest

from ibtui.ibkr.gate import QuestionGate


async def _waiter(gate: QuestionGate, log: list[str], name: str) -> None:
    await gate.wait()
    log.append(name)


async def test_other_tasks_wait_until_the_question_is_answered() -> None:
    gate = QuestionGate(limit=30)
    log: list[str] = []
    async with gate.hold():
        assert gate.held and not gate.expired
        waiter = asyncio.create_task(_waiter(gate, log, "poller"))
        await gate.wait()  # the holder itself passes (its own replies, a reconcile)
        log.append("reply")
        await asyncio.sleep(0.02)
        assert log == ["reply"] and not waiter.done()
    await waiter
    assert log == ["reply", "poller"] and not gate.held


async def test_a_question_left_open_holds_the_session_for_at_most_the_limit() -> None:
    gate = QuestionGate(limit=0.05)
    log: list[str] = []
    async with gate.hold():
        waiter = asyncio.create_task(_waiter(gate, log, "poller"))
        await asyncio.wait_for(waiter, 2)  # released by the limit, not by the answer
        assert gate.expired and not gate.held and log == ["poller"]
        await gate.wait()
    assert not gate.expired


async def test_each_new_question_of_a_chain_gets_its_own_limit() -> None:
    now = [0.0]
    gate = QuestionGate(limit=10, clock=lambda: now[0])
    async with gate.hold():
        now[0] = 9.0
        gate.rearm()  # IBKR asked a follow-up
        now[0] = 15.0
        assert gate.held
        now[0] = 19.5
        assert gate.expired


async def test_a_second_order_on_the_session_waits_for_the_first() -> None:
    gate = QuestionGate(limit=30)
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with gate.hold():
            first_in.set()
            order.append("first")
            await release.wait()
            async with gate.hold():  # nested: part of the same hold
                order.append("first, nested")

    async def second() -> None:
        await first_in.wait()
        async with gate.hold():
            order.append("second")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_in.wait()
    await asyncio.sleep(0.02)
    assert order == ["first"]
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "first, nested", "second"]


async def test_the_holder_may_end_its_hold_early() -> None:
    gate = QuestionGate(limit=30)
    log: list[str] = []
    async with gate.hold():
        waiter = asyncio.create_task(_waiter(gate, log, "poller"))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        gate.release()  # the questions are over; a reconciliation follows
        await asyncio.wait_for(waiter, 2)
        assert not gate.held and log == ["poller"]


async def test_a_hold_starts_once_the_requests_on_the_wire_are_answered() -> None:
    gate = QuestionGate(limit=30)
    log: list[str] = []
    answered = asyncio.Event()

    async def quotes() -> None:
        async with gate.passage(exempt=False):
            log.append("quotes sent")
            await answered.wait()
            log.append("quotes answered")

    async def order() -> None:
        async with gate.hold(), gate.passage(exempt=True):
            log.append("order sent")

    on_the_wire = asyncio.create_task(quotes())
    await asyncio.sleep(0.01)
    placing = asyncio.create_task(order())
    await asyncio.sleep(0.02)
    assert log == ["quotes sent"]  # the order waits: the quotes could reach IBKR after it
    answered.set()
    await asyncio.gather(on_the_wire, placing)
    assert log == ["quotes sent", "quotes answered", "order sent"]


async def test_a_request_stuck_on_the_wire_holds_the_order_back_for_at_most_the_drain() -> None:
    gate = QuestionGate(limit=0.1, drain=0.15)
    stuck = asyncio.Event()

    async def stalled() -> None:
        async with gate.passage(exempt=False):
            await stuck.wait()

    task = asyncio.create_task(stalled())
    await asyncio.sleep(0.01)
    async with asyncio.timeout(2):
        async with gate.hold():
            assert gate.held and not gate.expired  # the question's own time starts now
    task.cancel()


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        QuestionGate(limit=0)
