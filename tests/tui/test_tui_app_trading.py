"""The console's trading around the ticket: keys that open it from a position, the orders
screen, fill notifications anywhere, the warning on quit with working orders, the idle lock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, Select

from ibtui.trading import Side
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.lock import LockScreen
from ibtui.tui.screens.orders import OrdersScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.screens.ticket import TicketScreen
from ibtui.tui.trading import OrderView
from ibtui.tui.viewmodels import AccountView, PositionView
from tests.tui.conftest import LIVE, PAPER, Clock, ViewBroker, position, told
from tests.tui.fake_trader import FakeTrader
from tests.tui.test_tui_ticket import settle

WORKING = OrderView(
    order_id=7,
    account_id=PAPER.account_id,
    conid=1,
    symbol="AAA",
    side=Side.BUY,
    kind="LMT",
    quantity=Decimal(10),
    filled=Decimal(0),
    remaining=Decimal(10),
    status="Submitted",
    working=True,
    limit_price=Decimal(50),
)


def console(
    trader: FakeTrader | None = None,
    held: list[PositionView] | None = None,
    accounts: tuple[AccountView, ...] = (PAPER,),
    **kwargs: object,
) -> tuple[IbtuiApp, Clock]:
    clock = Clock()
    held = held or [position(1, "AAA", "10", "50", "40")]
    broker = ViewBroker(held, clock, accounts, echo_prices=True)
    app = IbtuiApp(
        broker,
        trader=trader,
        clock=clock,
        poll=PollSettings(interval=60),
        cursor_blink=False,
        **kwargs,  # type: ignore[arg-type]
    )
    app.order_watch_seconds = 0.05
    return app, clock


async def test_keys_on_a_position_open_a_prefilled_ticket() -> None:
    held = [position(1, "AAA", "10", "50", "40"), position(2, "BBB", "-5", "80", "90")]
    app, _ = console(FakeTrader(), held)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        await settle(pilot, lambda: len(screen.table.visible_keys) == 2)

        async def ticket_for(*keys: str) -> TicketScreen:
            await pilot.press(*keys)
            await settle(pilot, lambda: isinstance(app.screen, TicketScreen))
            ticket = app.screen
            assert isinstance(ticket, TicketScreen)
            return ticket

        ticket = await ticket_for("x")  # close the long AAA position: SELL 10
        assert ticket.symbol == "AAA"
        assert ticket.query_one("#side", Select).value is Side.SELL
        assert ticket.query_one("#quantity", Input).value == "10"
        assert ticket.query_one("#limit", Input).value  # prefilled with the last price
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)

        ticket = await ticket_for("j", "x")  # the short BBB position closes with a BUY of 5
        assert ticket.symbol == "BBB"
        assert ticket.query_one("#side", Select).value is Side.BUY
        assert ticket.query_one("#quantity", Input).value == "5"
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)

        ticket = await ticket_for("s")  # sell more of BBB (a bigger short): quantity left open
        assert ticket.query_one("#side", Select).value is Side.SELL
        assert ticket.query_one("#quantity", Input).value == ""


async def test_o_opens_the_orders_screen_and_escape_comes_back() -> None:
    app, _ = console(FakeTrader())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, OrdersScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is positions)


async def test_without_a_trader_there_is_no_ticket_and_no_orders_screen() -> None:
    app, _ = console(None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        await pilot.press("o", "b", "x")
        await pilot.pause()
        assert app.screen is positions


async def test_fills_are_notified_on_the_positions_screen_too() -> None:
    filled = replace(
        WORKING,
        status="Filled",
        working=False,
        filled=Decimal(10),
        remaining=Decimal(0),
        avg_price=Decimal("49.98"),
    )
    app, _ = console(FakeTrader(order_lists=[[WORKING], [WORKING], [filled]]))
    notices = told(app)

    def fills() -> list[str]:
        return [n.message for n in notices if "Filled" in n.message]

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: bool(fills()))
        assert fills() == ["Filled: BUY 10 AAA @ 49.98"]
        await pilot.pause(0.3)
        assert len(fills()) == 1  # once


async def test_one_order_watcher_feeds_the_orders_screen_and_the_notices() -> None:
    """With the orders screen open, its rows and the fill notices come from the app's one
    watcher: one request per poll, a fill told once."""
    filled = replace(WORKING, status="Filled", working=False, filled=Decimal(10))
    trader = FakeTrader(order_lists=[[WORKING]] * 20 + [[filled]])
    app, _ = console(trader)
    notices = told(app)

    def fills() -> list[str]:
        return [n.message for n in notices if "Filled" in n.message]

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: bool(app.session.working_orders))
        await pilot.press("o")
        await settle(pilot, lambda: isinstance(app.screen, OrdersScreen))
        orders = app.screen
        assert isinstance(orders, OrdersScreen)
        await settle(pilot, lambda: orders.loaded)
        await settle(pilot, lambda: bool(fills()))
        await settle(pilot, lambda: orders.table.text("7", "status") == "Filled")
        # From here the watcher polls when told to: a request and the screen's showing of its
        # answer are counted with none of them in flight (the watcher's request is made at once,
        # the screen handles the posted answer later, so counts read while it runs can differ
        # by one on a loaded machine).
        watch = app.session.orders
        assert watch is not None
        parked, turns = asyncio.Event(), asyncio.Semaphore(0)

        async def when_told(_delay: float) -> None:
            parked.set()
            await turns.acquire()

        watch.sleep = when_told
        await settle(pilot, parked.is_set)
        await pilot.pause()  # the screen has shown every answer posted before the watcher parked
        calls, polls = len(trader.order_calls), orders.polls
        for n in range(1, 4):
            parked.clear()
            turns.release()
            await settle(pilot, lambda n=n: parked.is_set() and orders.polls == polls + n)
            await pilot.pause()
            assert (len(trader.order_calls), orders.polls) == (calls + n, polls + n)  # one a poll
        assert fills() == ["Filled: BUY 10 AAA"] and not app.session.working_orders


async def stay_then_quit(pilot: Pilot[None], app: IbtuiApp) -> None:
    """Asked whether to quit: ``n`` stays; ``ctrl+q`` asks again, and ``y`` quits."""
    await pilot.press("n")
    await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
    assert app.is_running
    await pilot.press("ctrl+q")
    await settle(pilot, lambda: isinstance(app.screen, QuestionScreen))
    await pilot.press("y")
    await settle(pilot, lambda: not app.is_running)


async def test_quitting_with_working_orders_asks_first() -> None:
    app, _ = console(FakeTrader(order_lists=[[WORKING]]))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: bool(app.session.working_orders))
        await pilot.press("ctrl+q")
        await settle(pilot, lambda: isinstance(app.screen, QuestionScreen))
        text = str(app.screen.query_one("#question-text").render())
        assert "PAPER Swing paper (DU4820311): 1 order working" in text and "BUY 10 AAA" in text
        assert "LIVE" not in text
        await stay_then_quit(pilot, app)


class PerAccountTrader(FakeTrader):
    """Orders as IBKR lists them: the selected account's only."""

    def __init__(self, lists: dict[str, list[OrderView]]) -> None:
        super().__init__()
        self.lists = lists

    async def orders(self, account_id: str) -> list[OrderView]:  # type: ignore[override]
        self.order_calls.append(account_id)
        return list(self.lists.get(account_id, []))


async def test_quitting_asks_about_a_live_order_working_on_an_account_left_for_another() -> None:
    """A LIVE order working, then the PAPER account shown: ctrl+q names the LIVE account and its
    order, loudly, and quits only when told to."""
    live_order = replace(WORKING, order_id=9, account_id=LIVE.account_id, symbol="AAA")
    trader = PerAccountTrader({LIVE.account_id: [live_order]})
    held = [
        position(1, "AAA", "10", "50", "40"),
        position(1, "AAA", "10", "50", "40", account=LIVE.account_id),
    ]
    app, _ = console(trader, held, (LIVE, PAPER), last_account=LIVE.account_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: bool(app.session.working_orders))
        await pilot.press("a")
        await settle(pilot, lambda: isinstance(app.screen, AccountsScreen))
        await pilot.press("j", "enter")
        await settle(
            pilot,
            lambda: app.session.account == PAPER and isinstance(app.screen, PositionsScreen),
        )
        await settle(pilot, lambda: PAPER.account_id in trader.order_calls)
        assert not app.session.working_orders  # the account shown has none
        await pilot.press("ctrl+q")
        await settle(pilot, lambda: isinstance(app.screen, QuestionScreen))
        question = app.screen
        assert question.danger and "LIVE" in question.title_text
        text = str(question.query_one("#question-text").render())
        assert "LIVE U1234567: 1 order working" in text and "BUY 10 AAA" in text
        await stay_then_quit(pilot, app)


async def test_the_idle_lock_hides_everything_until_enter() -> None:
    app, clock = console(None, idle_lock_minutes=5)
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


def footer_keys_shown(app: IbtuiApp) -> list[tuple[str, str]]:
    """The keys of the footer on the bottom line of the top screen: (key, description)."""
    keys = set(app.screen.query("FooterKey"))  # by CSS type name: Textual does not export it
    width, height = app.size
    shown: list[tuple[str, str]] = []
    for x in range(width):
        widget, _ = app.get_widget_at(x, height - 1)
        for node in widget.ancestors_with_self:
            if node in keys:
                key = (node.key, node.description)  # type: ignore[attr-defined]
                if key not in shown:
                    shown.append(key)
                break
    return shown


async def test_the_footer_shows_the_tickets_keys_while_it_is_open() -> None:
    app, _ = console(FakeTrader())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await pilot.pause()
        assert ("s", "Sell") in footer_keys_shown(app)
        await pilot.press("b")
        await settle(pilot, lambda: isinstance(app.screen, TicketScreen))
        await pilot.pause(0.1)
        shown = footer_keys_shown(app)
        assert ("ctrl+s", "Send") in shown and ("escape", "Close") in shown
        assert ("s", "Sell") not in shown and ("x", "Close pos.") not in shown  # the positions'


async def test_ctrl_c_says_which_key_quits() -> None:
    app, _ = console(FakeTrader(), keymap={"app.quit": "ctrl+x"})
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.is_running  # it does not quit
        hints = [n.message for n in notices if "quit" in n.message]
        assert hints == ["Press ctrl+x to quit ibtui."]  # the key the keymap gave it


async def test_the_palette_finds_the_kill_switch_from_the_positions_screen() -> None:
    """ctrl+p "kill" on the positions screen: the orders screen opens with the kill switch armed
    (its second key still asked for)."""
    app, _ = console(FakeTrader(order_list=[WORKING]))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await pilot.press("ctrl+p", *"kill")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        hits = palette.query_one(CommandList)
        await settle(pilot, lambda: hits.option_count > 0)  # searched in a worker
        first = hits.get_option_at_index(0).prompt
        assert "Kill all (orders screen)" in str(first)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, OrdersScreen))
        orders = app.screen
        assert isinstance(orders, OrdersScreen)
        await settle(pilot, lambda: "Kill switch: press" in orders.message)


def test_a_working_order_missing_from_one_list_only_is_not_news() -> None:
    from ibtui.tui.trading import VanishedOrders

    vanished = VanishedOrders(looks=2)
    listed = {WORKING.order_id: WORKING}
    assert vanished.update(None, listed) == []
    assert vanished.update(listed, {}) == []  # one list without it (IBKR's can be incomplete)
    assert vanished.update({}, listed) == []  # back: forgotten
    assert vanished.update(listed, {}) == []
    assert vanished.update({}, {}) == [WORKING]  # missing twice in a row: told
    assert vanished.update({}, {}) == []  # once
    done = replace(WORKING, status="Filled", working=False)
    assert vanished.update({done.order_id: done}, {}) == []  # a finished order may drop out
    assert vanished.update({}, {}) == []


async def test_the_orders_are_listed_again_as_soon_as_the_session_is_back() -> None:
    """A server restart: the order list fails and its back-off grows (10 s, then 20 s); when
    the poller finds the session answering again the list is asked at once, so orders the
    restart dropped are told within seconds, not after the back-off."""
    from ibtui.tui.viewmodels import SessionState

    trader = FakeTrader(order_lists=[[WORKING]], failures=[ConnectionError("refused")])
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], Clock(), echo_prices=True)
    broker.state = SessionState.UNREACHABLE
    app = IbtuiApp(broker, trader=trader, poll=PollSettings(interval=0.1), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: len(trader.order_calls) == 1)  # failed: back in 10 s
        await pilot.pause(0.3)
        assert len(trader.order_calls) == 1
        broker.state = SessionState.CONNECTED  # the poller's next keep-alive finds it back
        await settle(pilot, lambda: len(trader.order_calls) == 2)


async def test_a_fill_has_the_positions_list_fetched_again_at_the_next_round() -> None:
    """The positions list has its own schedule (here: hourly); a fill brings it forward."""
    filled = replace(WORKING, status="Filled", working=False, filled=Decimal(10))
    trader = FakeTrader(order_lists=[[WORKING], [WORKING], [WORKING], [filled]])
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], Clock(), echo_prices=True)
    app = IbtuiApp(
        broker,
        trader=trader,
        clock=broker.clock,
        poll=PollSettings(interval=0.1, positions_every=3600),
        cursor_blink=False,
    )
    app.order_watch_seconds = 0.05
    lists: list[str] = []
    fetch = broker.positions

    async def positions(account_id: str) -> Sequence[PositionView]:
        lists.append(account_id)
        return await fetch(account_id)

    broker.positions = positions  # type: ignore[method-assign]
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen) and bool(lists))
        await pilot.pause(0.3)
        assert len(lists) == 1  # not every round
        await settle(pilot, lambda: any("Filled" in n.message for n in notices))
        await settle(pilot, lambda: len(lists) == 2)
