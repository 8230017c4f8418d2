"""Streaming merged with polling (``ibtui.tui.streaming``), in the whole console on a fake stream:
what is in view is subscribed (and what scrolls out of view is not), a pushed tick reaches the
row at once, the poller leaves out what the stream covers (quiet or not: a closed market pushes
nothing), takes over at once when the stream drops, and hands back when it returns; the status
bar says which feed is live, steadily. Orders pushed reach the order watch (and the fill
notice) at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from ibtui.tui.app import IbtuiApp
from ibtui.tui.balances import PnlPush
from ibtui.tui.messages import QuotesUpdated
from ibtui.tui.order_watch import OrderWatch
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.streaming import StreamSink, StreamView
from ibtui.tui.trading import OrderView
from ibtui.tui.viewmodels import PositionView, QuoteView
from ibtui.tui.widgets.positions_table import PositionsTable
from tests.tui.conftest import PAPER, T0, Clock, ViewBroker, position, told
from tests.tui.fake_trader import FakeTrader
from tests.tui.fakes_trading import order
from tests.tui.test_tui_app import Rounds, make_app

SIZE = (120, 40)
ALLOWANCE = 100


class FakeStream:
    """A :class:`~ibtui.tui.streaming.Stream` the test drives: it records what is wanted, serves
    the first ``ALLOWANCE`` wanted conids that have ticked, and pushes what the test says."""

    def __init__(self) -> None:
        self.sink: StreamSink | None = None
        self.wants: list[list[int]] = []
        self.orders_wanted: list[bool] = []
        self.pnl_wanted: list[bool] = []
        self.ticked: set[int] = set()
        self.live = False
        self.ended = asyncio.Event()

    async def run(self, sink: StreamSink) -> None:
        self.sink = sink
        await self.ended.wait()
        self.ended.clear()

    def want_quotes(self, conids: Sequence[int]) -> None:
        self.wants.append(list(conids))

    def want_orders(self, on: bool) -> None:
        self.orders_wanted.append(on)

    def want_pnl(self, on: bool) -> None:
        self.pnl_wanted.append(on)

    def streamed(self) -> frozenset[int]:
        if not self.live or not self.wants:
            return frozenset()
        return frozenset(self.wants[-1][:ALLOWANCE]) & self.ticked

    @property
    def wanted(self) -> list[int]:
        return self.wants[-1] if self.wants else []

    # --- what the test makes happen ----------------------------------------------------------
    def state(self, status: str, reason: str = "") -> None:
        assert self.sink is not None
        self.live = status == "live"
        self.sink.state(StreamView(status, 0.0, reason))  # type: ignore[arg-type]

    def tick(self, prices: dict[int, str]) -> None:
        assert self.sink is not None
        self.ticked.update(prices)
        self.sink.quotes([QuoteView(c, Decimal(p)) for c, p in prices.items()])

    def push_orders(self, orders: list[OrderView]) -> None:
        assert self.sink is not None
        self.sink.orders(orders)

    def push_pnl(self, rows: list[PnlPush]) -> None:
        assert self.sink is not None
        self.sink.pnl(rows)


def many(count: int) -> list[PositionView]:
    return [position(1000 + i, f"S{i:03d}", "10", "50", "40", price_at=None) for i in range(count)]


class Streamed(NamedTuple):
    """The console on a :class:`FakeStream`: its poller's rounds released by the test."""

    app: IbtuiApp
    rounds: Rounds
    broker: ViewBroker
    stream: FakeStream


def streamed(clock: Clock, positions: int, **kwargs: Any) -> Streamed:
    """The console of the paper account holding ``positions`` positions (:func:`many`), polled
    every 2 s on ``clock``, its stream a :class:`FakeStream`; ``kwargs`` to the app."""
    rounds = Rounds(clock)
    broker = ViewBroker(many(positions), clock)
    stream = FakeStream()
    app = make_app(clock, rounds, broker, last_account=PAPER.account_id, stream=stream, **kwargs)
    return Streamed(app, rounds, broker, stream)


async def started(pilot: Any, rounds: Rounds, broker: ViewBroker) -> None:
    """The first round done, its warm-up retry too (the poller waits for the next round)."""
    await until(pilot, lambda: rounds.waiting > 0, "the first round")
    rounds.release()  # the warm-up's second ask
    await until(pilot, lambda: rounds.waiting > 0 and len(broker.quote_calls) >= 2, "warm")


async def until(pilot: Any, check: Any, what: str, tries: int = 100) -> None:
    for _ in range(tries):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never: {what}")


async def poll_round(pilot: Any, rounds: Rounds, broker: ViewBroker) -> list[int]:
    """Let the poller run one more round; the conids it asked for."""
    before = len(broker.quote_calls)
    rounds.release()
    await until(pilot, lambda: len(broker.quote_calls) > before and rounds.waiting, "a round")
    await pilot.pause()
    return [c for call in broker.quote_calls[before:] for c in call]


def status_text(app: IbtuiApp) -> str:
    screen = app.screen
    assert isinstance(screen, PositionsScreen)
    return screen.status_bar.render().plain


async def test_what_is_in_view_is_subscribed_and_what_scrolls_out_is_not(clock: Clock) -> None:
    app, _, _, stream = streamed(clock, 200)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PositionsScreen), "positions")
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        await until(pilot, lambda: screen.table.grid.row_count == 200, "every row")
        in_view = screen.conids_in_view()
        assert 20 < len(in_view) < 40
        await until(pilot, lambda: set(stream.wanted) == set(in_view), "the rows in view wanted")
        assert stream.orders_wanted == [False]  # no trader: no orders wanted

        await pilot.press("G")  # to the last rows
        await pilot.pause()
        now_in_view = screen.conids_in_view()
        assert len(now_in_view) > 20 and not set(now_in_view) & set(in_view)
        await until(pilot, lambda: set(stream.wanted) == set(now_in_view), "the new rows")
        assert not set(stream.wanted) & set(in_view)  # out of view: unsubscribed

        # the watchlist's and an open chart's instruments are wanted too, the chart's first
        app.watchlist.hold(777)
        await until(pilot, lambda: stream.wanted[:1] == [777], "the held instrument first")
        app.watchlist.release(777)
        await until(pilot, lambda: 777 not in stream.wanted, "the released one gone")


async def test_a_pushed_tick_reaches_the_row_at_once_and_the_poller_leaves_it_out(
    clock: Clock,
) -> None:
    app, rounds, broker, stream = streamed(clock, 3)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, rounds, broker)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        assert "(stream connecting)" in status_text(app)
        await until(pilot, lambda: set(stream.wanted) == {1000, 1001, 1002}, "the rows wanted")
        stream.state("live")
        stream.tick({1000: "61.25"})
        # at once, without a polling round
        cell = screen.table.cell
        await until(pilot, lambda: cell("DU4820311:1000", "last").text == "61.25", "the tick")
        assert "quotes stream 0s" in status_text(app)

        asked = await poll_round(pilot, rounds, broker)
        assert 1000 not in asked and {1001, 1002} <= set(asked)  # the rest is polled
        assert screen.table.cell("DU4820311:1000", "last").text == "61.25"  # not polled over


async def test_the_screen_takes_a_streamed_batch_as_a_burst_and_a_poll_merged_in_as_not(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream's burst ends every flash that is (nearly) over; a batch that holds a poll's
    quotes too is not all that moved, so it ends only its own rows' flashes."""
    applied: list[tuple[list[int], bool]] = []
    apply_quotes = PositionsTable.apply_quotes

    def record(table: PositionsTable, quotes: Any, *, burst: bool = False) -> None:
        applied.append((sorted(quotes), burst))
        apply_quotes(table, quotes, burst=burst)

    monkeypatch.setattr(PositionsTable, "apply_quotes", record)
    app, rounds, broker, stream = streamed(clock, 3)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, rounds, broker)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        await until(pilot, lambda: len(stream.wanted) == 3, "the rows wanted")
        assert applied and not any(burst for _, burst in applied)  # the polls: none a burst
        stream.state("live")
        applied.clear()
        stream.tick({1000: "61.25", 1001: "70.00"})
        await until(pilot, lambda: bool(applied), "the burst")
        assert applied == [([1000, 1001], True)]

        applied.clear()
        burst = QuotesUpdated({1000: QuoteView(1000, Decimal("61.50"))}, T0, burst=True)
        screen.post_message(burst)  # a burst still queued when a poll's batch comes
        screen.post_message(QuotesUpdated({1002: QuoteView(1002, Decimal("40.00"))}, T0))
        await until(pilot, lambda: bool(applied), "the merged batch")
        assert applied == [([1000, 1002], False)]
        assert screen.table.cell("DU4820311:1002", "last").text == "40.00"


async def test_polling_takes_over_when_the_stream_drops_and_hands_back(clock: Clock) -> None:
    app, rounds, broker, stream = streamed(clock, 3)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, rounds, broker)
        await until(pilot, lambda: len(stream.wanted) == 3, "the rows wanted")
        stream.state("live")
        stream.tick({1000: "61.25", 1001: "70.00"})
        assert {1000, 1001}.isdisjoint(await poll_round(pilot, rounds, broker))

        # the stream drops: the very next round polls everything
        stream.state("down", "the connection closed")
        assert {1000, 1001, 1002} <= set(await poll_round(pilot, rounds, broker))
        text = status_text(app)
        assert "quotes poll" in text and "(stream down)" in text

        # it comes back: handed back with the subscriptions' answers
        stream.state("live")
        stream.tick({1000: "61.50", 1001: "70.25"})
        await until(pilot, lambda: "quotes stream" in status_text(app), "stream in the bar")
        assert {1000, 1001}.isdisjoint(await poll_round(pilot, rounds, broker))


async def test_a_quiet_live_stream_stays_streamed_and_the_line_says_so_steadily(
    clock: Clock,
) -> None:
    """A closed market: each subscription answers once, then nothing moves and nothing is
    pushed. Over 30 s on the poller's clock the streamed rows are never polled and the status
    line says the same thing at every look ("quotes stream", the plan with its streamed rows),
    and their prices are not greyed; when the socket goes down it says "quotes poll", the rows
    grey and are polled at once."""
    app, rounds, broker, stream = streamed(clock, 200)
    async with app.run_test(size=(150, 40)) as pilot:  # room for the whole plan
        await started(pilot, rounds, broker)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        in_view = screen.conids_in_view()
        assert len(in_view) > 20
        await until(pilot, lambda: set(stream.wanted) == set(in_view), "the rows wanted")
        stream.state("live")
        stream.tick(dict.fromkeys(in_view, "50.00"))  # the answers; then silence
        await until(pilot, lambda: "quotes stream" in status_text(app), "stream in the bar")
        await poll_round(pilot, rounds, broker)
        said = status_text(app).partition("│ quotes")[2]  # the token's countdown aside
        assert said.startswith(f" stream 0s │ {len(in_view)} streamed, all 200 every "), said
        for _ in range(15):  # 30 s: a round every 2 s, nothing pushed
            asked = await poll_round(pilot, rounds, broker)
            assert set(in_view).isdisjoint(asked)
            assert status_text(app).partition("│ quotes")[2] == said
            await pilot.pause(0.3)  # the feed looks at what it covers every 0.25 s
            assert status_text(app).partition("│ quotes")[2] == said
        assert clock() - T0 >= 30
        table = screen.table
        shown = {f"DU4820311:{conid}" for conid in in_view}
        table.refresh_marks()
        assert not shown & table.stale_keys  # 30 s old, and current: not greyed

        stream.state("down", "the connection closed")
        await until(pilot, lambda: not table.streamed, "the table told")
        table.refresh_marks()
        assert shown <= table.stale_keys  # no longer vouched for: greyed until polled
        assert set(in_view) <= set(await poll_round(pilot, rounds, broker))
        text = status_text(app)
        assert "quotes poll 0s (stream down)" in text and "streamed" not in text, text
        table.refresh_marks()
        assert not shown & table.stale_keys


async def test_a_poll_asked_before_a_tick_does_not_show_over_it(clock: Clock) -> None:
    """One source of truth: a poll's quote of a conid the stream covers is dropped."""
    app, rounds, _, stream = streamed(clock, 2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: rounds.waiting > 0, "the first round")
        await until(pilot, lambda: len(stream.wanted) == 2, "the rows wanted")
        feed = app.session.stream
        assert feed is not None
        stream.state("live")
        stream.tick({1000: "61.25"})
        await pilot.pause()
        polled = QuotesUpdated(
            {1000: QuoteView(1000, Decimal("1.00")), 1001: QuoteView(1001, Decimal("2.00"))}
        )
        kept = feed.polled(polled)
        assert kept is not None and set(kept.quotes) == {1001}
        assert feed.polled(QuotesUpdated({1000: QuoteView(1000, Decimal("1.00"))})) is None


async def test_a_pushed_fill_is_notified_at_once_and_orders_are_polled_slowly(
    clock: Clock,
) -> None:
    working = order(41, "S000", "BUY", "LMT", "10", limit="50.00")
    trader = FakeTrader(order_list=[working])
    app, rounds, _, stream = streamed(clock, 2, trader=trader)
    notices = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: rounds.waiting > 0, "the first round")
        watch = app.session.orders
        assert isinstance(watch, OrderWatch)
        await until(pilot, lambda: watch.last is not None, "the baseline list")
        assert stream.orders_wanted == [True]
        stream.state("live")
        assert watch.pushing
        filled = order(41, "S000", "BUY", "LMT", "10", status="Filled", filled="10", avg="50.00")
        calls = len(trader.order_calls)
        stream.push_orders([filled])
        await until(
            pilot, lambda: any(n.message.startswith("Filled") for n in notices), "the notice"
        )
        assert len(trader.order_calls) == calls  # pushed, not polled
        assert watch.working == []

        stream.state("down", "the connection closed")  # a poll follows at once
        assert not watch.pushing


class SteppedWatch:
    """An order watch on a fake clock whose waits end only when the test steps (or the watch
    cuts one short): ``waits`` are the waits it began, ``posted`` its updates."""

    def __init__(self, trader: FakeTrader) -> None:
        self.clock = Clock()
        self.trader = trader
        self.posted: list[Any] = []
        self.waits: list[float] = []
        self._go = asyncio.Event()
        self.watch = OrderWatch(
            trader, PAPER.account_id, self.posted.append, clock=self.clock, sleep=self._sleep
        )

    async def _sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self._go.wait()
        self._go.clear()
        self.clock.advance(seconds)

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def step(self) -> None:
        """The wait under way runs out."""
        self._go.set()
        await self.settle()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OrderWatch]:
        task = asyncio.ensure_future(self.watch.run())
        try:
            await self.settle()
            yield self.watch
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_the_order_watch_polls_as_a_safety_net_while_pushed() -> None:
    stepped = SteppedWatch(
        FakeTrader(order_list=[order(41, "S000", "BUY", "LMT", "10", limit="50.00")])
    )
    waits, calls = stepped.waits, stepped.trader.order_calls
    async with stepped.running() as watch:
        assert waits == [5.0] and len(calls) == 1
        watch.set_pushing(True)
        await stepped.step()
        assert waits == [5.0, 30.0] and len(calls) == 2  # the safety net's pace
        watch.set_pushing(False)  # the stream went down: a poll at once
        await stepped.settle()
        assert len(calls) == 3 and waits[-1] == 5.0


async def test_an_order_watch_backing_off_polls_at_once_when_the_session_is_back() -> None:
    """A server restart fails the polls and the back-off grows (10, 20, 40 s); the poller's word
    that the session answers again ends the wait: a restart's dropped orders are told within
    two polls of its return, not a minute later."""
    stepped = SteppedWatch(
        FakeTrader(
            order_list=[order(41, "S000", "BUY", "LMT", "10", limit="50.00")],
            failures=[ConnectionError("refused"), ConnectionError("refused")],
        )
    )
    waits, posted, calls = stepped.waits, stepped.posted, stepped.trader.order_calls
    async with stepped.running() as watch:
        assert waits == [10.0] and posted[-1].orders is None  # the first failure's back-off
        watch.session_back()
        await stepped.settle()
        assert waits == [10.0, 20.0] and len(calls) == 2  # failed again: 20 s
        watch.session_back()
        await stepped.settle()
        assert len(calls) == 3 and posted[-1].orders is not None
        assert waits[-1] == 5.0  # listed: IBKR's pace again
        watch.session_back()  # a healthy watch has nothing to cut short
        await stepped.settle()
        assert len(calls) == 3


async def test_a_working_order_missing_from_a_list_is_looked_for_again_at_ibkrs_pace() -> None:
    """While pushed, the list is a safety net every 30 s; but a working order missing from one
    (a server restart dropped it: nothing is pushed of it) is looked for again 5 s later, and
    told as vanished then, not a minute later."""
    working = order(41, "S000", "BUY", "LMT", "10", limit="50.00")
    stepped = SteppedWatch(FakeTrader(order_lists=[[working], [working], [], []]))
    waits, posted = stepped.waits, stepped.posted
    stepped.watch.set_pushing(True)
    async with stepped.running():
        await stepped.step()
        assert waits == [30.0, 30.0]  # listed twice, pushed: the safety net's pace
        await stepped.step()  # missing from this list
        assert waits[-1] == 5.0 and posted[-1].vanished == ()
        await stepped.step()  # missing again: vanished
        assert [o.order_id for o in posted[-1].vanished] == [41]
        assert waits[-1] == 30.0
