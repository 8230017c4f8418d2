"""Trading on the real in-process simulator through the console: the ticket, IBKR's chained
questions, a fill visible in positions, a declined question, the journal."""

from __future__ import annotations

import json
import stat
import time
from decimal import Decimal
from pathlib import Path

from textual.widgets import Input, Select

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr.models import Side
from ibtui.sim import LIVE_ACCOUNT, PAPER_ACCOUNT, ShiftedClock, SystemClock
from ibtui.sim.demo import DemoEnvironment, trading_offset
from ibtui.trading.draft import OrderDraft, TicketType
from ibtui.trading.journal import journal_path, read_journal
from ibtui.trading.settings import OrderSettings
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.screens.ticket import TicketScreen
from tests.simulated import signed_in, trading_demo
from tests.tui.test_tui_demo_flow import wait_for

AAPL = 265598


def environment(tmp_path: Path) -> tuple[DemoEnvironment, IbtuiApp, ClientBackend, str]:
    demo = trading_demo(7)
    backend, secret = signed_in(demo)
    trader = backend.trader(OrderSettings(max_order_value=1_000_000.0), tmp_path)
    app = IbtuiApp(
        backend,
        trader=trader,
        last_account=PAPER_ACCOUNT,
        poll=PollSettings(interval=0.2, positions_every=0.5),
        cursor_blink=False,
    )
    return demo, app, backend, secret


async def positions_priced(app: IbtuiApp, pilot) -> PositionsScreen:  # type: ignore[no-untyped-def]
    """The positions screen, once it has AAPL's price."""
    await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen))
    positions = app.screen
    assert isinstance(positions, PositionsScreen)
    await wait_for(pilot, lambda: AAPL in positions.quotes)
    return positions


async def never(question: object) -> bool:
    """The answer to an order's question where none is expected."""
    raise AssertionError(f"unexpected question: {question}")


async def open_aapl_ticket(app: IbtuiApp, pilot) -> tuple[PositionsScreen, TicketScreen]:  # type: ignore[no-untyped-def]
    positions = await positions_priced(app, pilot)
    positions.table.grid.move_to(f"{PAPER_ACCOUNT}:{AAPL}")
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(app.screen, TicketScreen))
    ticket = app.screen
    assert isinstance(ticket, TicketScreen) and ticket.conid == AAPL
    return positions, ticket


def held(positions: PositionsScreen) -> Decimal:
    return positions.table.views[f"{PAPER_ACCOUNT}:{AAPL}"].quantity


async def test_a_limit_buy_through_two_questions_fills_and_shows_in_positions(
    tmp_path: Path,
) -> None:
    _demo, app, backend, secret = environment(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        positions, ticket = await open_aapl_ticket(app, pilot)
        before = held(positions)
        last = positions.quotes[AAPL].last
        assert last is not None
        # 5 % above the market (IBKR asks about the price) and over 250,000 USD (it asks again)
        price = (last * Decimal("1.05")).quantize(Decimal("0.01"))
        quantity = int(Decimal(260_000) / last) + 1
        ticket.query_one("#quantity", Input).value = str(quantity)
        ticket.query_one("#limit", Input).value = str(price)
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        assert ticket.preview is not None and ticket.preview.commission
        await pilot.press("ctrl+s")

        asked = []
        for _ in range(2):
            await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen))
            question = app.screen
            assert isinstance(question, QuestionScreen)
            asked.append(question.question.message_id)
            await pilot.press("y")
            await wait_for(pilot, lambda q=question: app.screen is not q)  # type: ignore[misc]
        assert set(asked) == {"o163", "o451"}

        await wait_for(pilot, lambda: app.screen is positions)
        await wait_for(pilot, lambda: held(positions) == before + quantity, seconds=20)

    await backend.aclose()
    journal = journal_path(tmp_path)
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    text = journal.read_text()
    assert secret not in text
    events = [e["event"] for e in read_journal(journal)]
    for step in ("preview", "intent", "question", "answer", "submit", "response"):
        assert step in events, (step, events)
    for line in text.splitlines():
        json.loads(line)


async def test_rejecting_a_question_sends_nothing(tmp_path: Path) -> None:
    demo, app, backend, _ = environment(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        positions, ticket = await open_aapl_ticket(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        price = (last * Decimal("0.90")).quantize(Decimal("0.01"))  # 10 % below: o163
        ticket.query_one("#quantity", Input).value = "3"
        ticket.query_one("#limit", Input).value = str(price)
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: "Not sent" in ticket.message)
        assert app.screen is ticket
    await backend.aclose()
    orders = demo.sim.broker.orders
    assert not [o for o in orders.values() if o.account_id == PAPER_ACCOUNT]


async def test_a_dropped_answer_is_reconciled_by_coid_and_never_resent(tmp_path: Path) -> None:
    demo, app, backend, _ = environment(tmp_path)
    results = []
    async with app.run_test(size=(120, 40)) as pilot:
        positions, ticket = await open_aapl_ticket(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        price = (last * Decimal("0.99")).quantize(Decimal("0.01"))  # rests: no question
        ticket.query_one("#quantity", Input).value = "2"
        ticket.query_one("#limit", Input).value = str(price)
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        demo.sim.faults.drop_responses(path="/v1/api/iserver/account/", count=1)
        ticket.dismiss = results.append  # type: ignore[assignment,method-assign]
        await pilot.press("ctrl+s", "ctrl+s")
        await wait_for(pilot, lambda: bool(results), seconds=30)
    await backend.aclose()
    result = results[0]
    assert result is not None and result.order_id is not None
    assert "found by its cOID" in result.message
    mine = [o for o in demo.sim.broker.orders.values() if o.account_id == PAPER_ACCOUNT]
    assert len(mine) == 1 and mine[0].order_id == result.order_id
    events = [e["event"] for e in read_journal(journal_path(tmp_path))]
    assert "unknown_outcome" in events and "reconciled" in events


async def test_orders_screen_cancel_modify_and_kill_switch_on_the_simulator(
    tmp_path: Path,
) -> None:
    from ibtui.trading import OrderDraft, Side, SubmitStatus, TicketType
    from ibtui.tui.screens.modify import ModifyScreen
    from ibtui.tui.screens.orders import OrdersScreen

    demo, app, backend, _ = environment(tmp_path)
    assert app.trader is not None
    trader = app.trader

    async with app.run_test(size=(120, 40)) as pilot:
        positions = await positions_priced(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        ids = []
        for pct in ("0.99", "0.985", "0.98"):  # three resting buys, no questions
            draft = OrderDraft(
                PAPER_ACCOUNT,
                AAPL,
                "AAPL",
                Side.BUY,
                Decimal(1),
                TicketType.LMT,
                limit_price=(last * Decimal(pct)).quantize(Decimal("0.01")),
            )
            result = await trader.submit(draft, never)
            assert result.status is SubmitStatus.ACCEPTED and result.order_id is not None
            ids.append(result.order_id)

        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OrdersScreen))
        orders = app.screen
        assert isinstance(orders, OrdersScreen)
        await wait_for(pilot, lambda: set(ids) <= set(orders.orders), seconds=20)

        def working() -> set[int]:
            return {oid for oid, o in demo.sim.broker.orders.items() if o.working}

        # modify the first: quantity 1 -> 3
        table = orders.query_one("#orders-table")
        table.move_cursor(row=table.get_row_index(str(ids[0])))  # type: ignore[attr-defined]
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ModifyScreen))
        app.screen.query_one("#modify-quantity", Input).value = "3"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen))  # confirm
        await pilot.press("y")
        await wait_for(
            pilot, lambda: demo.sim.broker.orders[ids[0]].ticket.quantity == 3, seconds=20
        )

        # cancel the second
        table.move_cursor(row=table.get_row_index(str(ids[1])))  # type: ignore[attr-defined]
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: ids[1] not in working(), seconds=20)
        assert ids[0] in working() and ids[2] in working()

        # the kill switch: ctrl+k, K, then confirm
        await pilot.press("ctrl+k", "K")
        await wait_for(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not working(), seconds=20)
    await backend.aclose()
    events = [e["event"] for e in read_journal(journal_path(tmp_path))]
    for step in ("modify_request", "modify_response", "cancel_request", "kill_switch"):
        assert step in events, (step, events)


async def _sell_at_market(backend: ClientBackend, quantity: Decimal, coid: str) -> None:
    """Sell AAPL at the market straight through the client (questions answered yes)."""
    from ibtui.ibkr.models import OrderRequest, OrderType, Side

    client = await backend.client()
    order = OrderRequest(AAPL, Side.SELL, quantity, OrderType.MARKET, coid)
    result = await client.place_order(PAPER_ACCOUNT, order)
    while getattr(result, "reply_id", None):
        result = await client.reply(result.reply_id, confirmed=True)  # type: ignore[attr-defined]
    await client.positions(PAPER_ACCOUNT, invalidate=True)  # IBKR's cached rows, rebuilt


async def test_a_position_closed_today_keeps_its_realized_and_daily_pnl_in_the_totals(
    tmp_path: Path,
) -> None:
    demo, app, backend, _ = environment(tmp_path)
    key = f"{PAPER_ACCOUNT}:{AAPL}"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        assert isinstance(positions, PositionsScreen)
        table = positions.table
        await wait_for(pilot, lambda: AAPL in positions.quotes and key in table.views)
        count, start = table.totals().count, held(positions)
        assert start > 10
        await _sell_at_market(backend, Decimal(10), "close-1")
        await wait_for(pilot, lambda: held(positions) == start - 10)
        partly = table.views[key].realized_pnl
        assert partly and table.totals().realized_pnl == partly
        await _sell_at_market(backend, start - 10, "close-2")
        await wait_for(pilot, lambda: held(positions) == 0, seconds=20)

        # The row stays, dimmed, with no quantity; its realized P&L stays in the totals.
        closed = table.views[key]
        assert closed.realized_pnl is not None and closed.realized_pnl != partly
        assert key in table.visible_keys
        assert table.cell(key, "quantity").text == "0"
        assert table.totals().realized_pnl == closed.realized_pnl
        assert table.totals().count == count - 1  # held positions; the closed row adds its day
        # Its day's P&L is IBKR's for the day's trades (not 0 × the change).
        value = demo.sim.broker.position_value(PAPER_ACCOUNT, AAPL, demo.sim.clock.now())
        assert value is not None and value.closed
        expected = value.daily.quantize(Decimal("0.01"))
        await wait_for(pilot, lambda: table.views[key].daily_pnl == expected)
        others = sum((v.daily_pnl or Decimal(0)) for k, v in table.views.items() if k != key)
        assert table.totals().daily_pnl == others + expected
        assert "Rlzd P&L" in str(table._totals_line.render())
        # Nothing is left to close.
        table.grid.move_to(key)
        await pilot.press("x")
        await pilot.pause()
        assert app.screen is positions
    await backend.aclose()


async def test_a_ticket_for_an_instrument_not_held_gets_live_prices(tmp_path: Path) -> None:
    """A ticket asked for from search (SAP, not held) is quoted while it is open; a far limit is
    never "Ready" as if checked, before or after its first price."""
    from ibtui.adapters.market import ClientMarketData
    from ibtui.tui.market import TicketRequested

    sap = 40565311
    _demo, app, backend, _ = environment(tmp_path)
    app.market = ClientMarketData(backend.client)
    async with app.run_test(size=(120, 40)) as pilot:
        positions = await positions_priced(app, pilot)
        assert sap not in app.watchlist.polled()
        app.post_message(TicketRequested(sap, "SAP", "SAP SE", "BUY"))
        await wait_for(pilot, lambda: isinstance(app.screen, TicketScreen))
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.quote is None
        await wait_for(pilot, lambda: ticket.is_mounted)
        assert sap in app.watchlist.polled()  # the poller quotes it while the ticket is open
        ticket.query_one("#quantity", Input).value = "5"
        ticket.query_one("#limit", Input).value = "1000"
        await pilot.pause()
        if ticket.quote is None:  # no price yet: the distance could not be checked, and says so
            assert [p.kind for p in ticket.check.precautions] == ["price_unchecked"]
        await wait_for(pilot, lambda: ticket.quote is not None, seconds=10)
        assert ticket.quote is not None and ticket.quote.last is not None
        assert "waiting for market data" not in str(ticket.query_one("#market").render())
        await wait_for(
            pilot, lambda: "price_deviation" in [p.kind for p in ticket.check.precautions]
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        await pilot.pause()
        text = str(ticket.query_one("#ticket-message").render())
        assert not text.startswith("Ready:") and "despite the warning above" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is positions)
        assert sap not in app.watchlist.polled()
    await backend.aclose()


async def test_the_preview_shows_account_figures_in_the_accounts_currency(tmp_path: Path) -> None:
    """A EUR order on a USD account: cost and commission in EUR, margin and equity in USD (the
    account's figures); a USD order on the EUR account the other way round."""
    _demo, _app, backend, _secret = environment(tmp_path)
    trader = backend.trader(OrderSettings(max_order_value=1_000_000.0), tmp_path)
    await backend.accounts()
    cases = (
        (PAPER_ACCOUNT, 40565311, "SAP", "EUR", "USD"),
        (LIVE_ACCOUNT, AAPL, "AAPL", "USD", "EUR"),
    )
    for account, conid, symbol, order_ccy, account_ccy in cases:
        draft = OrderDraft(
            account, conid, symbol, Side.BUY, "10", TicketType.LMT, "100", currency=order_ccy
        )
        preview = await trader.preview(draft)
        assert preview.error is None
        assert preview.amount is not None and preview.amount.endswith(f" {order_ccy}")
        assert preview.commission is not None and preview.commission.endswith(f" {order_ccy}")
        for figure in (
            preview.equity_after,
            preview.initial_margin_change,
            preview.maintenance_margin_change,
        ):
            assert figure is not None and figure.endswith(f" {account_ccy}"), (symbol, figure)
    await backend.aclose()


async def test_an_order_that_fills_at_once_is_notified_with_the_bell_on_a_replayed_clock(
    tmp_path: Path,
) -> None:
    """The demo replays a past trading day: its orders are stamped before the console started.
    An order sent from the console that fills at once is still news: a notice and the bell."""
    offset = trading_offset(time.time()) or -7 * 86400.0  # a trading day in the past
    demo = trading_demo(7, ShiftedClock(SystemClock(), offset))
    backend, _secret = signed_in(demo)
    app = IbtuiApp(
        backend,
        trader=backend.trader(OrderSettings(max_order_value=1_000_000.0), tmp_path),
        last_account=PAPER_ACCOUNT,
        poll=PollSettings(interval=0.2, positions_every=0.5),
        cursor_blink=False,
    )
    app.order_watch_seconds = 0.1
    notices: list[str] = []
    bells: list[None] = []
    app.notify = lambda message, **kw: notices.append(str(message))  # type: ignore[method-assign]
    app.bell = lambda: bells.append(None)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        _positions, ticket = await open_aapl_ticket(app, pilot)
        ticket.query_one("#quantity", Input).value = "1"
        ticket.query_one("#kind", Select).value = TicketType.MKT
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(n.startswith("Filled") for n in notices), seconds=10)
        assert bells
    await backend.aclose()


async def test_the_preview_shows_ibkrs_margin_refusal_and_the_order_cannot_be_sent(
    tmp_path: Path,
) -> None:
    _demo, app, backend, _ = environment(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        _positions, ticket = await open_aapl_ticket(app, pilot)
        await pilot.press("ctrl+o")  # SELL
        ticket.query_one("#quantity", Input).value = "99999999"
        ticket.query_one("#kind", Select).value = TicketType.MKT
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        shown = str(ticket.query_one("#preview").render())
        assert shown.startswith("IBKR would reject this order: YOUR ORDER IS NOT ACCEPTED")
        assert not ticket.can_send
    await backend.aclose()


async def test_a_working_order_the_server_drops_is_told(tmp_path: Path) -> None:
    """A simulator restart forgets the working orders: the console says the order is gone."""
    from ibtui.trading import SubmitStatus

    demo, app, backend, _ = environment(tmp_path)
    app.order_watch_seconds = 0.1
    notices: list[str] = []
    app.notify = lambda message, **kw: notices.append(str(message))  # type: ignore[method-assign]
    assert app.trader is not None
    trader = app.trader

    async with app.run_test(size=(120, 40)) as pilot:
        positions = await positions_priced(app, pilot)
        last = positions.quotes[AAPL].last
        assert last is not None
        below = (last * Decimal("0.98")).quantize(Decimal("0.01"))
        draft = OrderDraft(PAPER_ACCOUNT, AAPL, "AAPL", Side.BUY, "1", TicketType.LMT, below)
        result = await trader.submit(draft, never)
        assert result.status is SubmitStatus.ACCEPTED and result.order_id is not None
        oid = result.order_id
        await wait_for(
            pilot, lambda: any(o.order_id == oid for o in app.session.working_orders), 20
        )
        del demo.sim.broker.orders[oid]  # what a restart of the simulator does to it
        await wait_for(pilot, lambda: any(f"Order {oid}" in n for n in notices), seconds=30)
        (notice,) = [n for n in notices if f"Order {oid}" in n]
        assert "no longer lists it" in notice and "BUY 1 AAPL" in notice
        await pilot.pause(1)
        assert len([n for n in notices if f"Order {oid}" in n]) == 1  # told once
    await backend.aclose()
