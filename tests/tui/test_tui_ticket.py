"""The order ticket: inline validation, preview before send, one send per order, LIVE confirmation,
unknown outcomes, and IBKR's questions."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from textual.app import App, ComposeResult
from textual.widgets import Button, Input, Select, Static

from ibtui.tui.screens.ticket import TicketScreen, parse_ticket
from ibtui.tui.trading import (
    OrderKind,
    OrderSide,
    PrecautionView,
    QuestionView,
    SubmitResult,
    SubmitStatus,
    TimeInForce,
)
from ibtui.tui.viewmodels import AccountView, QuoteView
from tests.tui.fake_trader import FakeTrader

PAPER = AccountView("DU4820311", account_type="DEMO", base_currency="USD", paper=True)
LIVE = AccountView("U7654321", account_type="INDIVIDUAL", base_currency="EUR", paper=False)
AAPL = 265598
QUOTE = QuoteView(AAPL, Decimal("215.02"), bid=Decimal("215.01"), ask=Decimal("215.03"))


class TicketApp(App[None]):
    def __init__(self, trader: FakeTrader, account: AccountView = PAPER, **kw: object) -> None:
        super().__init__()
        self.trader = trader
        self.account = account
        self.kw = kw
        self.results: list[SubmitResult | None] = []

    def compose(self) -> ComposeResult:
        yield Static("positions")

    def on_mount(self) -> None:
        ticket = TicketScreen(
            self.trader,
            self.account,
            conid=AAPL,
            symbol="AAPL",
            description="APPLE INC",
            quote=QUOTE,
            cursor_blink=False,
            **self.kw,  # type: ignore[arg-type]
        )
        self.push_screen(ticket, self.results.append)


def text(screen: TicketScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def settle(pilot, condition, rounds: int = 100) -> None:  # type: ignore[no-untyped-def]
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")


def test_parse_ticket_names_the_field_of_each_problem() -> None:
    def parse(**kw: object):  # type: ignore[no-untyped-def]
        fields = {
            "side": OrderSide.BUY,
            "quantity": "10",
            "kind": OrderKind.LIMIT,
            "limit": "215",
            "stop": "",
            "tif": TimeInForce.DAY,
            "outside_rth": False,
        }
        fields.update(kw)
        return parse_ticket(PAPER, AAPL, "AAPL", **fields)  # type: ignore[arg-type]

    draft, problems = parse()
    assert draft is not None and draft.quantity == 10 and draft.limit_price == Decimal(215)
    assert draft.describe() == "BUY 10 AAPL LMT limit 215 DAY"
    assert parse(quantity="")[1][0].field == "quantity"
    assert "numbers only" in parse(quantity="ten")[1][0].message
    assert "more than 0" in parse(quantity="-5")[1][0].message
    assert parse(quantity="1,000")[0] is not None
    assert parse(limit="")[1][0].message == "LMT needs a limit price"
    assert [p.field for p in parse(kind=OrderKind.STOP_LIMIT)[1]] == ["stop"]
    market, problems = parse(kind=OrderKind.MARKET, limit="junk")
    assert market is not None and market.limit_price is None and not problems
    assert "numbers only" in parse(limit="NaN")[1][0].message or parse(limit="NaN")[1]


async def test_errors_show_beside_their_fields_as_you_type() -> None:
    app = TicketApp(FakeTrader())
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert "Quantity is required" in text(ticket, "#quantity-error")
        await pilot.press(*"1x")  # (the field starts empty)
        assert "numbers only" in text(ticket, "#quantity-error")
        await pilot.press("backspace", "0")
        assert text(ticket, "#quantity-error") == ""
        assert ticket.query_one("#send-button", Button).disabled
        ticket.query_one("#kind", Select).value = OrderKind.STOP
        await pilot.pause()
        assert ticket.query_one("#stop-row").display
        assert not ticket.query_one("#limit-row").display
        assert "needs a stop price" in text(ticket, "#stop-error")
        ticket.query_one("#stop", Input).value = "200"  # below the market: the trader's check
        await pilot.pause()
        assert "above 215.02" in text(ticket, "#stop-error")
        assert "bid 215.01" in text(ticket, "#market") and "ask 215.03" in text(ticket, "#market")


async def test_preview_then_send_once_and_the_ticket_closes_with_the_result() -> None:
    trader = FakeTrader()
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("ctrl+s")  # nothing to send before a preview
        assert trader.submitted == []
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        assert "Commission 1.00 USD" in text(ticket, "#preview")
        assert "Equity after 132,080.77 USD" in text(ticket, "#preview")
        assert not ticket.query_one("#send-button", Button).disabled
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: bool(app.results))
    assert len(trader.submitted) == 1
    assert trader.submitted[0].describe() == "BUY 10 AAPL LMT limit 215.00 DAY"
    assert app.results[0] is not None and app.results[0].order_id == 1487203301


async def test_a_change_after_the_preview_needs_a_new_preview() -> None:
    trader = FakeTrader()
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("end", "0")  # quantity 100 now
        assert ticket.preview is None
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert trader.submitted == []
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: bool(app.results))
    assert [d.quantity for d in trader.submitted] == [100]


async def test_a_double_press_sends_once() -> None:
    trader = FakeTrader(gate=asyncio.Event())
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s", "ctrl+s", "ctrl+s")
        await pilot.pause()
        assert ticket.sending and ticket.query_one("#send-button", Button).disabled
        await pilot.press("escape")  # cannot close while IBKR has not answered
        assert app.screen is ticket
        assert trader.gate is not None
        trader.gate.set()
        await settle(pilot, lambda: bool(app.results))
    assert len(trader.submitted) == 1


async def test_a_live_account_needs_its_last_four_characters() -> None:
    trader = FakeTrader()
    app = TicketApp(trader, LIVE, quantity=Decimal(1), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert "LIVE" in text(ticket, "#mode")
        assert ticket.query_one("#confirm-row").display
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert trader.submitted == [] and "last four" in ticket.message
        ticket.query_one("#confirm", Input).value = "4321"[::-1]  # wrong
        await pilot.pause()
        await pilot.press("ctrl+s")
        assert trader.submitted == []
        ticket.query_one("#confirm", Input).value = "4321"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: bool(app.results))
    assert len(trader.submitted) == 1 and trader.confirmations == ["4321"]


async def test_an_unknown_outcome_keeps_send_disabled() -> None:
    unknown = SubmitResult(SubmitStatus.UNKNOWN, "no answer from IBKR; check the orders screen")
    trader = FakeTrader(outcome=unknown)
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: ticket.blocked_reason is not None)
        assert "Outcome unknown" in text(ticket, "#ticket-message")
        await pilot.press("enter", "ctrl+s")
        await pilot.pause()
        assert len(trader.submitted) == 1
        assert ticket.query_one("#send-button", Button).disabled


async def test_a_blocking_precaution_stops_the_send() -> None:
    block = PrecautionView("order value 2,150,000 USD is over the limit of 50,000", True)
    trader = FakeTrader(precautions=(block,))
    app = TicketApp(trader, quantity=Decimal(10000), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert "BLOCKED: order value" in text(ticket, "#precautions")
        await pilot.press("enter", "ctrl+s")
        await pilot.pause()
        assert trader.previews == [] and trader.submitted == []


async def test_declining_ibkrs_question_sends_nothing_and_keeps_the_ticket() -> None:
    question = QuestionView("The order price exceeds the Percentage constraint of 3%.", "o163")
    trader = FakeTrader(questions=[question])
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("250.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: app.screen is not ticket)
        assert "Percentage constraint" in str(app.screen.query_one("#question-text").render())
        await pilot.press("n")
        await settle(pilot, lambda: "Not sent" in ticket.message)
        assert app.screen is ticket and trader.answers == [False]
        assert app.results == []


async def test_keys_on_a_position_open_a_prefilled_ticket() -> None:
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings
    from ibtui.tui.screens.positions import PositionsScreen
    from tests.tui.conftest import Clock, ViewBroker, position

    clock = Clock()
    held = [position(1, "AAA", "10", "50", "40"), position(2, "BBB", "-5", "80", "90")]
    broker = ViewBroker(held, clock, echo_prices=True)
    trader = FakeTrader()
    app = IbtuiApp(
        broker, trader=trader, clock=clock, poll=PollSettings(interval=60), cursor_blink=False
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        await settle(pilot, lambda: len(screen.table.visible_keys) == 2)

        await pilot.press("x")  # close the long AAA position: SELL 10
        await settle(pilot, lambda: isinstance(app.screen, TicketScreen))
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.symbol == "AAA"
        assert ticket.query_one("#side", Select).value is OrderSide.SELL
        assert ticket.query_one("#quantity", Input).value == "10"
        assert ticket.query_one("#limit", Input).value  # prefilled with the last price
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)

        await pilot.press("j", "x")  # the short BBB position closes with a BUY of 5
        await settle(pilot, lambda: isinstance(app.screen, TicketScreen))
        ticket = app.screen
        assert isinstance(ticket, TicketScreen) and ticket.symbol == "BBB"
        assert ticket.query_one("#side", Select).value is OrderSide.BUY
        assert ticket.query_one("#quantity", Input).value == "5"
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)

        await pilot.press("s")  # sell more of BBB (a bigger short): the quantity is left open
        await settle(pilot, lambda: isinstance(app.screen, TicketScreen))
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert ticket.query_one("#side", Select).value is OrderSide.SELL
        assert ticket.query_one("#quantity", Input).value == ""


async def test_o_opens_the_orders_screen_and_escape_comes_back() -> None:
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings
    from ibtui.tui.screens.orders import OrdersScreen
    from ibtui.tui.screens.positions import PositionsScreen
    from tests.tui.conftest import Clock, ViewBroker, position

    clock = Clock()
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock)
    app = IbtuiApp(
        broker,
        trader=FakeTrader(),
        clock=clock,
        poll=PollSettings(interval=60),
        cursor_blink=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, OrdersScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is positions)


async def test_without_a_trader_there_is_no_ticket_and_no_orders_screen() -> None:
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings
    from ibtui.tui.screens.positions import PositionsScreen
    from tests.tui.conftest import Clock, ViewBroker, position

    clock = Clock()
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock)
    app = IbtuiApp(broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        await pilot.press("o", "b", "x")
        await pilot.pause()
        assert app.screen is positions


async def test_fills_are_notified_on_the_positions_screen_too() -> None:
    from dataclasses import replace

    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings
    from ibtui.tui.screens.positions import PositionsScreen
    from ibtui.tui.trading import OrderView
    from tests.tui.conftest import Clock, ViewBroker, position

    clock = Clock()
    working = OrderView(
        order_id=7,
        account_id=PAPER.account_id,
        conid=1,
        symbol="AAA",
        side=OrderSide.BUY,
        kind="LMT",
        quantity=Decimal(10),
        filled=Decimal(0),
        remaining=Decimal(10),
        status="Submitted",
        working=True,
        limit_price=Decimal(50),
    )
    filled = replace(
        working,
        status="Filled",
        working=False,
        filled=Decimal(10),
        remaining=Decimal(0),
        avg_price=Decimal("49.98"),
    )
    trader = FakeTrader(order_lists=[[working], [working], [filled]])
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock)
    app = IbtuiApp(
        broker, trader=trader, clock=clock, poll=PollSettings(interval=60), cursor_blink=False
    )
    app.order_watch_seconds = 0.05
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: any("Filled" in n.message for n in app._notifications))
        texts = [n.message for n in app._notifications if "Filled" in n.message]
        assert texts == ["Filled: BUY 10 AAA @ 49.98"]
        await pilot.pause(0.3)
        assert len([n for n in app._notifications if "Filled" in n.message]) == 1  # once


async def test_quitting_with_working_orders_asks_first() -> None:
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings
    from ibtui.tui.screens.positions import PositionsScreen
    from ibtui.tui.screens.question import QuestionScreen
    from ibtui.tui.trading import OrderView
    from tests.tui.conftest import Clock, ViewBroker, position

    clock = Clock()
    working = OrderView(
        order_id=7,
        account_id=PAPER.account_id,
        conid=1,
        symbol="AAA",
        side=OrderSide.BUY,
        kind="LMT",
        quantity=Decimal(10),
        filled=Decimal(0),
        remaining=Decimal(10),
        status="Submitted",
        working=True,
        limit_price=Decimal(50),
    )
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock)
    app = IbtuiApp(
        broker,
        trader=FakeTrader(order_lists=[[working]]),
        clock=clock,
        poll=PollSettings(interval=60),
        cursor_blink=False,
    )
    app.order_watch_seconds = 0.05
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: bool(app.working_orders))
        await pilot.press("ctrl+q")
        await settle(pilot, lambda: isinstance(app.screen, QuestionScreen))
        text = str(app.screen.query_one("#question-text").render())
        assert "1 order(s) are still working" in text and "BUY 10 AAA" in text
        await pilot.press("n")  # stay
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        assert app.is_running
        await pilot.press("ctrl+q")
        await settle(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("y")
        await settle(pilot, lambda: not app.is_running)


async def test_the_idle_lock_hides_everything_until_enter() -> None:
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings
    from ibtui.tui.screens.lock import LockScreen
    from ibtui.tui.screens.positions import PositionsScreen
    from tests.tui.conftest import Clock, ViewBroker, position

    clock = Clock()
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock)
    app = IbtuiApp(
        broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False, idle_lock_minutes=5
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        clock.advance(4 * 60)
        await pilot.pause(1.2)
        assert isinstance(app.screen, PositionsScreen)  # not idle long enough
        await pilot.press("j")  # activity restarts the count
        clock.advance(4 * 60)
        await pilot.pause(1.2)
        assert isinstance(app.screen, PositionsScreen)
        clock.advance(61)
        await settle(pilot, lambda: isinstance(app.screen, LockScreen))
        lock = app.screen
        await pilot.pause()
        assert "locked" in str(lock.query_one("#lock-text").render())
        assert "AAA" not in "".join(str(s.render()) for s in lock.query("Static"))
        await pilot.press("j")  # any other key does not unlock
        assert app.screen is lock
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
