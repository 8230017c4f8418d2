"""5,000 positions: the grid shows a page at a time ("rows x–y of N", page keys), and j/k, the
filter and sorting are handled while quotes for every position keep arriving."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Static

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.viewmodels import AccountView, PositionView, QuotePlan, QuoteView, SessionState
from ibtui.tui.widgets.positions_table import PositionsTable
from tests.tui.conftest import PAPER, Clock, position

COUNT = 5_000
WAIT = 60.0  # generous: the machine is shared


def symbol(i: int) -> str:
    return f"S{i:04d}"


def description(i: int) -> str:
    """One position in 50 is a "QUARTZ" (the filter's target: no other row has a q)."""
    return f"QUARTZ TRUST {i:04d}" if i % 50 == 0 else f"HOLDING {i:04d}"


class BigBroker:
    """A Broker over ``count`` positions; each snapshot of a conid quotes it a cent higher than
    the one before, so a price tells how many times that conid was quoted."""

    def __init__(self, count: int) -> None:
        self._positions = [
            position(
                i + 1,
                symbol(i),
                "10",
                "100",
                "90",
                description=description(i),
                price_at=None,
            )
            for i in range(count)
        ]
        self.times_quoted: dict[int, int] = {}

    async def accounts(self) -> Sequence[AccountView]:
        return [PAPER]

    async def select_account(self, account_id: str) -> None:
        await asyncio.sleep(0)

    async def positions(self, account_id: str) -> Sequence[PositionView]:
        await asyncio.sleep(0)  # I/O: the loop runs other tasks meanwhile
        return self._positions

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        assert len(conids) <= 100
        await asyncio.sleep(0)
        answer = []
        for conid in conids:
            n = self.times_quoted.get(conid, 0) + 1
            self.times_quoted[conid] = n
            answer.append(QuoteView(conid, Decimal(100) + Decimal(n) / 100))
        return answer

    async def keep_alive(self, *, take_back: bool = False) -> SessionState:
        return SessionState.CONNECTED

    def lst_expires_at(self) -> float | None:
        return None


def times_applied(table: PositionsTable) -> int:
    """The fewest quotes any position's price reflects (0 until every one has a quote)."""
    fewest = None
    for view in table.views.values():
        if view.price_at is None or view.last is None:
            return 0
        n = int((view.last - 100) * 100)
        fewest = n if fewest is None else min(fewest, n)
    return fewest or 0


async def wait_for(pilot: Pilot[None], what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in time"
        await pilot.pause(0.05)


async def quoted(pilot: Pilot[None], count: int) -> PositionsTable:
    """The positions table once all ``count`` rows are in it and each has had a quote."""
    app = pilot.app
    await wait_for(pilot, "positions screen", lambda: isinstance(app.screen, PositionsScreen))
    screen = app.screen
    assert isinstance(screen, PositionsScreen)
    table = screen.table
    await wait_for(pilot, "all rows", lambda: table.grid.row_count == count and not table.filling)
    await wait_for(pilot, "a quote for every position", lambda: times_applied(table) >= 1)
    return table


CHARACTERS = {"slash": "/", "greater_than_sign": ">"}


async def key(pilot: Pilot[None], name: str, handled: Callable[[], bool]) -> None:
    """Press a key without waiting for the app to go idle (``pilot.press`` waits for the quote
    stream to pause), then wait until what it does is done."""
    character = CHARACTERS.get(name, name if len(name) == 1 else None)
    pilot.app.post_message(events.Key(name, character))
    await wait_for(pilot, f"effect of {name!r}", handled)


def pager(table: PositionsTable) -> str:
    box = table.query_one("#pager", Static)
    return str(box.render()) if box.display else ""


async def test_five_thousand_positions_page_and_keys_work_while_quotes_arrive() -> None:
    broker = BigBroker(COUNT)
    app = IbtuiApp(
        broker,
        poll=PollSettings(interval=2.0, positions_every=3600, keep_alive_every=3600),
        cursor_blink=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        table = await quoted(pilot, COUNT)
        grid = table.grid

        # one page on the screen, and where it is in the whole
        first, last, total = table.shown_rows
        page = last - first + 1
        assert (first, total) == (1, COUNT) and 10 < page < 40
        assert pager(table) == f"rows 1–{last} of 5,000"
        await key(pilot, "ctrl+d", lambda: table.shown_rows[0] > last)
        assert pager(table).startswith(f"rows {table.shown_rows[0]:,}–")
        await key(pilot, "pagedown", lambda: table.shown_rows[0] > 2 * page)
        await key(pilot, "g", lambda: table.shown_rows[:2] == (1, last) and grid.cursor_row == 0)

        # keys while every position keeps being quoted
        before = times_applied(table)
        await key(pilot, "j", lambda: grid.cursor_row == 1)
        await key(pilot, "j", lambda: grid.cursor_row == 2)
        await key(pilot, "k", lambda: grid.cursor_row == 1)

        def box_focused() -> bool:  # the box is made on the first "/"
            boxes = list(table.query("#filter").results(Input))
            return bool(boxes) and boxes[0].has_focus

        await key(pilot, "slash", box_focused)
        box = table.query_one("#filter", Input)
        await key(pilot, "q", lambda: box.value == "q")
        await key(pilot, "u", lambda: box.value == "qu" and not table.filling)
        assert table.visible_keys == [f"{PAPER.account_id}:{i + 1}" for i in range(0, COUNT, 50)]
        assert pager(table) == f"rows 1–{last - 3} of 100"  # the filter box takes 3 lines
        await key(pilot, "enter", lambda: grid.has_focus)
        await key(pilot, "escape", lambda: grid.row_count == COUNT and not table.filling)
        assert pager(table) == f"rows 1–{last} of 5,000"

        await key(pilot, "r", lambda: table.sort_reverse and not table.filling)
        assert table.visible_keys[0] == f"{PAPER.account_id}:{COUNT}"  # the last symbol first
        await key(pilot, "greater_than_sign", lambda: table.sort_column == "description")
        assert str(grid.columns["description"].label) == "Description ▼"
        await wait_for(pilot, "re-sorted rows", lambda: not table.filling)
        assert table.visible_keys[0] == f"{PAPER.account_id}:{COUNT - 49}"  # "QUARTZ TRUST 4950"

        # quotes for all 5,000 went on arriving and being drawn meanwhile
        await wait_for(pilot, "a later round", lambda: times_applied(table) > before)
        assert min(broker.times_quoted.values()) > before


class RecordingBroker(BigBroker):
    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.calls: list[list[int]] = []

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        self.calls.append(list(conids))
        return await super().quotes(conids)


async def test_the_rows_on_screen_are_quoted_first() -> None:
    """Scrolled to the last page, the next round asks for the rows on screen first (a round of
    ten batches and more takes over a second at IBKR's pace)."""
    broker = RecordingBroker(1_000)
    app = IbtuiApp(
        broker,
        poll=PollSettings(interval=0.2, positions_every=3600, keep_alive_every=3600),
        cursor_blink=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        table = await quoted(pilot, 1_000)
        await key(pilot, "G", lambda: table.shown_rows[1] == 1_000)
        on_screen = set(table.conids_in_view())
        asked = len(broker.calls)
        await wait_for(pilot, "the next round", lambda: len(broker.calls) >= asked + 20)
        assert 1_000 in on_screen and 1 not in on_screen
        # a batch leads with them (in the positions' own order they end the last batch)
        assert any(set(call[: len(on_screen)]) == on_screen for call in broker.calls[asked:])


class PacedBigBroker(BigBroker):
    """A :class:`BigBroker` that tells the poller IBKR's snapshot pace (10 requests a second)."""

    def snapshot_rate(self) -> float | None:
        return 10.0


async def test_the_status_bar_states_the_rotation_and_rows_out_of_view_grey_by_their_own_age() -> (
    None
):
    """5,000 positions at IBKR's pace: the status bar says how fresh each kind of row is kept, and
    a row out of view that the rotation has not reached for a while is greyed when it is shown
    (its own age), while the rows in view, asked every round, are not."""
    clock = Clock()
    running = asyncio.Event()
    running.set()

    async def sleep(seconds: float) -> None:  # simulated time; the poller can be held
        await running.wait()
        clock.advance(seconds)
        await asyncio.sleep(0.01)

    broker = PacedBigBroker(COUNT)
    app = IbtuiApp(
        broker,
        poll=PollSettings(interval=2.0, positions_every=3600, keep_alive_every=3600),
        clock=clock,
        sleep=sleep,
        cursor_blink=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        table = await quoted(pilot, COUNT)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        in_view = len(table.conids_in_view())
        plan = QuotePlan(every=2.0, in_view=in_view, watched=0, total=COUNT, all_every=14.0)
        await wait_for(
            pilot, "the stated plan", lambda: screen.status_bar.status.quote_plan == plan
        )
        line = str(screen.status_bar.render())
        # as much of it as fits the 120 columns, the bound of the whole book always
        assert line.endswith("│ in view every 2 s, all 5,000 every 14 s"), line
        assert len(line) <= 120 and line.count("quotes") == 1  # "quotes 0s │ in view every …"

        running.clear()  # the poller waits (between rounds, or at a warm-up pause)
        await pilot.pause(0.1)
        now = clock()
        ages = {key: now - view.price_at for key, view in table.views.items() if view.price_at}
        top = table.visible_keys[0]
        assert ages[top] <= 2 * 2.0  # in view: asked every round
        oldest = max(ages, key=lambda key: ages[key])
        assert ages[oldest] > table.stale_after  # the rotation has not reached it for a while
        table.grid.move_to(oldest)
        conid = table.views[oldest].conid
        await wait_for(pilot, "the old row in view", lambda: conid in table.conids_in_view())
        table.refresh_marks()
        assert oldest in table.stale_keys
        grey = table.cell(oldest, "last").style
        assert grey is not None and grey.color is not None  # shown greyed, not as fresh
        assert top not in table.stale_keys
        running.set()


async def test_each_row_greys_by_the_pace_stated_for_it() -> None:
    """At a 0.1 s interval IBKR's pace runs a round every 0.22 s ("in view every 0.3 s"): a row
    in view is greyed once older than three times that pace, not three intervals (0.3 s, less
    than two of its rounds); a row out of view once older than the stated bound of the whole
    book, no sooner and no later."""
    clock = Clock()
    running = asyncio.Event()
    running.set()

    async def sleep(seconds: float) -> None:  # simulated time; the poller can be held
        await running.wait()
        clock.advance(seconds)
        await asyncio.sleep(0.01)

    count = 300
    broker = PacedBigBroker(count)
    settings = PollSettings(interval=0.1, positions_every=3600, keep_alive_every=3600)
    app = IbtuiApp(broker, poll=settings, clock=clock, sleep=sleep, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await quoted(pilot, count)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        await wait_for(
            pilot, "a stated plan", lambda: screen.status_bar.status.quote_plan is not None
        )
        plan = screen.status_bar.status.quote_plan
        assert plan is not None and plan.every == pytest.approx(2 / 9)  # two requests a round
        line = str(screen.status_bar.render())
        assert (
            f"in view every 0.3 s, all 300 every {math.ceil(plan.all_every * 10) / 10:g} s" in line
        )
        running.clear()  # the poller waits
        await pilot.pause(0.1)

        in_view = set(table.conids_in_view())
        views = table.views
        shown = {key for key, view in views.items() if view.conid in in_view}
        assert len(shown) > 20

        def expected_grey() -> set[str]:
            now = clock()
            grey = set()
            for key, view in views.items():
                assert view.price_at is not None
                limit = 3 * plan.every if key in shown else plan.all_every
                if now - view.price_at > limit:
                    grey.add(key)
            return grey

        asked_at = min(views[key].price_at or 0.0 for key in shown)
        clock.advance(asked_at + 0.5 - clock())  # the rows in view half a second old
        table.refresh_marks()
        greyed = set(table.stale_keys)
        assert not greyed & shown  # within three times the stated pace
        ages = [clock() - (view.price_at or 0.0) for view in views.values()]
        assert any(0.3 < age < plan.all_every for age in ages)
        assert greyed == expected_grey()

        clock.advance(0.2)  # 0.7 s: more than three rounds of 0.22 s missed
        table.refresh_marks()
        assert shown <= table.stale_keys
        assert table.stale_keys == expected_grey()
        clock.advance(plan.all_every)  # all of them older than the book's bound
        table.refresh_marks()
        assert table.stale_keys == set(views)
        running.set()
