"""Alerts in the console: set from the grid (and the watchlist, the palette), fired on the prices
the grid shows, the P&L and the fills; told by a toast, the bell and a desktop notification in
the terminal's bytes; kept across a restart; listed, paused, edited and deleted."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.drivers.headless_driver import HeadlessDriver
from textual.widgets import Input, Select

from ibtui.alerts.rules import new_alert
from ibtui.alerts.store import AlertStore
from ibtui.trading.journal import Journal, read_journal
from ibtui.tui.alerts import AlertSettings
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.alerts import AlertDialog, AlertsScreen
from ibtui.tui.screens.positions import PositionsScreen
from tests.tui.conftest import Clock, ViewBroker, position, told
from tests.tui.fake_trader import FakeTrader
from tests.tui.test_tui_app import Rounds, settle
from tests.tui.test_tui_app_trading import WORKING

SIZE = (120, 40)


def console(
    tmp_path: Path | None = None, *, trader: FakeTrader | None = None, **alerts: Any
) -> tuple[IbtuiApp, ViewBroker, Rounds]:
    """One account holding 10 AAA (conid 1, bought at 40): the broker quotes 101 + offset."""
    clock = Clock()
    rounds = Rounds(clock)
    broker = ViewBroker([position(1, "AAA", "10", "50", "40", price_at=None)], clock)
    store = AlertStore(tmp_path) if tmp_path is not None else None
    app = IbtuiApp(
        broker,
        trader=trader,
        clock=clock,
        sleep=rounds.sleep,
        poll=PollSettings(interval=2.0),
        cursor_blink=False,
        alerts=AlertSettings(store=store, **alerts),
    )
    app.order_watch_seconds = 0.05
    told(app)  # what it says, from its start (alert_toasts)
    return app, broker, rounds


async def round_at(pilot: Any, broker: ViewBroker, rounds: Rounds, price: str) -> None:
    """One poll round quoting AAA at ``price``."""
    broker.offset = Decimal(price) - 101
    rounds.release()
    await settle(pilot, rounds)
    await pilot.pause()


async def written(app: IbtuiApp) -> None:
    """The alerts file and the journal written (their threads done)."""
    for worker in [w for w in app.workers if w.group == "alerts"]:
        await worker.wait()


def alert_toasts(app: IbtuiApp) -> list[str]:
    return [n.message for n in told(app) if n.title == "Alert"]


async def start(pilot: Any, app: IbtuiApp, rounds: Rounds) -> None:
    await settle(pilot, rounds)
    rounds.release()  # the first snapshot only warms the conid up
    await settle(pilot, rounds)
    await pilot.pause()
    assert isinstance(app.screen, PositionsScreen)


async def open_dialog(pilot: Any, app: IbtuiApp, key: str = "exclamation_mark") -> AlertDialog:
    """The alert dialog, opened by ``key`` (``!`` for a new alert, ``e`` to edit one)."""
    await pilot.press(key)
    await pilot.pause()
    dialog = app.screen
    assert isinstance(dialog, AlertDialog)
    return dialog


async def from_palette(pilot: Any, command: str) -> None:
    """``command`` run from the command palette."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*command)
    await pilot.pause(0.5)
    await pilot.press("enter")
    await pilot.pause(0.3)


async def set_alert(pilot: Any, app: IbtuiApp, kind: str, level: str, repeat: bool) -> None:
    dialog = await open_dialog(pilot, app)
    dialog.query_one("#alert-kind", Select).value = kind
    dialog.query_one("#alert-mode", Select).value = repeat
    await pilot.pause()
    box = dialog.query_one("#alert-level", Input)
    box.value = level
    box.focus()
    await pilot.press("enter")
    await pilot.pause()
    assert not isinstance(app.screen, AlertDialog)


async def test_set_from_the_grid_prefilled_it_fires_once_per_crossing() -> None:
    app, broker, rounds = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        dialog = await open_dialog(pilot, app)
        assert dialog.query_one("#alert-level", Input).value == "101"  # the price on the grid
        await pilot.press("escape")
        await set_alert(pilot, app, "above", "102", repeat=True)
        assert [describe.symbol for describe in app.alerts.book] == ["AAA"]
        assert app.alerts.book.alerts[0].conid == 1
        for price in ("101.5", "102.05", "102.5", "101.95"):  # over it, hovering above it
            await round_at(pilot, broker, rounds, price)
        assert alert_toasts(app) == ["AAA is above 102.00: last 102.05"]
        await round_at(pilot, broker, rounds, "101.8")  # back past the margin (0.102): re-armed
        await round_at(pilot, broker, rounds, "102.2")
        assert len(alert_toasts(app)) == 2


@pytest.mark.parametrize(
    ("kind", "level", "prices", "told"),
    [
        ("below", "100", ["100.5", "99.9", "100.05", "99.5"], "AAA is below 100.00: last 99.90"),
        ("crosses", "101.5", ["101", "101.6", "101.45", "101.7"], "AAA crossed 101.50 going up"),
        # 10 shares bought at 40: unrealized P&L 10 x (price - 40)
        ("pnl_above", "620", ["101.5", "102.2", "101.98", "102.5"], "AAA unrealized P&L 622.00"),
        ("pnl_below", "600", ["101.5", "99.5", "99.97", "99"], "AAA unrealized P&L 595.00"),
    ],
)
async def test_each_kind_fires_once_on_the_grids_prices(
    kind: str, level: str, prices: list[str], told: str
) -> None:
    app, broker, rounds = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await set_alert(pilot, app, kind, level, repeat=True)
        for price in prices:
            await round_at(pilot, broker, rounds, price)
        toasts = alert_toasts(app)
        assert len(toasts) == 1 and toasts[0].startswith(told), toasts


async def test_the_move_on_the_day_fires_from_the_quotes_change() -> None:
    app, _, _ = console()
    alert = new_alert("move_pct", "AAA", 1, Decimal("3"), repeat=True)
    async with app.run_test(size=SIZE) as pilot:
        app.alerts.add(alert)
        from ibtui.tui.messages import QuotesUpdated
        from ibtui.tui.viewmodels import QuoteView

        for pct in ("1.0", "-3.4", "-3.2", "2.9"):
            app.post_message(QuotesUpdated({1: QuoteView(1, Decimal(100), None, Decimal(pct))}))
            await pilot.pause()
        assert alert_toasts(app) == ["AAA moved -3.40% on the day (alert at 3.00%)"]


async def test_a_fill_alert_fires_on_the_order_watchs_fill(tmp_path: Path) -> None:
    filled = replace(
        WORKING, status="Filled", working=False, filled=Decimal(10), avg_price=Decimal("49.98")
    )
    journal = Journal(tmp_path / "journal.jsonl")
    app, _, rounds = console(
        trader=FakeTrader(order_lists=[[WORKING], [WORKING], [filled]]),
        journal=lambda fields: journal.record("alert", **dict(fields)),  # account in fields
    )
    async with app.run_test(size=SIZE) as pilot:
        app.alerts.add(new_alert("fill", "AAA", 1, None))
        await start(pilot, app, rounds)
        for _ in range(40):  # the poller and the order watch wait on the same sleep
            rounds.release(2)
            await pilot.pause(0.05)
            if alert_toasts(app):
                break
        rounds.release(6)
        await pilot.pause(0.3)
        assert alert_toasts(app) == ["Filled: BUY 10 AAA @ 49.98"]  # once
        await written(app)
    (line,) = read_journal(tmp_path / "journal.jsonl")
    assert line["event"] == "alert" and line["kind"] == "fill" and line["symbol"] == "AAA"
    assert line["account"] == "DU4820311" and line["text"] == "Filled: BUY 10 AAA @ 49.98"


async def test_set_quit_restart_listed_then_paused_edited_deleted(tmp_path: Path) -> None:
    app, _, rounds = console(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await set_alert(pilot, app, "below", "95.5", repeat=False)
        await written(app)
        await pilot.press("ctrl+q")  # quit
        await pilot.pause()
    assert app.return_code == 0
    saved = json.loads((tmp_path / "alerts.json").read_text())
    assert (tmp_path / "alerts.json").stat().st_mode & 0o777 == 0o600
    assert [a["level"] for a in saved["alerts"]] == ["95.5"]

    app, _, rounds = console(tmp_path)  # a new console on the same state folder
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await pilot.press("L")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        table = screen.table
        assert [str(c) for c in table.get_row_at(0)] == [
            "AAA",
            "AAA price below 95.50",
            "one-shot",
            "armed",
            "0",
        ]
        await pilot.press("p")
        await pilot.pause()
        assert str(table.get_row_at(0)[3]) == "paused"
        dialog = await open_dialog(pilot, app, "e")
        box = dialog.query_one("#alert-level", Input)
        assert box.value == "95.5"
        box.value = "abc"
        await pilot.press("enter")
        await pilot.pause()
        error = dialog.query_one("#alert-error")
        assert "The level must be a number, not 'abc'." in str(error.render())
        box.value = "96"
        await pilot.press("enter")
        await pilot.pause()
        assert str(table.get_row_at(0)[1]) == "AAA price below 96.00"
        await pilot.press("d")
        await pilot.pause()
        assert table.row_count == 0
        await written(app)
    assert json.loads((tmp_path / "alerts.json").read_text())["alerts"] == []


async def test_enter_on_the_alerts_screen_edits_the_selected_alert() -> None:
    """The footer and the help say ``e``/enter edits: enter reaches the table first (it selects
    the row), and the row it selects is the alert edited."""
    app, _, rounds = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await set_alert(pilot, app, "below", "95.5", repeat=False)
        await set_alert(pilot, app, "above", "120", repeat=False)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)
        await pilot.press("j")
        dialog = await open_dialog(pilot, app, "enter")
        assert dialog.query_one("#alert-level", Input).value == "120"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)


async def test_a_bad_alerts_file_is_said_in_one_line_and_kept_aside(tmp_path: Path) -> None:
    (tmp_path / "alerts.json").write_text('{"alerts": [{"kind": "up"}]}')
    app, _, rounds = console(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        errors = [n.message for n in told(app) if n.severity == "error"]
        assert len(errors) == 1 and "moved to alerts.json.bad" in errors[0]
        assert "\n" not in errors[0]
    assert (tmp_path / "alerts.json.bad").read_text() == '{"alerts": [{"kind": "up"}]}'


class Terminal:
    """What the app writes to its terminal: a headless driver that says it is not headless
    and keeps every byte written through it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written: list[str] = []
        monkeypatch.setattr(HeadlessDriver, "is_headless", property(lambda _self: False))
        monkeypatch.setattr(HeadlessDriver, "write", lambda _self, data: self.written.append(data))

    @property
    def text(self) -> str:
        return "".join(self.written)


@pytest.mark.parametrize(
    ("bell", "desktop"),
    [(True, "osc9"), (True, "both"), (False, "off"), (True, "off"), (False, "both")],
)
async def test_the_terminal_gets_the_bell_and_the_desktop_notification_when_enabled(
    monkeypatch: pytest.MonkeyPatch, bell: bool, desktop: str
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    terminal = Terminal(monkeypatch)
    app, broker, rounds = console(desktop=desktop)
    app.ring_bell = app.alerts.bell = bell
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        app.alerts.add(new_alert("above", "A\x1b]52;c;x\x07AA", 1, Decimal("102")))
        before = len(terminal.written)
        await round_at(pilot, broker, rounds, "102.5")
        assert len(alert_toasts(app)) == 1
        after = terminal.text[sum(len(w) for w in terminal.written[:before]) :]
    bare = re.sub("\x1b\\][^\x07\x1b]*\x07", "", after)  # the OSCs' own BEL terminators out
    assert ("\x07" in bare) is bell  # the bell itself: only as [ui] bell says
    osc9 = "\x1b]9;ibtui alert: A\ufffd]52,c,x\ufffdAA is above 102.00: last 102.50\x07"
    osc777 = "\x1b]777;notify;ibtui alert;A\ufffd]52,c,x\ufffdAA is above 102.00: last 102.50\x07"
    assert (osc9 in after) is (desktop in ("osc9", "both"))
    assert (osc777 in after) is (desktop == "both")
    assert ("\x1b]9;" in after) is (desktop in ("osc9", "both"))
    if not bell and desktop == "off":
        assert "\x07" not in after and "\x1b]" not in after


async def test_inside_tmux_the_notification_is_wrapped_for_passthrough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    terminal = Terminal(monkeypatch)
    app, broker, rounds = console(desktop="osc9")
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        app.alerts.add(new_alert("above", "AAA", 1, Decimal("102")))
        await round_at(pilot, broker, rounds, "102.5")
    assert "\x1bPtmux;\x1b\x1b]9;ibtui alert: AAA is above 102.00: last 102.50\x07\x1b\\" in (
        terminal.text
    )


async def test_from_the_palette_the_alerts_screen_and_an_alert_on_the_selected_row() -> None:
    app, _, rounds = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await from_palette(pilot, "Set alert")
        dialog = app.screen
        assert isinstance(dialog, AlertDialog) and dialog.target.symbol == "AAA"
        await pilot.press("escape")
        await pilot.pause()
        await from_palette(pilot, "Alerts")
        assert isinstance(app.screen, AlertsScreen)
        assert app.screen.query_one("#alerts-empty").display


async def test_an_alert_on_a_watchlist_row_is_quoted_and_fires() -> None:
    from ibtui.tui.market import WatchItem
    from ibtui.tui.screens.watchlist import WatchlistScreen

    app, broker, rounds = console()
    app.watchlist.add(WatchItem(5, "EEE"))
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, WatchlistScreen)
        dialog = await open_dialog(pilot, app)
        assert dialog.target.conid == 5
        dialog.query_one("#alert-kind", Select).value = "above"
        await pilot.pause()
        box = dialog.query_one("#alert-level", Input)
        box.value = "106.5"  # EEE is quoted 100 + 5 % 7 + offset
        box.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("escape")  # back on the grid, EEE no longer watched: the alert's
        app.watchlist.remove(5)  # instrument is quoted all the same
        await pilot.pause()
        await round_at(pilot, broker, rounds, "102")  # AAA 102: EEE 106
        assert alert_toasts(app) == []
        await round_at(pilot, broker, rounds, "102.6")  # EEE 106.6
        assert alert_toasts(app) == ["EEE is above 106.50: last 106.60"]
        assert 5 in broker.quote_calls[-1]


async def test_a_hostile_symbol_is_shown_as_it_is_in_the_toast_the_list_and_the_dialog() -> None:
    hostile = "[b]MK[/b][@click=app.quit]QUIT[/]"
    app, broker, rounds = console()
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        app.alerts.add(new_alert("above", hostile, 1, Decimal("102")))
        await round_at(pilot, broker, rounds, "102.5")
        assert alert_toasts(app) == [f"{hostile} is above 102.00: last 102.50"]
        await pilot.press("L")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        assert str(screen.table.get_row_at(0)[0]) == hostile
        shown = app.export_screenshot().replace("&#160;", " ")
        # drawn as it is, not as markup, as the symbol and in the alert's description
        assert shown.count("[b]MK[/b][@click=app.quit]QUIT[/]") == 2
        dialog = await open_dialog(pilot, app, "e")
        assert f"Alert on {hostile}" in str(dialog.query_one("#alert-title").render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running  # no [@click=app.quit] ran
