"""The orders screen against a fake trader: rows updated in place, cancel, modify with IBKR's
questions, the kill switch chord, fill notifications, the trades tab, errors, and snapshots."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from textual.app import App
from textual.binding import Binding
from textual.widgets import Input, Static
from textual.widgets.data_table import ColumnKey

from ibtui.trading import SubmitOutcome, SubmitStatus
from ibtui.trading.modify_input import kind_code
from ibtui.tui import keymap
from ibtui.tui.screens.modify import ModifyScreen, modify_outcome_text
from ibtui.tui.screens.orders import OrdersScreen
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.trading import QuestionView
from ibtui.tui.widgets.blotter import BlotterTable, describe_order, order_outcome
from tests.tui.conftest import LIVE, PAPER, T0, Clock
from tests.tui.fake_trader import FakeTrader
from tests.tui.fakes_trading import OrdersApp, Polls, order, until, with_samples

SIZE = (80, 24)
AAPL, MSFT, SPY, TSLA, NVDA = 1487203301, 1487203302, 1487203303, 1487203290, 1487203280
QUESTION = QuestionView(
    "The order size exceeds the Size Limit of 10. Are you sure you want to submit this order?",
    "o383",
)


def make(trader: FakeTrader | None = None, **kw: Any) -> tuple[OrdersApp, FakeTrader, Polls]:
    trader = trader or with_samples()
    clock = Clock()
    polls = Polls(clock)
    return OrdersApp(trader, clock, polls, **kw), trader, polls


async def loaded(pilot: Any, app: OrdersApp) -> OrdersScreen:
    await until(
        pilot,
        lambda: isinstance(app.screen, OrdersScreen) and app.screen.polls > 0 and app.polls.waiting,
    )
    screen = app.screen
    assert isinstance(screen, OrdersScreen)
    return screen


async def next_poll(pilot: Any, screen: OrdersScreen, polls: Polls) -> None:
    before = screen.polls
    polls.release()
    await until(pilot, lambda: screen.polls > before and polls.waiting > 0)


def line(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def to_row(pilot: Any, screen: OrdersScreen, symbol: str) -> None:
    """Move the cursor with j/k until it is on ``symbol``'s order."""
    for _ in range(len(screen.orders)):
        selected = screen.selected_order()
        if selected is not None and selected.symbol == symbol:
            return
        await pilot.press("j")
    raise AssertionError(f"no row for {symbol}")


# --- pure parts ---------------------------------------------------------------------------------
def test_order_text_and_outcomes() -> None:
    assert kind_code("Limit") == "LMT" and kind_code("STOP_LIMIT") == "STP LMT"
    assert kind_code("TRAIL") == "TRAIL"
    aapl = order(AAPL, "AAPL", "BUY", "LMT", "10", limit="215.00")
    assert describe_order(aapl) == "BUY 10 AAPL LMT 215.00"
    stop_limit = order(SPY, "SPY", "SELL", "Stop Limit", "20", stop="590", limit="589.5")
    assert describe_order(stop_limit) == "SELL 20 SPY STP LMT 590.00 589.50"
    assert order_outcome("Filled") == "Filled"
    assert order_outcome("Cancelled") == "Cancelled"
    assert order_outcome("Inactive") == "Rejected"
    assert order_outcome("PendingCancel") is None


def test_every_binding_has_a_registered_id() -> None:
    registered = {v for k, v in vars(keymap).items() if k.isupper() and isinstance(v, str)}
    for cls in (OrdersScreen, BlotterTable, ModifyScreen, QuestionScreen):
        for binding in cls.BINDINGS:
            assert isinstance(binding, Binding) and binding.id in registered, (cls, binding)


# --- the list -----------------------------------------------------------------------------------
async def test_rows_appear_working_first_and_update_in_place() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        table = screen.table
        # working orders first (newest first), then the finished ones (latest first)
        assert table.keys == [str(i) for i in (SPY, MSFT, AAPL, TSLA, NVDA)]
        assert table.text(str(AAPL), "type") == "LMT"
        assert table.text(str(AAPL), "limit") == "215.00"
        assert table.text(str(AAPL), "fills") == "0/10"
        assert table.text(str(MSFT), "stop") == "400.00"
        assert table.text(str(TSLA), "avg") == "250.12"
        assert "3 working" in line(screen, "#orders-head")
        added: list[object] = []
        original = table.add_row

        def counting_add_row(*args: Any, **kw: Any) -> Any:
            added.append(kw.get("key"))
            return original(*args, **kw)

        table.add_row = counting_add_row  # type: ignore[method-assign]
        cleared: list[bool] = []
        table.clear = lambda *a, **k: cleared.append(True)  # type: ignore[method-assign,assignment,return-value]

        trader.change(AAPL, filled=Decimal(4), remaining=Decimal(6), avg_price=Decimal("214.99"))
        await next_poll(pilot, screen, polls)
        assert table.text(str(AAPL), "fills") == "4/6"
        assert table.text(str(AAPL), "avg") == "214.99"
        assert table.keys == [str(i) for i in (SPY, MSFT, AAPL, TSLA, NVDA)]
        assert added == [] and cleared == []  # the same rows, changed cells only

        trader.order_list.append(order(1487203304, "QQQ", "BUY", "LMT", "1", limit="500"))
        await next_poll(pilot, screen, polls)
        assert added == ["1487203304"] and table.keys[0] == "1487203304"
        assert len(trader.order_calls) == 3
        assert all(delay == 5.0 for delay in polls.delays)  # IBKR's pacing for live orders


async def test_the_order_watch_polls_at_ibkrs_pacing() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        for _ in range(3):
            await next_poll(pilot, screen, polls)
        assert len(trader.order_calls) == 4 and polls.delays == [5.0] * 4


async def test_a_fill_is_notified_once_with_the_bell_and_not_on_the_first_load() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        assert app.notes == [] and app.bells == 0  # TSLA filled, NVDA cancelled before: old news
        trader.change(
            AAPL,
            status="Filled",
            working=False,
            filled=Decimal(10),
            remaining=Decimal(0),
            avg_price=Decimal("215.02"),
            updated_at=T0 + 3,
        )
        await next_poll(pilot, screen, polls)
        assert app.notes == ["Filled: BUY 10 AAPL @ 215.02"]
        assert app.bells == 1
        assert table_status(screen, AAPL) == "Filled"
        assert screen.table.keys.index(str(AAPL)) == 2  # now among the finished orders, first
        await next_poll(pilot, screen, polls)
        assert app.notes == ["Filled: BUY 10 AAPL @ 215.02"] and app.bells == 1
        # a rejection is news too; with the bell off (configurable) it is silent
        app.use_bell = False
        trader.change(MSFT, status="Inactive", working=False)
        await next_poll(pilot, screen, polls)
        assert app.notes[1:] == [f"Rejected: SELL 5 MSFT STP 400.00 (order {MSFT})"]
        assert app.bells == 1


def table_status(screen: OrdersScreen, order_id: int) -> str:
    return screen.table.text(str(order_id), "status")


# --- cancel -------------------------------------------------------------------------------------
async def test_cancel_asks_then_cancels_once_and_shows_it_pending_until_cancelled() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await to_row(pilot, screen, "AAPL")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        text = line(app.screen, "#question-text")
        assert text == f"Cancel BUY 10 AAPL LMT 215.00 (order {AAPL})?"
        await pilot.press("y")
        await until(pilot, lambda: "Request was submitted" in screen.message)
        assert trader.cancels == [(PAPER.account_id, AAPL)]
        assert table_status(screen, AAPL) == "Cancel sent"
        await pilot.press("c")  # already being cancelled: no second request
        await pilot.pause()
        assert app.screen is screen and "being cancelled" in screen.message
        await next_poll(pilot, screen, polls)  # IBKR has not cancelled it yet
        assert table_status(screen, AAPL) == "Cancel sent"
        trader.change(AAPL, status="Cancelled", working=False, updated_at=T0 + 6)
        await next_poll(pilot, screen, polls)
        assert table_status(screen, AAPL) == "Cancelled"
        assert app.notes == [f"Cancelled: BUY 10 AAPL LMT 215.00 (order {AAPL})"]
        assert trader.cancels == [(PAPER.account_id, AAPL)]


async def test_no_cancels_nothing_and_a_failed_cancel_leaves_the_order_working() -> None:
    app, trader, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("c")  # the first row: SPY
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen and "kept" in screen.message)
        assert trader.cancels == []
        trader.cancel_error = RuntimeError(f"OrderID {SPY} doesn't exist")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("y")
        await until(pilot, lambda: "Could not cancel" in screen.message)
        assert "doesn't exist" in screen.message
        assert table_status(screen, SPY) == "Submitted"  # not pending any more
        await pilot.press("G", "c")  # a finished order: nothing to cancel, no question
        assert app.screen is screen and "nothing to cancel" in screen.message
        assert trader.cancels == [(PAPER.account_id, SPY)]


async def test_an_order_that_fills_while_the_question_is_open_is_not_cancelled() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("c")  # the first row: SPY
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        trader.change(SPY, status="Filled", working=False, filled=Decimal(20), updated_at=T0 + 4)
        await next_poll(pilot, screen, polls)
        await pilot.press("y")
        await pilot.pause()
        await until(pilot, lambda: "not cancelled" in screen.message)
        assert trader.cancels == [] and "Filled now" in screen.message


async def test_the_keymap_can_move_the_order_keys() -> None:
    app, _, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        app.set_keymap({keymap.ORDERS_CANCEL: "x"})
        await pilot.press("c")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))


# --- modify -------------------------------------------------------------------------------------
async def open_modify(pilot: Any, app: OrdersApp, screen: OrdersScreen) -> ModifyScreen:
    await to_row(pilot, screen, "AAPL")
    await pilot.press("m")
    await until(pilot, lambda: isinstance(app.screen, ModifyScreen))
    modify = app.screen
    assert isinstance(modify, ModifyScreen)
    return modify


async def test_modify_through_ibkrs_question_sends_the_new_values() -> None:
    app, trader, _ = make(with_samples(questions=[QUESTION]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        modify = await open_modify(pilot, app, screen)
        quantity = modify.query_one("#modify-quantity", Input)
        limit = modify.query_one("#modify-limit", Input)
        assert (quantity.value, limit.value) == ("10", "215.00")
        assert not modify.query("#modify-stop")  # a limit order has no stop price
        assert quantity.has_focus  # the first field; tab goes on to the limit
        await pilot.press("2", "0")  # the prefilled text is selected: typing replaces it
        await pilot.press("tab")
        assert limit.has_focus
        await pilot.press(*"214.5")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        assert line(app.screen, "#question-text") == (
            f"Modify BUY 10 AAPL LMT 215.00 (order {AAPL}) to BUY 20 AAPL LMT 214.50?"
        )
        await pilot.press("y")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, QuestionScreen)
                and line(app.screen, "#question-text") == QUESTION.text
            ),
        )
        await pilot.press("y")
        await until(pilot, lambda: "modified" in screen.message)
        assert screen.message == f"Order {AAPL} modified: Submitted"  # said once
        assert trader.modifies == [
            {
                "order_id": AAPL,
                "quantity": Decimal(20),
                "limit_price": Decimal("214.50"),
                "stop_price": None,
            }
        ]
        assert trader.answers == [True]
        assert app.screen is screen


async def test_tab_goes_through_quantity_limit_and_stop_before_the_buttons() -> None:
    stop_limit = order(SPY, "SPY", "SELL", "Stop Limit", "20", stop="590", limit="589.5")
    app, _, _ = make(FakeTrader(order_list=[stop_limit]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ModifyScreen))
        seen = []
        for _ in range(4):
            focused = app.focused
            seen.append(focused.id if focused is not None else None)
            await pilot.press("tab")
        assert seen == ["modify-quantity", "modify-limit", "modify-stop", "modify-submit"]
        assert app.screen is not screen


async def test_rejecting_ibkrs_question_during_modify_says_declined() -> None:
    app, trader, _ = make(with_samples(questions=[QUESTION]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        modify = await open_modify(pilot, app, screen)
        modify.query_one("#modify-limit", Input).value = "214.50"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("y")  # yes, modify
        await until(pilot, lambda: line(app.screen, "#question-text") == QUESTION.text)
        await pilot.press("n")  # no to IBKR's question
        await until(pilot, lambda: "declined" in screen.message)
        assert trader.answers == [False] and len(trader.modifies) == 1


async def test_modify_checks_the_fields_and_can_be_abandoned() -> None:
    app, trader, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        modify = await open_modify(pilot, app, screen)
        modify.query_one("#modify-limit", Input).value = "abc"
        await pilot.press("enter")
        assert app.screen is modify
        assert line(modify, "#modify-limit-error") == "numbers only"
        modify.query_one("#modify-quantity", Input).value = "-5"
        await pilot.press("enter")
        assert line(modify, "#modify-quantity-error") == "must be positive"
        assert app.screen is modify
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.pause()
        assert trader.modifies == [] and "not modified" in screen.message


# --- the kill switch ----------------------------------------------------------------------------
async def test_kill_switch_chord_and_confirm_cancels_everything_once() -> None:
    app, trader, _ = make(account=LIVE)
    trader.order_list = [
        order(o.order_id, o.symbol, o.side.value, o.kind, "5", account=LIVE.account_id)
        for o in trader.order_list[:3]
    ]
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("ctrl+k", "K")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        assert line(app.screen, "#question-text").startswith(
            "Cancel 3 working orders on LIVE account U1234567?"
        )
        await pilot.press("y")
        await until(pilot, lambda: "cancel requested for 3 orders" in screen.message)
        assert trader.kills == [LIVE.account_id]
        assert {table_status(screen, i) for i in (AAPL, MSFT, SPY)} == {"Cancel sent"}
        assert trader.cancels == []


async def test_with_no_working_order_the_kill_switch_says_so_and_offers_nothing() -> None:
    app, trader, _ = make(account=LIVE)
    trader.order_list = [
        order(AAPL, "AAPL", "BUY", "LMT", "5", status="Filled", account=LIVE.account_id)
    ]
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("ctrl+k", "K")
        await pilot.pause()
        assert app.screen is screen  # no "Cancel 0 working orders?" question
        assert screen.message == "Kill switch: no working orders on U1234567; nothing to cancel."
        assert trader.kills == []


async def test_a_lone_second_key_or_a_slow_chord_does_nothing() -> None:
    app, trader, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        await pilot.press("K")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("ctrl+k")
        app.clock.advance(2.5)
        await pilot.press("K")
        await pilot.pause()
        assert app.screen is screen and "too slow" in screen.message and trader.kills == []
        await pilot.press("ctrl+k", "K")  # a fresh chord asks; "n" keeps everything
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        await pilot.pause()
        assert trader.kills == [] and "nothing cancelled" in screen.message


# --- trades -------------------------------------------------------------------------------------
async def test_each_time_on_the_orders_screen_says_its_clock() -> None:
    """The order and trade times and "as of" are all in this machine's zone, and say so."""
    app, _, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        assert re.search(r"as of \d\d:\d\d:\d\d local", line(screen, "#orders-head"))
        await pilot.press("t")
        await until(pilot, lambda: len(screen.trades) == 2)
        for table in (screen.table, screen.trades_table):
            assert str(table.columns[ColumnKey("time")].label) == "Time (local)"


async def test_trades_tab_lists_executions_fetched_when_shown_at_most_every_5s() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        assert trader.trade_calls == []  # not fetched until shown
        await pilot.press("t")
        await until(pilot, lambda: len(screen.trades) == 2)
        table = screen.trades_table
        assert table.display and not screen.table.display
        assert table.keys == ["0000e0d5.672911f4.01.02", "0000e0d5.672911f4.01.01"]
        assert table.text("0000e0d5.672911f4.01.02", "price") == "214.98"
        assert table.text("0000e0d5.672911f4.01.01", "side") == "SELL"
        assert "Trades (2)" in line(screen, "#orders-head")
        await pilot.press("t", "t")  # back and forth at once: no second request
        await pilot.pause()
        assert trader.trade_calls == [PAPER.account_id]
        await next_poll(pilot, screen, polls)  # 5 s later, still shown: refreshed
        await until(pilot, lambda: len(trader.trade_calls) == 2)
        await pilot.press("t")  # the orders again
        assert screen.table.display and screen.table.has_focus


# --- errors -------------------------------------------------------------------------------------
async def test_an_orders_error_is_shown_and_the_screen_stays_usable() -> None:
    app, trader, polls = make()
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        trader.failures.append(RuntimeError("IBKR is not answering (503)"))
        await next_poll(pilot, screen, polls)
        error = line(screen, "#orders-error")
        assert "Could not load the orders: IBKR is not answering (503)" in error
        assert "retrying in 10s" in error and polls.delays[-1] == 10.0
        assert screen.query_one("#orders-error").display
        assert len(screen.table.keys) == 5  # the last list stays
        await to_row(pilot, screen, "AAPL")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        await next_poll(pilot, screen, polls)
        assert screen.error is None and not screen.query_one("#orders-error").display


async def test_a_failing_first_load_is_retried_with_back_off() -> None:
    trader = with_samples(failures=[RuntimeError("no bridge"), RuntimeError("no bridge")])
    app, _, polls = make(trader)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, app)
        assert "no bridge" in line(screen, "#orders-error") and not screen.loaded
        await next_poll(pilot, screen, polls)
        assert polls.delays == [10.0, 20.0]
        await next_poll(pilot, screen, polls)
        assert screen.loaded and len(screen.table.keys) == 5 and screen.error is None
        assert app.notes == []  # the first successful load is not news


# --- snapshots ----------------------------------------------------------------------------------
SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Order times are local times: fix the zone for the snapshots."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_orders_screen_snapshot(snap_compare: Any, size: tuple[int, int], utc: None) -> None:
    app, trader, polls = make()

    async def ready(pilot: Any) -> None:
        screen = await loaded(pilot, app)
        await to_row(pilot, screen, "AAPL")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("y")
        await until(pilot, lambda: "Request was submitted" in screen.message)
        trader.failures.append(RuntimeError("IBKR is not answering (503)"))
        await next_poll(pilot, screen, polls)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_modify_dialog_snapshot(snap_compare: Any, size: tuple[int, int], utc: None) -> None:
    app, _, _ = make()

    async def ready(pilot: Any) -> None:
        screen = await loaded(pilot, app)
        modify = await open_modify(pilot, app, screen)
        modify.query_one("#modify-quantity", Input).value = "-5"  # a field with a problem
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_question_snapshot(snap_compare: Any, size: tuple[int, int]) -> None:
    question = QuestionView(
        "You are about to submit a stop order. Please be aware of the various stop order types "
        "available and the risks associated with each one. Are you sure you want to submit "
        "this order?",
        "o0",
    )

    class QuestionApp(App[None]):
        def on_mount(self) -> None:
            self.push_screen(QuestionScreen(question))

    assert snap_compare(QuestionApp(), terminal_size=size)


def test_a_refused_modify_says_who_refused_it_once() -> None:
    by_ibkr = SubmitOutcome(SubmitStatus.REJECTED, "rejected by IBKR: price too far")
    assert modify_outcome_text(7, by_ibkr) == (
        "Modify of order 7 not made: rejected by IBKR: price too far",
        "error",
    )
    unread = SubmitOutcome(SubmitStatus.REJECTED, "cannot read order 7: timed out")
    text, level = modify_outcome_text(7, unread)
    assert (
        "reject" not in text and level == "error"
    )  # ibtui could not read it: IBKR refused nothing
