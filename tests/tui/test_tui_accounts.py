"""The account picker: every account, PAPER/LIVE unmistakable, the last choice remembered."""

from __future__ import annotations

from textual.app import App
from textual.color import Color

from ibtui.tui.screens.accounts import AccountsScreen, AccountTable
from ibtui.tui.viewmodels import AccountView
from tests.tui.conftest import LIVE, PAPER
from tests.tui.drawn import style_of

THIRD = AccountView("DU999", alias=None, account_type="DEMO", base_currency="CHF", paper=True)


class PickerApp(App[None]):
    def __init__(self, screen: AccountsScreen) -> None:
        super().__init__()
        self.picker = screen
        self.results: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.picker, self.results.append)


async def test_lists_every_account_with_mode() -> None:
    app = PickerApp(AccountsScreen([PAPER, LIVE, THIRD]))
    async with app.run_test(size=(120, 40)):
        table = app.screen.query_one(AccountTable)
        assert table.row_count == 3
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(3)]
        assert rows[0] == [" PAPER ", "DU4820311", "Swing paper", "DEMO", "USD", "Jane Q Trader"]
        assert rows[1] == [" LIVE ", "U1234567", "—", "INDIVIDUAL", "EUR", "Jane Q Trader"]
        assert rows[2][:2] == [" PAPER ", "DU999"]
        paper, live = table.get_row_at(0)[0].style, table.get_row_at(1)[0].style
        assert paper != live


async def test_the_badges_text_is_the_theme_s_text_over_their_colour() -> None:
    """PAPER and LIVE in $text ("auto 87%": the contrasting text at 87% over the badge's
    colour), as the status bar draws its badge: a partial style of it drew them pure white."""
    app = PickerApp(AccountsScreen([PAPER, LIVE, THIRD]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(AccountTable)
        assert table.cursor_row == 0  # the cursor's colours are over the first row's badge
        for y, badge in ((2, "LIVE"), (3, "PAPER")):
            line = table.render_line(y)
            style = style_of(line, badge)
            assert style.bgcolor is not None and style.color is not None
            background = Color.from_rich_color(style.bgcolor)
            text = background + background.get_contrast_text(0.87)
            assert Color.from_rich_color(style.color) == text, (badge, style)
            assert style.color.get_truecolor() != (255, 255, 255)


async def test_choice_is_remembered_and_returned() -> None:
    chosen: list[str] = []
    app = PickerApp(AccountsScreen([PAPER, LIVE, THIRD], on_choose=chosen.append))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j", "enter")
        await pilot.pause()
        assert chosen == ["U1234567"]
        assert app.results == ["U1234567"]


async def test_cursor_starts_on_the_current_account_and_escape_goes_back() -> None:
    app = PickerApp(AccountsScreen([PAPER, LIVE, THIRD], current="DU999", can_go_back=True))
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.screen.query_one(AccountTable).cursor_row == 2
        await pilot.press("k")
        assert app.picker.highlighted == LIVE
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [None]


async def test_escape_does_nothing_without_a_previous_account() -> None:
    app = PickerApp(AccountsScreen([PAPER, LIVE]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == []
        assert isinstance(app.screen, AccountsScreen)


async def test_mouse_click_chooses() -> None:
    app = PickerApp(AccountsScreen([PAPER, LIVE]))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(AccountTable)
        await pilot.click(AccountTable, offset=(12, 2))  # header is row 0; LIVE is row 2
        await pilot.pause()
        if not app.results:  # first click highlights, second selects
            await pilot.click(AccountTable, offset=(12, 2))
            await pilot.pause()
        assert app.results == ["U1234567"], table.cursor_row
