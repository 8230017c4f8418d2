"""An order that fills in parts: each growth of its filled quantity, polled or pushed by the
stream, is told once (``Partly filled: BUY 30 of 100 AAA @ 49.98``) and has the positions list
read soon; an order polled again unchanged, or a poll that lags a push, tells nothing."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from ibtui.tui.order_watch import OrdersUpdated, OrderWatch
from ibtui.tui.poller import Poller
from ibtui.tui.screens.positions import PositionsScreen
from tests.tui.conftest import Clock, told
from tests.tui.fake_trader import FakeTrader
from tests.tui.fakes_trading import order
from tests.tui.test_tui_app_trading import WORKING, console
from tests.tui.test_tui_streaming import streamed, until
from tests.tui.test_tui_ticket import settle


def part(filled: int, avg: str) -> Any:
    return replace(
        WORKING,
        quantity=Decimal(100),
        filled=Decimal(filled),
        remaining=Decimal(100 - filled),
        avg_price=Decimal(avg),
    )


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time the app asks the poller for the positions list at its next round."""
    asked: list[str] = []
    original = Poller.refresh_positions

    def refresh_positions(self: Poller) -> None:
        asked.append(self.account_id)
        original(self)

    monkeypatch.setattr(Poller, "refresh_positions", refresh_positions)
    return asked


async def test_each_polled_part_fill_is_told_once_and_reads_the_positions(
    refreshes: list[str],
) -> None:
    full = replace(part(100, "50.00"), status="Filled", working=False, remaining=Decimal(0))
    lists = [[part(0, "0")]] * 2 + [[part(30, "49.98")]] * 4 + [[part(60, "49.99")]] * 4
    trader = FakeTrader(order_lists=[*lists, [full]])
    app, _ = console(trader)
    notices = told(app)

    def orders_notes() -> list[str]:
        return [n.message for n in notices if n.title == "Orders"]

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await settle(pilot, lambda: any(n.startswith("Filled") for n in orders_notes()))
        assert orders_notes() == [
            "Partly filled: BUY 30 of 100 AAA @ 49.98",
            "Partly filled: BUY 60 of 100 AAA @ 49.99",
            "Filled: BUY 100 AAA @ 50.00",
        ]
        calls = len(trader.order_calls)
        await settle(pilot, lambda: len(trader.order_calls) >= calls + 3)
        assert len(orders_notes()) == 3  # the finished order polled again: nothing new
        assert refreshes == [app.session.account.account_id] * 3  # type: ignore[union-attr]


async def test_a_pushed_part_fill_is_told_once_and_a_lagging_poll_does_not_repeat_it(
    clock: Clock, refreshes: list[str]
) -> None:
    working = order(41, "S000", "BUY", "LMT", "100", limit="50.00")
    trader = FakeTrader(order_list=[working])  # the polls lag: they never show the fills
    app, rounds, _, stream = streamed(clock, 2, trader=trader)
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: rounds.waiting > 0, "the first round")
        watch = app.session.orders
        assert isinstance(watch, OrderWatch)
        await until(pilot, lambda: watch.last is not None, "the baseline list")
        stream.state("live")
        thirty = order(41, "S000", "BUY", "LMT", "100", filled="30", avg="49.98", limit="50.00")
        stream.push_orders([thirty])
        await until(pilot, lambda: bool(refreshes), "the positions asked for")
        stream.push_orders([thirty])  # pushed again, unchanged
        stream.state("down", "the connection closed")
        calls = len(trader.order_calls)
        for _ in range(4):  # the polls (still 0 filled) come: let the waits end
            rounds.release()
            await pilot.pause(0.02)
        await until(pilot, lambda: len(trader.order_calls) > calls, "a poll")
        await pilot.pause(0.05)
        assert [n.message for n in notices if "filled" in n.message.casefold()] == [
            "Partly filled: BUY 30 of 100 S000 @ 49.98"
        ]
        assert len(refreshes) == 1


def test_a_part_fill_is_posted_once_per_growth_and_none_in_the_baseline() -> None:
    """Polled then pushed, the watch's own account: what each update carries in ``fills``."""
    posted: list[OrdersUpdated] = []
    watch = OrderWatch(FakeTrader(), "DU1", posted.append, clock=lambda: 1000.0)
    old = order(1, "AAA", "BUY", "LMT", "100", filled="40", account="DU1", at=0.0)
    fresh = order(2, "BBB", "SELL", "LMT", "50", account="DU1", at=0.0)
    watch.news.update([old, fresh], 1000.0)  # the baseline: old fills are not news
    assert watch.news.fills == ()
    watch.pushed([replace(fresh, filled=Decimal(20), remaining=Decimal(30))])
    watch.pushed([replace(fresh, filled=Decimal(20), remaining=Decimal(30))])
    watch.pushed([replace(old, filled=Decimal(50), remaining=Decimal(50))])
    assert [[(o.order_id, o.filled) for o in u.fills] for u in posted] == [
        [(2, Decimal(20))],
        [],
        [(1, Decimal(50))],
    ]
