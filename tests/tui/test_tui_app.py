"""The whole console: login → account → positions with live updates; keys, keymap, help, palette."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.help import HelpScreen
from ibtui.tui.screens.login import LoginScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.widgets.status_bar import StatusBar
from tests.tui.conftest import LIVE, PAPER, Clock, Rejected, ViewBroker, position, told
from tests.tui.test_tui_login import Flow

SIZE = (120, 40)


class Rounds:
    """The poller's sleep: time moves on only when the test lets the next wait end."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.permits: asyncio.Queue[None] = asyncio.Queue()
        self.waiting = 0

    async def sleep(self, seconds: float) -> None:
        self.waiting += 1
        await self.permits.get()
        self.waiting -= 1
        self.clock.advance(seconds)

    def release(self, count: int = 1) -> None:
        for _ in range(count):
            self.permits.put_nowait(None)


def holdings() -> list:  # type: ignore[type-arg]
    return [
        position(1, "AAA", "10", "50", "40", price_at=None),
        position(2, "BBB", "5", "80", "90", price_at=None),
        position(3, "CCC", "1", "10", "10", price_at=None, account=LIVE.account_id),
    ]


def make_app(clock: Clock, rounds: Rounds, broker: ViewBroker, **kwargs: object) -> IbtuiApp:
    return IbtuiApp(
        broker,
        clock=clock,
        sleep=rounds.sleep,
        poll=PollSettings(interval=2.0),
        cursor_blink=False,
        **kwargs,  # type: ignore[arg-type]
    )


async def settle(pilot: object, rounds: Rounds) -> None:
    """Let the app run until the poller waits again."""
    for _ in range(40):
        await pilot.pause()  # type: ignore[attr-defined]
        if rounds.waiting:
            return


async def test_choose_an_account_and_watch_prices_move(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER, LIVE])
    remembered: list[str] = []
    app = make_app(clock, rounds, broker, remember_account=remembered.append)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, AccountsScreen)
        await pilot.press("j", "enter")
        await settle(pilot, rounds)
        screen = app.screen
        assert isinstance(screen, PositionsScreen) and screen.account == LIVE
        assert remembered == ["U1234567"]
        assert broker.selected == ["U1234567"]
        assert screen.table.visible_keys == ["U1234567:3"]
        assert screen.status_bar.render().plain.startswith(" LIVE ")
        # first snapshot was a warm-up; the re-ask brings the price
        rounds.release()
        await settle(pilot, rounds)
        assert screen.table.cell("U1234567:3", "last").text == "103.00"
        assert "quotes 0s" in screen.status_bar.render().plain
        broker.offset = Decimal("1.5")
        rounds.release()
        await settle(pilot, rounds)
        assert screen.table.cell("U1234567:3", "last").text == "104.50"
        assert screen.table.cell("U1234567:3", "unrealized_pnl").text == "+94.50"


async def test_login_then_the_only_account(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    app = make_app(clock, rounds, broker, login=Flow())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        await pilot.press(*"a1b2c3d4", "enter")
        await settle(pilot, rounds)
        screen = app.screen
        assert isinstance(screen, PositionsScreen) and screen.account == PAPER
        assert sorted(screen.table.visible_keys) == ["DU4820311:1", "DU4820311:2"]


async def test_remembered_account_then_switch_with_a(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER, LIVE])
    app = make_app(clock, rounds, broker, last_account="DU4820311")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        assert isinstance(app.screen, PositionsScreen) and app.screen.account == PAPER
        await pilot.press("a")
        assert isinstance(app.screen, AccountsScreen)
        await pilot.press("escape")  # back to the same account
        assert isinstance(app.screen, PositionsScreen) and app.screen.account == PAPER
        await pilot.press("a", "j", "enter")
        await settle(pilot, rounds)
        assert isinstance(app.screen, PositionsScreen) and app.screen.account == LIVE
        assert broker.selected == ["DU4820311", "U1234567"]
        assert len(app.screen_stack) == 2  # default screen + positions: nothing piles up


async def test_a_remembered_live_account_opens_with_a_loud_notice(clock: Clock) -> None:
    """Resuming goes straight into the last account; when it is LIVE, a red notice says so (a
    PAPER one opens quietly, and a LIVE one picked on the accounts screen was a choice)."""

    def notices(app: IbtuiApp) -> list[tuple[str, str]]:
        return [(n.message, n.severity) for n in told(app) if "LIVE" in n.message]

    for remembered, expected in (
        (
            LIVE,
            [
                (
                    "Resumed LIVE account U1234567: orders are real. Press a to pick another "
                    "account.",
                    "error",
                )
            ],
        ),
        (PAPER, []),
    ):
        rounds = Rounds(clock)
        broker = ViewBroker(holdings(), clock, accounts=[PAPER, LIVE])
        app = make_app(clock, rounds, broker, last_account=remembered.account_id)
        told(app)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, rounds)
            assert isinstance(app.screen, PositionsScreen) and app.screen.account == remembered
            assert notices(app) == expected
            if remembered is PAPER:
                await pilot.press("a", "j", "enter")  # LIVE, chosen
                await settle(pilot, rounds)
                assert isinstance(app.screen, PositionsScreen) and app.screen.account == LIVE
                assert notices(app) == []


async def test_the_start_notice_is_said_once_the_accounts_are_in(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    app = make_app(clock, rounds, broker, start_notice="Demo: the market replays Fri Dec 04")
    notices = told(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        assert isinstance(app.screen, PositionsScreen)
        said = [n.message for n in notices if "replays" in n.message]
        assert said == ["Demo: the market replays Fri Dec 04"]


async def test_errors_reach_the_status_bar(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    broker.failures = [Rejected("IBKR answered 503 on /portfolio/DU4820311/positions/0")]
    app = make_app(clock, rounds, broker)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, rounds)
        bar = app.screen.query_one(StatusBar)
        assert "IBKR answered 503" in bar.render().plain
        assert "retrying in 1s" in bar.render().plain
        rounds.release()
        await settle(pilot, rounds)  # positions load; the warm-up re-ask waits
        rounds.release()
        await settle(pilot, rounds)
        assert "503" not in bar.render().plain


async def test_keymap_remaps_keys_and_reports_unknown_ids(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    keymap = {"positions.cursor_down": "n", "app.help": "f1", "no.such.binding": "x"}
    app = make_app(clock, rounds, broker, keymap=keymap)
    assert [p.binding_id for p in app.keymap_problems] == ["no.such.binding"]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        grid = app.screen.query_one("PositionsGrid")
        assert grid.cursor_row == 0  # type: ignore[attr-defined]
        await pilot.press("j")
        assert grid.cursor_row == 0  # type: ignore[attr-defined]
        await pilot.press("n")
        assert grid.cursor_row == 1  # type: ignore[attr-defined]
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        keys = {info.binding_id: info.keys for info in app.screen.entries}
        assert keys["positions.cursor_down"] == "n"
        assert keys["app.help"] == "f1"


async def test_help_lists_the_bindings_with_their_ids(clock: Clock) -> None:
    rounds = Rounds(clock)
    app = make_app(clock, rounds, ViewBroker(holdings(), clock, accounts=[PAPER]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        entries = {info.binding_id: (info.keys, info.description) for info in help_screen.entries}
        assert entries["positions.filter"] == ("/", "Filter")
        assert entries["positions.sort_next"] == (">", "Sort")
        assert entries["positions.cursor_down"] == ("j", "Down")
        assert entries["app.accounts"] == ("a", "Accounts")
        assert entries["app.quit"] == ("^q", "Quit")
        table = help_screen.query_one("#help-table")
        assert table.row_count == len(help_screen.entries)  # type: ignore[attr-defined]
        await pilot.press("escape")
        assert isinstance(app.screen, PositionsScreen)


async def test_command_palette_runs_actions_by_name(clock: Clock) -> None:
    rounds = Rounds(clock)
    app = make_app(clock, rounds, ViewBroker(holdings(), clock, accounts=[PAPER]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        await pilot.press("ctrl+p")
        await pilot.press(*"unrl p&l (desc")
        await pilot.pause(0.3)  # the palette searches in a worker with a debounce
        await pilot.press("enter")
        await pilot.pause()
        assert screen.table.sort_column == "unrealized_pnl" and screen.table.sort_reverse
        await pilot.press("ctrl+p", *"accounts")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountsScreen)


async def test_keys_work_while_the_broker_hangs(clock: Clock) -> None:
    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    never = asyncio.Event()
    answered = broker.quotes

    async def hanging_quotes(conids: list[int]) -> object:
        await never.wait()  # a snapshot request that does not come back
        return await answered(conids)

    broker.quotes = hanging_quotes  # type: ignore[assignment,method-assign]
    app = make_app(clock, rounds, broker)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(20):
            await pilot.pause()
            if isinstance(app.screen, PositionsScreen) and app.screen.table.grid.row_count:
                break
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        assert broker.quote_calls == [] and not rounds.waiting  # the poller is stuck in I/O
        await pilot.press("j")
        assert screen.table.grid.cursor_row == 1
        await pilot.press("slash", "b")
        assert screen.table.visible_keys == ["DU4820311:2"]
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_a_competing_login_says_what_happened_and_t_takes_the_session_back(
    clock: Clock,
) -> None:
    from ibtui.tui.screens.competing import CompetingSessionScreen
    from ibtui.tui.viewmodels import SessionState

    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    app = make_app(clock, rounds, broker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        positions = app.screen
        assert isinstance(positions, PositionsScreen)
        broker.state = SessionState.COMPETING  # TWS logs in with the same user
        clock.advance(60)  # the minute's keep-alive is due
        for _ in range(2):  # the first round's warm-up pause, then the next round
            rounds.release()
            await settle(pilot, rounds)
        screen = app.screen
        assert isinstance(screen, CompetingSessionScreen)
        text = str(screen.query_one("#competing-text").render())
        assert "Another login holds the brokerage session" in text
        assert "t    take it back now" in text and "every 5 minutes" in text
        assert "session competing" in positions.query_one(StatusBar).render().plain

        await pilot.press("t")
        assert app.screen is positions
        rounds.release()
        await settle(pilot, rounds)
        assert broker.take_backs == 1
        assert "session connected" in positions.query_one(StatusBar).render().plain


async def test_leaving_the_session_to_the_other_login_shows_the_screen_no_more(
    clock: Clock,
) -> None:
    from ibtui.tui.screens.competing import CompetingSessionScreen
    from ibtui.tui.viewmodels import SessionState

    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    broker.state = SessionState.COMPETING
    app = make_app(clock, rounds, broker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        assert isinstance(app.screen, CompetingSessionScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, PositionsScreen)
        for _ in range(3):  # the keep-alive goes on, still competing: no new screen
            clock.advance(10)
            rounds.release()
            await settle(pilot, rounds)
        assert isinstance(app.screen, PositionsScreen) and broker.take_backs == 0
        broker.state = SessionState.CONNECTED  # the other platform logged out; ibtui took it
        clock.advance(10)
        rounds.release()
        await settle(pilot, rounds)
        assert "session connected" in app.screen.query_one(StatusBar).render().plain


async def test_a_competing_login_while_locked_is_shown_once_unlocked(clock: Clock) -> None:
    from ibtui.tui.screens.competing import CompetingSessionScreen
    from ibtui.tui.screens.lock import LockScreen
    from ibtui.tui.viewmodels import SessionState

    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    app = make_app(clock, rounds, broker, idle_lock_minutes=1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        clock.advance(61)
        await pilot.pause(1.2)  # the idle check runs every second
        assert isinstance(app.screen, LockScreen)
        broker.state = SessionState.COMPETING
        for _ in range(2):
            rounds.release()
            await settle(pilot, rounds)
        assert app.session.state is SessionState.COMPETING
        assert isinstance(app.screen, LockScreen)  # nothing offered over the lock

        await pilot.press("enter")
        await pilot.pause()

        assert isinstance(app.screen, CompetingSessionScreen)


async def test_screens_coming_and_going_leave_no_footer_keys_behind(clock: Clock) -> None:
    # Textual's own footer keeps every key it ever composed (Textualize/textual#6666): a console
    # that runs for days and changes screens all day must not grow with it.
    import gc

    def live_keys(key_type: type[object]) -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, key_type))

    rounds = Rounds(clock)
    broker = ViewBroker(holdings(), clock, accounts=[PAPER])
    app = make_app(clock, rounds, broker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, rounds)
        # Textual does not export the footer's key widget: its class, from a key on the screen
        key_type = type(app.screen.query_one("FooterKey"))
        counts = []
        for _ in range(6):
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.pause()
            await pilot.pause()
            counts.append(live_keys(key_type))
        assert counts[-1] == counts[1], counts
        footer_text = " ".join(str(k.render()) for k in app.screen.query(key_type))
        assert "Help" in footer_text and "Accounts" in footer_text  # the footer still works


def test_the_competing_screen_and_error_name_the_connections_own_pace() -> None:
    # The console may not import the client, so the screen keeps its own copy of the pace.
    from ibtui.ibkr.connect import RECLAIM_EVERY
    from ibtui.ibkr.errors import CompetingSessionError
    from ibtui.tui.screens.competing import RECLAIM_EVERY as SHOWN

    assert SHOWN == RECLAIM_EVERY
    said = str(CompetingSessionError(400, "/iserver/marketdata/snapshot", "no bridge"))
    assert f"every {RECLAIM_EVERY / 60:g} minutes" in said
