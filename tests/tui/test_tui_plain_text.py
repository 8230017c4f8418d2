"""Server and user text is shown as plain text, never read as markup: a symbol
``[b]MK[/b][@click=app.quit]QUIT[/]`` is shown as it is in every notification, label, question
and palette hit, and nowhere becomes a style or a clickable action."""

from __future__ import annotations

import ast
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Static

import ibtui
from ibtui.trading import Check, FieldError, OrderDraft, SubmitOutcome, SubmitStatus
from ibtui.tui.app import IbtuiApp
from ibtui.tui.market import MarketDataError, SearchResultView, TicketRequested, WatchItem
from ibtui.tui.market import Watchlist as WatchlistModel
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.chart import ChartScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.screens.search import SearchScreen
from ibtui.tui.screens.watchlist import WatchlistScreen
from ibtui.tui.trading import QuestionView
from ibtui.tui.viewmodels import QuoteView
from tests.tui.conftest import Clock, ViewBroker, position
from tests.tui.fake_market import FakeMarket, MemoryStore, ScreenHost
from tests.tui.fake_trader import FakeTrader
from tests.tui.test_tui_app_trading import WORKING
from tests.tui.test_tui_search import PaletteHost
from tests.tui.test_tui_ticket import TicketApp

HOSTILE = "[b]MK[/b][@click=app.quit]QUIT[/]"
EVIL = SearchResultView(1, HOSTILE, f"EVIL {HOSTILE}", ("STK", HOSTILE), f"EX{HOSTILE}")


def rendered(widget: Widget) -> tuple[str, list[str]]:
    """What ``widget`` draws: its text, and the actions (``@click`` metas) in it."""
    strips = widget.render_lines(widget.region.reset_offset)
    text = "\n".join(strip.text for strip in strips)
    actions = [
        str(segment.style.meta["@click"])
        for strip in strips
        for segment in strip
        if segment.style is not None and "@click" in segment.style.meta
    ]
    return text, actions


def toasts(app: App[Any]) -> list[tuple[str, list[str]]]:
    """Each notification shown: its text (before the toast wraps it), and the actions drawn."""
    return [
        (str(toast.render()), rendered(toast)[1])
        for toast in app.screen.query("Toast")
        if toast.region
    ]


def assert_literal(shown: list[tuple[str, list[str]]], text: str) -> None:
    """``text`` is drawn as it is (markup and all), and no action was drawn anywhere."""
    assert any(text in drawn for drawn, _ in shown), [drawn for drawn, _ in shown]
    assert [actions for _, actions in shown if actions] == []


async def until(pilot: Pilot[Any], condition: Any, rounds: int = 150) -> None:
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")


class EvilMarket(FakeMarket):
    async def search(self, text: str) -> list[SearchResultView]:
        self.searches.append(text)
        return [EVIL]


async def test_search_notifications_show_the_symbol_as_it_is() -> None:
    watchlist = WatchlistModel(store=MemoryStore())
    screen = SearchScreen(EvilMarket(), watchlist=watchlist, text="evil")
    app = ScreenHost(screen)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await until(pilot, lambda: screen.table.row_count == 1)
        screen.table.focus()
        await pilot.press("plus")
        await until(pilot, lambda: bool(toasts(app)))
        assert_literal(toasts(app), f"{HOSTILE} (EX{HOSTILE}) added to the")
        await pilot.press("plus")
        await until(pilot, lambda: len(toasts(app)) == 2)
        assert_literal(toasts(app), f"{HOSTILE} is already on the")
        assert_literal([rendered(screen.table)], HOSTILE)


async def test_the_chart_and_the_watchlist_notifications_show_the_symbol_as_it_is() -> None:
    watchlist = WatchlistModel(store=MemoryStore())
    chart = ChartScreen(FakeMarket(count=30), 1, HOSTILE, description=HOSTILE, watchlist=watchlist)
    app = ScreenHost(chart)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("plus")
        await until(pilot, lambda: bool(toasts(app)))
        assert_literal(toasts(app), f"{HOSTILE} added to the watchlist.")
        assert_literal([rendered(chart.query_one("#chart-header"))], HOSTILE)

    store = MemoryStore([WatchItem(1, HOSTILE)])
    screen = WatchlistScreen(WatchlistModel.load(store), None)
    app = ScreenHost(screen)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert_literal([rendered(screen.table)], HOSTILE)
        await pilot.press("d")
        await until(pilot, lambda: bool(toasts(app)))
        assert_literal(toasts(app), f"{HOSTILE} removed from the watchlist.")


async def test_palette_hits_show_the_symbol_as_it_is() -> None:
    app = PaletteHost(EvilMarket())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        palette.query_one(Input).value = "evil"
        hits = palette.query_one(CommandList)
        await until(pilot, lambda: hits.option_count >= 2)
        await pilot.pause()
        prompts = [hits.get_option_at_index(i).prompt for i in range(hits.option_count)]
        assert f"Chart {HOSTILE} · EVIL {HOSTILE} (EX{HOSTILE})" in str(prompts[0])
        assert f"STK {HOSTILE} · conid 1" in str(prompts[0])
        assert_literal([rendered(hits)], f"Chart {HOSTILE}")


def console(**kwargs: Any) -> tuple[IbtuiApp, ViewBroker]:
    clock = Clock()
    broker = ViewBroker([position(1, HOSTILE, "10", "50", "40")], clock, echo_prices=True)
    app = IbtuiApp(
        broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False, **kwargs
    )
    app.order_watch_seconds = 0.05
    return app, broker


async def shown_console(pilot: Pilot[Any], app: IbtuiApp) -> PositionsScreen:
    await until(pilot, lambda: isinstance(app.screen, PositionsScreen))
    positions = app.screen
    assert isinstance(positions, PositionsScreen)
    await until(pilot, lambda: len(positions.table.visible_keys) == 1)
    return positions


async def notified(pilot: Pilot[Any], app: App[Any], text: str) -> None:
    """Wait for a notification with ``text``; it is drawn as it is, and carries no action."""
    await until(pilot, lambda: any(text in drawn for drawn, _ in toasts(app)))
    assert_literal(toasts(app), text)


async def test_a_keymap_problem_quotes_the_config_as_it_is() -> None:
    app, _ = console(keymap={HOSTILE: "x"})
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await shown_console(pilot, app)
        await notified(pilot, app, f"{HOSTILE}: no binding has this id")


async def test_a_fill_notification_shows_the_symbol_as_it_is() -> None:
    working = replace(WORKING, symbol=HOSTILE)
    filled = replace(working, status="Filled", working=False, filled=Decimal(10))
    app, _ = console(trader=FakeTrader(order_lists=[[working], [filled]]))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await shown_console(pilot, app)
        await notified(pilot, app, f"Filled: BUY 10 {HOSTILE}")


async def test_an_error_notification_shows_the_error_as_it_is_without_control_codes() -> None:
    app, broker = console()
    broker.failures = [RuntimeError(f"IBKR answered 400: {HOSTILE}\x1b]52;c;SGk=\x07")]
    # wide enough for the whole error beside its countdown in the status bar
    async with app.run_test(size=(200, 40), notifications=True) as pilot:
        await notified(pilot, app, f"IBKR answered 400: {HOSTILE}\ufffd]52;c;SGk=\ufffd")
        positions = app.screen
        assert isinstance(positions, PositionsScreen)
        bar = str(positions.status_bar.render())
        assert "\x1b" not in bar and "\x07" not in bar and HOSTILE in bar


async def test_a_ticket_in_an_unknown_currency_says_so_as_it_is() -> None:
    market = FakeMarket()
    market.currency_failures = [MarketDataError(f"IBKR said {HOSTILE}")]
    app, _ = console(trader=FakeTrader(), market=market)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await shown_console(pilot, app)
        app.post_message(TicketRequested(2, HOSTILE, HOSTILE, "BUY"))  # not held
        await notified(pilot, app, f"The currency of {HOSTILE} is not known (IBKR said {HOSTILE})")


async def test_an_order_sent_notification_shows_the_order_as_it_is() -> None:
    app, _ = console(trader=FakeTrader())
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await shown_console(pilot, app)
        app.ticket_flow.done(SubmitOutcome(SubmitStatus.ACCEPTED, f"BUY 10 {HOSTILE}: order 1"))
        await notified(pilot, app, f"BUY 10 {HOSTILE}: order 1")


def test_every_notification_in_ibtui_is_plain_text() -> None:
    """A guard for notifications to come: each ``notify`` call says ``markup=False``."""
    calls = []
    for path in sorted((Path(ibtui.__file__).parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "notify"
            ):
                plain = any(
                    k.arg == "markup"
                    and isinstance(k.value, ast.Constant)
                    and k.value.value is False
                    for k in node.keywords
                )
                calls.append((f"{path.name}:{node.lineno}", plain))
    assert len(calls) >= 20  # the guard sees them
    assert [where for where, plain in calls if not plain] == []


class FailingBroker(ViewBroker):
    async def accounts(self) -> Any:
        raise RuntimeError(f"no answer {HOSTILE}")


async def test_a_connection_problem_is_shown_as_it_is() -> None:
    broker = FailingBroker([], Clock())
    app = IbtuiApp(broker, poll=PollSettings(interval=60), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.query_one("#connecting", Static)
        await until(pilot, lambda: "no answer" in rendered(status)[0])
        assert_literal([rendered(status)], f"Could not connect to IBKR: no answer {HOSTILE}")


async def test_a_question_and_its_message_id_are_shown_as_they_are() -> None:
    screen = QuestionScreen(QuestionView(f"Sure? {HOSTILE}", message_id=HOSTILE))
    app = ScreenHost(screen)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        box = screen.query_one("#question-box")
        assert_literal([rendered(box)], f"message {HOSTILE}")
        assert_literal([rendered(screen.query_one("#question-text"))], f"Sure? {HOSTILE}")


class HostileChecks(FakeTrader):
    def check(self, draft: OrderDraft, quote: QuoteView | None) -> Check:
        return Check((FieldError("quantity", f"more than {HOSTILE} allows"),))


async def test_a_tickets_field_problem_is_shown_as_it_is() -> None:
    app = TicketApp(HostileChecks())
    async with app.run_test(size=(120, 40)) as pilot:
        ticket = app.screen
        ticket.query_one("#quantity", Input).value = "10"
        ticket.query_one("#limit", Input).value = "215"
        await pilot.pause()
        box = ticket.query_one("#quantity-error", Static)
        await until(pilot, lambda: "more than" in rendered(box)[0])
        assert_literal([rendered(box)], f"more than {HOSTILE} allows")
