"""Sample orders and trades for the orders screen, the fake trader holding them, and a host app
that pushes :class:`~ibtui.tui.screens.orders.OrdersScreen`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Static

from ibtui.trading import Side
from ibtui.tui.order_watch import OrdersUpdated, OrderWatch, tell_order_news
from ibtui.tui.screens.orders import OrdersScreen
from ibtui.tui.trading import OrderView, TradeView
from ibtui.tui.viewmodels import AccountView
from tests.tui.conftest import PAPER, T0, Clock
from tests.tui.fake_trader import FakeTrader


def D(text: str) -> Decimal:
    return Decimal(text)


def order(
    order_id: int,
    symbol: str,
    side: str,
    kind: str,
    quantity: str,
    *,
    status: str = "Submitted",
    filled: str = "0",
    limit: str | None = None,
    stop: str | None = None,
    avg: str | None = None,
    at: float = T0 - 60,
    coid: str | None = None,
    account: str = PAPER.account_id,
) -> OrderView:
    working = status in ("Submitted", "PreSubmitted", "PendingSubmit", "PendingCancel")
    return OrderView(
        order_id=order_id,
        account_id=account,
        conid=1000 + order_id % 1000,
        symbol=symbol,
        side=Side(side),
        kind=kind,
        quantity=D(quantity),
        filled=D(filled),
        remaining=D(quantity) - D(filled),
        status=status,
        working=working,
        limit_price=D(limit) if limit is not None else None,
        stop_price=D(stop) if stop is not None else None,
        avg_price=D(avg) if avg is not None else None,
        tif="DAY",
        updated_at=at,
        coid=coid if coid is not None else f"ibtui-20231114-{order_id % 10000:04d}",
    )


def sample_orders() -> list[OrderView]:
    return [
        order(1487203301, "AAPL", "BUY", "LMT", "10", limit="215.00", at=T0 - 300),
        order(1487203302, "MSFT", "SELL", "STP", "5", stop="400.00", status="PreSubmitted"),
        order(1487203303, "SPY", "BUY", "STP LMT", "20", stop="590.00", limit="591.00", at=T0 - 30),
        order(
            1487203290,
            "TSLA",
            "SELL",
            "MKT",
            "3",
            status="Filled",
            filled="3",
            avg="250.12",
            at=T0 - 900,
        ),
        order(
            1487203280, "NVDA", "BUY", "LMT", "50", limit="120.50", status="Cancelled", at=T0 - 1800
        ),
    ]


def sample_trades() -> list[TradeView]:
    return [
        TradeView(
            "0000e0d5.672911f4.01.01",
            "TSLA",
            Side.SELL,
            D("3"),
            D("250.12"),
            time=T0 - 900,
            commission=D("1.00"),
            order_ref="ibtui-20231114-3290",
            account_id=PAPER.account_id,
        ),
        TradeView(
            "0000e0d5.672911f4.01.02",
            "AAPL",
            Side.BUY,
            D("5"),
            D("214.98"),
            time=T0 - 120,
            commission=D("0.35"),
            order_ref="ibtui-20231114-3301",
            account_id=PAPER.account_id,
        ),
    ]


def with_samples(**kw: Any) -> FakeTrader:
    """The fake trader holding :func:`sample_orders` and :func:`sample_trades`."""
    return FakeTrader(order_list=sample_orders(), trade_list=sample_trades(), **kw)


class Polls:
    """The screen's sleep: the next poll happens only when the test lets the wait end."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.permits: asyncio.Queue[None] = asyncio.Queue()
        self.waiting = 0
        self.delays: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.waiting += 1
        await self.permits.get()
        self.waiting -= 1
        self.clock.advance(seconds)

    def release(self) -> None:
        self.permits.put_nowait(None)


class OrdersApp(App[None]):
    """Runs the account's order watch as the console does and pushes an :class:`OrdersScreen`
    over a stand-in screen; records notifications and bells."""

    def __init__(
        self,
        trader: FakeTrader,
        clock: Clock,
        polls: Polls,
        *,
        account: AccountView = PAPER,
        bell: bool = True,
    ) -> None:
        super().__init__()
        self.trader = trader
        self.clock = clock
        self.polls = polls
        self.account = account
        self.use_bell = bell
        self.notes: list[str] = []
        self.bells = 0

    def compose(self) -> ComposeResult:
        yield Static("positions")

    def on_mount(self) -> None:
        self.order_watch = OrderWatch(
            self.trader,
            self.account.account_id,
            self.post_message,
            clock=self.clock,
            sleep=self.polls.sleep,
        )
        self.run_worker(self.order_watch.run(), exclusive=True, group="order-watch")
        self.push_screen(
            OrdersScreen(
                self.trader, self.account, self.order_watch, clock=self.clock, cursor_blink=False
            )
        )

    def on_orders_updated(self, message: OrdersUpdated) -> None:
        tell_order_news(self, message.news, bell=self.use_bell)

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notes.append(message)
        super().notify(message, **kwargs)

    def bell(self) -> None:
        self.bells += 1


async def until(pilot: Any, condition: Callable[[], bool], rounds: int = 200) -> None:
    """Let the app run until ``condition`` holds."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("condition not reached")
