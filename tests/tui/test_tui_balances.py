"""The account's balances: the strip over the positions (80×24 and 120×40), the account screen,
the marks of what moved, the margin warning, the "% NLV" column, the worker's schedule."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from ibtui.tui.app import IbtuiApp
from ibtui.tui.balances import BalancesView, BalancesWatch, CashBalance, changed_figures
from ibtui.tui.keymap import describe_active_bindings
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.widgets.summary_strip import SummaryStrip
from tests.tui.conftest import PAPER, Clock, ViewBroker, sample_positions
from tests.tui.drawn import brightness, style_of
from tests.tui.test_tui_app import Rounds, make_app, settle

SIZES = [(80, 24), (120, 40)]


def figures(**changes: Any) -> BalancesView:
    view = BalancesView(
        account_id=PAPER.account_id,
        currency="USD",
        net_liquidation=Decimal("318930.52"),
        total_cash=Decimal("93512.44"),
        cash=(
            CashBalance("EUR", Decimal("1200.00"), Decimal("1300.08")),
            CashBalance("USD", Decimal("92212.36"), Decimal("92212.36")),
        ),
        buying_power=Decimal("1023456.00"),
        available_funds=Decimal("255864.00"),
        excess_liquidity=Decimal("262110.30"),
        init_margin=Decimal("63066.52"),
        maint_margin=Decimal("56820.22"),
        sma=Decimal("190000.00"),
        gross_position_value=Decimal("225418.08"),
        market_value=Decimal("225418.08"),
        daily_pnl=Decimal("-215.40"),
        unrealized_pnl=Decimal("28733.17"),
        realized_pnl=Decimal("120.00"),
    )
    return replace(view, **changes)


class BalancesBroker(ViewBroker):
    """A broker that also reads balances: ``figures`` as the test sets them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.figures = figures()
        self.balance_reads = 0

    async def balances(self, account_id: str) -> BalancesView:
        self.balance_reads += 1
        return self.figures


def broker_and_app(**kwargs: Any) -> tuple[BalancesBroker, IbtuiApp, Rounds]:
    clock = Clock()
    rounds = Rounds(clock)
    broker = BalancesBroker(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    broker.seen.update(p.conid for p in sample_positions())
    return broker, make_app(clock, rounds, broker, **kwargs), rounds


async def shown(pilot: Any, app: IbtuiApp, rounds: Rounds) -> SummaryStrip:
    await settle(pilot, rounds)
    for _ in range(20):
        await pilot.pause()
        if app.session.balances is not None:
            break
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PositionsScreen)
    return screen.query_one(SummaryStrip)


def strip_text(strip: SummaryStrip) -> str:
    return str(strip.render())


async def refresh(pilot: Any, app: IbtuiApp) -> None:
    watch = app.session.balances_watch
    assert watch is not None
    await watch.refresh()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_the_strip_shows_what_fits(size: tuple[int, int]) -> None:
    _, app, rounds = broker_and_app()
    async with app.run_test(size=size) as pilot:
        strip = await shown(pilot, app, rounds)
        text = strip_text(strip)
        assert strip.display and strip.region.width == size[0]
        assert len(text) <= strip.content_size.width  # nothing cut off
        if size[0] < 110:
            assert text.startswith("NLV 318,930.52  ExLiq 262,110.30 (82.18%)  Day -215.40")
            assert "Buying power" not in text
        else:
            assert "Net liq 318,930.52" in text and "Excess liq 262,110.30 (82.18%)" in text
            assert "Day P&L -215.40" in text
            assert "Buying power 1,023,456.00" in text and "Cash 93,512.44" in text
        assert "▲" not in text and "▼" not in text and "LOW MARGIN" not in text
        assert not strip.margin_warning


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_the_strip_s_labels_are_drawn_dimmer_than_its_figures(size: tuple[int, int]) -> None:
    """The labels are the theme's muted text ($text-muted, "auto 60%": the text's colour at 60%
    over the background), as the account screen's are: a partial style of it drew them pure
    white, brighter than the figures beside them."""
    _, app, rounds = broker_and_app()
    async with app.run_test(size=size) as pilot:
        strip = await shown(pilot, app, rounds)
        line = strip.render_line(0)
        label, figure = ("NLV ", "318,930.52") if size[0] < 110 else ("Net liq ", "318,930.52")
        assert label in line.text and figure in line.text
        label_colour, figure_colour = style_of(line, label).color, style_of(line, figure).color
        assert brightness(label_colour) < 0.8 * brightness(figure_colour), (
            label_colour,
            figure_colour,
        )
        background = style_of(line, label).bgcolor
        assert brightness(label_colour) > brightness(background)  # dimmed, still readable


async def test_values_that_moved_are_marked_until_the_next_refresh() -> None:
    broker, app, rounds = broker_and_app()
    async with app.run_test(size=(80, 24)) as pilot:
        strip = await shown(pilot, app, rounds)
        broker.figures = figures(net_liquidation=Decimal("318000.00"), daily_pnl=Decimal("-100.00"))
        await refresh(pilot, app)
        text = strip_text(strip)
        assert "NLV 318,000.00▼" in text and "Day -100.00▲" in text
        assert "ExLiq 262,110.30 " in text  # unchanged: no mark
        await refresh(pilot, app)  # nothing moved since
        assert "▲" not in strip_text(strip) and "▼" not in strip_text(strip)


def test_changed_figures_names_each_move_and_cash_by_currency() -> None:
    old = figures()
    new = figures(
        excess_liquidity=Decimal("1.00"),
        cash=(CashBalance("EUR", Decimal("1000.00")), CashBalance("USD", Decimal("92212.36"))),
    )
    assert changed_figures(old, new) == {"excess_liquidity": -1, "cushion": -1, "cash:EUR": -1}
    assert changed_figures(None, new) == {}
    # a move too small to show is not marked (the cushion is shown to 0.01%)
    tiny = figures(net_liquidation=old.net_liquidation + Decimal("0.001"))  # type: ignore[operator]
    assert changed_figures(old, tiny) == {}
    assert changed_figures(replace(old, account_id="U1"), new) == {}  # another account


async def test_a_thin_margin_cushion_is_in_the_warning_colour() -> None:
    broker, app, rounds = broker_and_app()
    broker.figures = figures(excess_liquidity=Decimal("15946.53"))  # 5% of net liquidation
    async with app.run_test(size=(80, 24)) as pilot:
        strip = await shown(pilot, app, rounds)
        assert strip.margin_warning
        line = strip.render()
        assert "LOW MARGIN" in line.plain
        warn = strip.get_component_rich_style("summary-strip--warn", partial=True)
        styled = {line.plain[s.start : s.end] for s in line.spans if s.style == warn}
        assert {"15,946.53", " (5.00%)", "  LOW MARGIN"} <= styled
        assert "318,930.52" not in styled  # net liquidation is not a warning
        await pilot.press("dollar_sign")
        await pilot.pause()
        assert app.screen.margin_warning  # type: ignore[attr-defined]


async def test_the_threshold_is_configurable() -> None:
    broker, app, rounds = broker_and_app(margin_warning=0.02)
    broker.figures = figures(excess_liquidity=Decimal("15946.53"))  # 5%: above 2%
    async with app.run_test(size=(80, 24)) as pilot:
        strip = await shown(pilot, app, rounds)
        assert not strip.margin_warning and "LOW MARGIN" not in strip_text(strip)


async def test_the_account_screen_lists_every_figure_and_follows_the_refreshes() -> None:
    from ibtui.tui.screens.account import AccountScreen

    broker, app, rounds = broker_and_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app, rounds)
        positions = app.screen
        offered = {info.description for info in describe_active_bindings(positions)}
        assert "Balances" in offered  # the key, and the palette's command of the same name
        await pilot.press("dollar_sign")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AccountScreen)
        text = screen.figures_text()
        for expected in (
            "Net liquidation (USD)",
            "318,930.52",
            "Total cash",
            "93,512.44",
            "Buying power",
            "1,023,456.00",
            "Available funds",
            "Excess liquidity",
            "Margin cushion",
            "82.18%",
            "Initial margin",
            "63,066.52",
            "Maintenance margin",
            "56,820.22",
            "SMA",
            "190,000.00",
            "Gross position value",
            "225,418.08",
            "Day's P&L",
            "-215.40",
            "EUR",
            "1,200.00   = 1,300.08 USD",
        ):
            assert expected in text, expected
        broker.figures = figures(total_cash=Decimal("90000.00"))
        await refresh(pilot, app)
        text = screen.figures_text()
        assert "90,000.00 ▼" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is positions


async def test_each_position_shows_its_share_of_net_liquidation() -> None:
    _, app, rounds = broker_and_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app, rounds)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        table = screen.table
        key = f"{PAPER.account_id}:756733"  # SPY: 300 × 580.25
        assert table.cell(key, "nlv_pct").text == "54.58%"
        sap = f"{PAPER.account_id}:495512552"  # in EUR: converted at 1.0834
        assert table.cell(sap, "nlv_pct").text == "0.98%"
        table.sort_by("nlv_pct", True)
        await pilot.pause()
        assert table.visible_keys[0] == key


async def test_a_broker_without_balances_shows_no_strip_and_no_key() -> None:
    clock = Clock()
    rounds = Rounds(clock)
    broker = ViewBroker(sample_positions(), clock, accounts=[PAPER], echo_prices=True)
    app = make_app(clock, rounds, broker)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, rounds)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        assert not screen.query_one(SummaryStrip).display
        await pilot.press("dollar_sign")
        await pilot.pause()
        assert app.screen is screen


class Source:
    def __init__(self) -> None:
        self.reads = 0

    async def balances(self, account_id: str) -> BalancesView:
        self.reads += 1
        return figures(net_liquidation=Decimal(self.reads))


async def test_the_watch_refreshes_on_its_interval_and_sooner_after_a_fill() -> None:
    waits: list[float] = []
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if seconds > 5:
            await gate.wait()  # the long wait only ends when the test says

    posted: list[object] = []
    source = Source()
    watch = BalancesWatch(source, PAPER.account_id, posted.append, interval=20.0, sleep=sleep)
    task = asyncio.ensure_future(watch.run())
    try:
        for _ in range(20):
            await asyncio.sleep(0)
        assert source.reads == 1 and waits == [5.0, 15.0]  # IBKR's 5 s gap, then the rest
        watch.refresh_soon()  # a fill
        for _ in range(20):
            await asyncio.sleep(0)
        assert source.reads == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(posted) == 2


async def test_an_empty_first_pnl_is_asked_again_soon() -> None:
    class FirstEmpty:
        reads = 0

        async def balances(self, account_id: str) -> BalancesView:
            self.reads += 1
            return figures(daily_pnl=None if self.reads == 1 else Decimal(1))

    watch = BalancesWatch(FirstEmpty(), PAPER.account_id, lambda _: None, interval=20.0)
    assert await watch.refresh() == 5.0  # IBKR's pacing of the partitioned P&L
    assert await watch.refresh() == 20.0


async def test_a_failed_refresh_is_said_and_backs_off() -> None:
    from ibtui.tui.balances import BalancesFailed

    class Failing:
        async def balances(self, account_id: str) -> BalancesView:
            raise RuntimeError("summary: 503 Service Unavailable\x1b[2J")

    posted: list[object] = []
    watch = BalancesWatch(Failing(), PAPER.account_id, posted.append, interval=20.0)
    assert await watch.refresh() == 20.0
    assert await watch.refresh() == 40.0
    assert isinstance(posted[0], BalancesFailed)
    assert posted[0].error.startswith("summary: 503 Service Unavailable")
    assert "\x1b" not in posted[0].error  # one clean line
