"""The console on the in-process simulator with the order path's faults on: the ticket's order
carried out but answered 429 is told as working once found by its cOID (never rejected, never
sent twice), and the console's polling while IBKR's question is open does not withdraw it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from textual.widgets import Input

from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.faults import FaultRule
from ibtui.trading.journal import journal_path, read_journal
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.screens.ticket import TicketScreen
from tests.tui.conftest import told
from tests.tui.test_tui_demo_flow import wait_for
from tests.tui.test_tui_trading_flow import AAPL, environment, open_aapl_ticket


async def _fill_in(pilot, ticket: TicketScreen, quantity: str, price: Decimal) -> None:  # type: ignore[no-untyped-def]
    ticket.query_one("#quantity", Input).value = quantity
    ticket.query_one("#limit", Input).value = str(price)
    await pilot.pause()
    await pilot.press("enter")
    await wait_for(pilot, lambda: ticket.preview is not None)


async def test_an_order_answered_429_after_it_was_placed_shows_as_working(
    tmp_path: Path,
) -> None:
    demo, app, backend, _ = environment(tmp_path)
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        positions, ticket = await open_aapl_ticket(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        await _fill_in(pilot, ticket, "2", (last * Decimal("0.99")).quantize(Decimal("0.01")))
        rule = demo.sim.faults.post_carried(429)  # placed, then answered "too many requests"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not ticket, seconds=30)
        await wait_for(pilot, lambda: any("order" in n.message for n in notices))
        said = [n.message for n in notices if "order" in n.message]
        assert ticket.result is not None
    await backend.aclose()
    assert rule.hits == 1
    assert len(said) == 1 and said[0].startswith("working: order"), said
    assert "rejected" not in said[0]
    mine = [o for o in demo.sim.broker.orders.values() if o.account_id == PAPER_ACCOUNT]
    assert [o.order_id for o in mine] == [ticket.result.order_id]
    journal = read_journal(journal_path(tmp_path))
    events = [e["event"] for e in journal]
    assert events.count("submit") == 1
    assert "unknown_outcome" in events and "reconciled" in events
    assert "already registered" not in str(journal)  # never sent again: IBKR never refused it


async def test_the_console_keeps_still_while_ibkrs_question_is_open(tmp_path: Path) -> None:
    demo, app, backend, _ = environment(tmp_path)
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        positions, ticket = await open_aapl_ticket(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        await _fill_in(pilot, ticket, "3", (last * Decimal("0.90")).quantize(Decimal("0.01")))
        rule = demo.sim.faults.reply503()  # a request in between withdraws IBKR's question
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await asyncio.sleep(1.0)  # the trader reads the question; the console polls every 0.2 s
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is not ticket, seconds=30)
        await wait_for(pilot, lambda: any("order" in n.message for n in notices))
        said = [n.message for n in notices if "order" in n.message]
        poller = app.session.poller
        assert poller is not None
        rounds = poller.rounds
        await wait_for(pilot, lambda: poller.rounds > rounds)  # and the polling goes on
    await backend.aclose()
    assert rule.hits == 0, "the question was withdrawn by a request sent while it was open"
    assert len(said) == 1 and said[0].startswith("accepted: order"), said
    assert ticket.result is not None
    mine = [o for o in demo.sim.broker.orders.values() if o.account_id == PAPER_ACCOUNT]
    assert [o.order_id for o in mine] == [ticket.result.order_id]


async def test_an_order_the_session_refuses_reads_not_placed_and_can_be_sent_again(
    tmp_path: Path,
) -> None:
    """410 Gone on every order POST (past the client's retries): the ticket says the order was
    not placed (never "rejected": IBKR never saw it) and what to do, stays open, and sends it
    when the session is back."""
    demo, app, backend, _ = environment(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        positions, ticket = await open_aapl_ticket(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        await _fill_in(pilot, ticket, "2", (last * Decimal("0.99")).quantize(Decimal("0.01")))
        gone = demo.sim.faults.add(
            FaultRule("gone410", "/v1/api/iserver/account/", frozenset({"POST"}))
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not ticket.sending, seconds=30)
        assert ticket.message == (
            "Not placed: IBKR says this session is gone (410). Nothing was sent to the market; "
            "send it again when the session is back."
        )
        assert app.screen is ticket and ticket.can_send
        demo.sim.faults.remove(gone)  # the session is back
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is not ticket, seconds=30)
    await backend.aclose()
    assert gone.hits > 0
    mine = [o for o in demo.sim.broker.orders.values() if o.account_id == PAPER_ACCOUNT]
    assert ticket.result is not None and [o.order_id for o in mine] == [ticket.result.order_id]
    responses = [e for e in read_journal(journal_path(tmp_path)) if e["event"] == "response"]
    assert responses[0]["result"] == "not_placed"
    assert responses[0]["text"].startswith("Not placed: IBKR says this session is gone (410).")
