"""The order ticket: inline validation, preview before send, one send per order, LIVE confirmation,
unknown outcomes, and IBKR's questions."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.widgets import Button, Checkbox, Input, Select, Static

from ibtui.trading import Precaution, Side, SubmitOutcome, SubmitStatus, TicketType, TimeInForce
from ibtui.tui.screens.ticket import TicketScreen, parse_ticket
from ibtui.tui.trading import QuestionView
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
        self.results: list[SubmitOutcome | None] = []

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
            "side": Side.BUY,
            "quantity": "10",
            "kind": TicketType.LMT,
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
    assert [p.field for p in parse(kind=TicketType.STP_LMT)[1]] == ["stop_price"]
    market, problems = parse(kind=TicketType.MKT, limit="junk")
    assert market is not None and market.limit_price is None and not problems
    assert "numbers only" in parse(limit="NaN")[1][0].message or parse(limit="NaN")[1]


def test_quantity_takes_no_exponent_and_whole_shares_unless_the_instrument_has_fractions() -> None:
    def quantity_problem(typed: str, **kw: object) -> str | None:
        draft, problems = parse_ticket(
            PAPER,
            AAPL,
            "AAPL",
            side=Side.BUY,
            quantity=typed,
            kind=TicketType.LMT,
            limit="215",
            stop="",
            tif=TimeInForce.DAY,
            outside_rth=False,
            **kw,  # type: ignore[arg-type]
        )
        found = [p.message for p in problems if p.field == "quantity"]
        assert (draft is None) == bool(found)
        return found[0] if found else None

    assert "numbers only" in (quantity_problem("1e3") or "")  # not 1,000
    assert "numbers only" in (quantity_problem("1E+2") or "")
    assert "numbers only" in (quantity_problem("Infinity") or "")
    assert quantity_problem("1.5") == "Quantity: whole shares only"
    assert quantity_problem("2.0") is None  # a whole number written with a point
    assert quantity_problem("1.5", fractional=True) is None


async def test_a_ticket_for_a_fractional_position_takes_fractions() -> None:
    app = TicketApp(FakeTrader(), quantity=Decimal("2.5"), limit_price=Decimal(215))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.pause()
        assert text(ticket, "#quantity-error") == ""
        assert ticket.draft is not None and ticket.draft.quantity == Decimal("2.5")


async def test_errors_show_beside_their_fields_as_you_type() -> None:
    app = TicketApp(FakeTrader())
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert text(ticket, "#quantity-error") == ""  # nothing typed yet: nothing required yet
        await pilot.press(*"1x")  # (the field starts empty)
        assert "numbers only" in text(ticket, "#quantity-error")
        await pilot.press("backspace", "backspace")  # emptied once typed in: now required
        assert "Quantity is required" in text(ticket, "#quantity-error")
        await pilot.press("1", "0")
        assert text(ticket, "#quantity-error") == ""
        assert ticket.query_one("#send-button", Button).disabled
        ticket.query_one("#kind", Select).value = TicketType.STP
        await pilot.pause()
        assert ticket.query_one("#stop-row").display
        assert not ticket.query_one("#limit-row").display
        assert text(ticket, "#stop-error") == ""  # the stop not touched yet
        await pilot.press("enter")  # a preview tried: every field that is required says so
        await pilot.pause()
        assert "needs a stop price" in text(ticket, "#stop-error")
        assert ticket.message == "Fix the fields marked above first."
        ticket.query_one("#stop", Input).value = "200"  # below the market: the trader's check
        await pilot.pause()
        assert "above 215.02" in text(ticket, "#stop-error")
        assert "bid 215.01" in text(ticket, "#market") and "ask 215.03" in text(ticket, "#market")


async def test_leaving_the_empty_quantity_says_it_is_required() -> None:
    app = TicketApp(FakeTrader())
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        assert ticket.query_one("#quantity", Input).has_focus
        assert text(ticket, "#quantity-error") == ""
        await pilot.press("tab")
        await pilot.pause()
        assert text(ticket, "#quantity-error") == "Quantity is required"


async def test_outside_rth_shows_its_state_without_colour() -> None:
    app = TicketApp(FakeTrader(), quantity=Decimal(1), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        box = ticket.query_one("#outside-rth", Checkbox)
        assert str(box.render()).startswith("▐ ▌ Outside RTH")  # off: an empty box
        box.focus()
        await pilot.press("space")
        assert box.value and str(box.render()).startswith("▐X▌ Outside RTH")
        assert ticket.draft is not None and ticket.draft.outside_rth
        await pilot.press("space")
        assert not box.value and str(box.render()).startswith("▐ ▌")


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
        hint = ticket.query_one("#confirm-error", Static)
        assert text(ticket, "#confirm-error") == "type the last 4 characters of U7654321"
        assert not hint.has_class("-ok", "-wrong")
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert trader.submitted == [] and "last four" in ticket.message
        ticket.query_one("#confirm", Input).value = "4321"[::-1]  # wrong
        await pilot.pause()
        assert text(ticket, "#confirm-error") == "does not match the last 4 of U7654321"
        assert hint.has_class("-wrong") and not hint.has_class("-ok")
        await pilot.press("ctrl+s")
        assert trader.submitted == []
        ticket.query_one("#confirm", Input).value = "4321"
        await pilot.pause()
        assert text(ticket, "#confirm-error") == "✓ matches U7654321"  # green, no longer red
        assert hint.has_class("-ok") and not hint.has_class("-wrong")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: bool(app.results))
    assert len(trader.submitted) == 1 and trader.confirmations == ["4321"]


async def test_the_live_confirmation_hint_fits_at_80x24() -> None:
    app = TicketApp(FakeTrader(), LIVE, quantity=Decimal(1), limit_price=Decimal("215.00"))
    async with app.run_test(size=(80, 24)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        hint = ticket.query_one("#confirm-error", Static)
        for typed in ("", "1234", "4321"):
            ticket.query_one("#confirm", Input).value = typed
            await pilot.pause()
            shown = text(ticket, "#confirm-error")
            assert "U7654321" in shown and cell_len(shown) <= hint.content_region.width, shown


async def test_an_unknown_outcome_keeps_send_disabled() -> None:
    unknown = SubmitOutcome(SubmitStatus.UNKNOWN, "no answer from IBKR; check the orders screen")
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
    block = Precaution("order_value", "order value 2,150,000 USD is over the limit of 50,000", True)
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


async def test_enter_on_a_closed_dropdown_previews_and_space_opens_it() -> None:
    """Enter does the ticket's next step from a dropdown as from a text box; the menu opens with
    space (or down/up), and enter in the open menu picks the option without previewing."""
    trader = FakeTrader()
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        kind = ticket.query_one("#kind", Select)
        kind.focus()
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        assert not kind.expanded and len(trader.previews) == 1
        await pilot.press("space")
        await settle(pilot, lambda: kind.expanded)
        await pilot.press("up", "enter")  # MKT, from LMT
        await settle(pilot, lambda: not kind.expanded)
        assert kind.value is TicketType.MKT and len(trader.previews) == 1
        await pilot.press("enter")  # the dropdown has the focus again: a preview of the change
        await settle(pilot, lambda: len(trader.previews) == 2)
        assert trader.previews[-1].order_type.value == "MKT"


async def test_an_order_ibkr_refuses_says_so_once_and_the_ticket_stays() -> None:
    refused = SubmitOutcome(SubmitStatus.REJECTED, "rejected by IBKR: Insufficient funds")
    trader = FakeTrader(outcome=refused)
    app = TicketApp(trader, quantity=Decimal(10), limit_price=Decimal("215.00"))
    async with app.run_test(size=(100, 30)) as pilot:
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        await pilot.press("enter")
        await settle(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: "Insufficient" in text(ticket, "#ticket-message"))
        shown = text(ticket, "#ticket-message")
        assert shown.startswith("Rejected by IBKR: Insufficient funds"), shown
        assert shown.lower().count("reject") == 1, shown  # not "IBKR rejected …: rejected by IBKR"
        assert app.screen is ticket and len(trader.submitted) == 1
