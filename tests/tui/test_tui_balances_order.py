"""The stream's P&L (IBKR's ``spl``) and the balances refreshes, in the order they happened: a push
before the first refresh is shown at once (the strip shows what it has), and a refresh asked
before a push does not overwrite the pushed (newer) figures; one asked after it does."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from ibtui.tui.balances import BalancesUpdated, BalancesView, BalancesWatch, PnlPush
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.widgets.summary_strip import SummaryStrip
from tests.tui.conftest import PAPER, Clock, sample_positions
from tests.tui.test_tui_app import Rounds, make_app
from tests.tui.test_tui_balances import BalancesBroker, figures, strip_text
from tests.tui.test_tui_streaming import FakeStream, until


class SlowBalances(BalancesBroker):
    """Balances answered only when the test opens the gate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.asked = 0

    async def balances(self, account_id: str) -> BalancesView:
        self.asked += 1
        await self.gate.wait()
        return await super().balances(account_id)


def push(**values: str) -> list[PnlPush]:
    return [PnlPush(PAPER.account_id, **{k: Decimal(v) for k, v in values.items()})]


async def test_a_push_before_the_first_refresh_is_shown_and_the_slow_refresh_keeps_it() -> None:
    clock = Clock()
    rounds = Rounds(clock)
    broker = SlowBalances(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    broker.seen.update(p.conid for p in sample_positions())
    stream = FakeStream()
    app = make_app(clock, rounds, broker, stream=stream)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PositionsScreen), "the positions")
        await until(pilot, lambda: broker.asked == 1 and stream.sink is not None, "a refresh")
        strip = app.screen.query_one(SummaryStrip)
        assert not strip.display  # nothing yet
        stream.state("live")
        clock.advance(1.0)  # the push comes after the refresh was asked
        stream.push_pnl(push(net_liquidation="319000.00", daily_pnl="-100.00"))
        await until(pilot, lambda: strip.display, "the strip")
        text = strip_text(strip)
        assert "Net liq 319,000.00" in text and "Day P&L -100.00" in text
        assert app.session.balances is not None
        assert app.session.balances.net_liquidation == Decimal("319000.00")

        clock.advance(1.0)
        broker.gate.set()  # the refresh answers with figures read before the push
        assert "Excess liq —" in text and "Buying power —" in text  # not pushed: not yet
        await until(pilot, lambda: "Buying power 1,023,456.00" in strip_text(strip), "refreshed")
        text = strip_text(strip)
        assert "Net liq 319,000.00" in text and "Day P&L -100.00" in text  # the push's, kept
        assert "Excess liq 262,110.30" in text  # the refresh's own
        assert app.session.balances.total_cash == Decimal("93512.44")


async def test_a_refresh_asked_before_a_push_keeps_the_pushed_figures_not_one_asked_after() -> None:
    clock = Clock()
    answers: list[BalancesView] = []
    gate = asyncio.Event()

    class Source:
        async def balances(self, account_id: str) -> BalancesView:
            await gate.wait()
            gate.clear()
            return answers.pop(0)

    posted: list[Any] = []
    watch = BalancesWatch(Source(), PAPER.account_id, posted.append, clock=clock, currency="USD")

    watch.pushed(push(net_liquidation="1000.00", excess_liquidity="500.00"))  # no refresh yet
    first = posted[-1]
    assert isinstance(first, BalancesUpdated) and first.pushed
    assert first.balances.currency == "USD"
    assert first.balances.net_liquidation == Decimal("1000.00")
    assert first.balances.excess_liquidity == Decimal("500.00")

    answers.append(figures(net_liquidation=Decimal("900.00"), excess_liquidity=Decimal("400")))
    clock.advance(1.0)
    task = asyncio.ensure_future(watch.refresh())  # asked at T0+1
    await asyncio.sleep(0)
    clock.advance(1.0)
    watch.pushed(push(net_liquidation="1100.00"))  # arrives at T0+2, while the answer is on its way
    gate.set()
    await task
    view = posted[-1].balances
    assert not posted[-1].pushed
    assert view.net_liquidation == Decimal("1100.00")  # pushed after it was asked: kept
    assert view.excess_liquidity == Decimal("400")  # pushed before it was asked: the refresh's
    assert view.buying_power == Decimal("1023456.00")
    assert watch.shown == view

    clock.advance(1.0)
    answers.append(figures(net_liquidation=Decimal("1200.00")))
    gate.set()
    await watch.refresh()  # asked after the last push: its figures are the newer
    assert posted[-1].balances.net_liquidation == Decimal("1200.00")
