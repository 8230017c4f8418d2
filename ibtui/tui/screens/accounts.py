"""The account picker: every account, PAPER or LIVE unmistakable; dismisses with the chosen id.

The last choice starts under the cursor; ``on_choose`` (if given) is told about each choice so the
app can remember it. ``escape`` goes back without choosing when there is somewhere to go back to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ibtui.tui import keymap as ids
from ibtui.tui.component_style import component_style
from ibtui.tui.viewmodels import AccountView
from ibtui.tui.widgets.footer import Footer

__all__ = ["AccountTable", "AccountsScreen"]


class AccountTable(DataTable[Text]):
    DEFAULT_CSS = """
    AccountTable {
        height: auto;
        max-height: 1fr;
        & > .account-table--paper { background: $primary; color: $text; text-style: bold; }
        & > .account-table--live { background: $error; color: $text; text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "account-table--paper",
        "account-table--live",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id=ids.ACCOUNTS_DOWN),
        Binding("k", "cursor_up", "Up", show=False, id=ids.ACCOUNTS_UP),
    ]


class AccountsScreen(Screen[str | None]):
    CSS_PATH = "accounts.tcss"
    AUTO_FOCUS = "AccountTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "choose", "Choose", id=ids.ACCOUNTS_CHOOSE, priority=True),
        Binding("escape", "back", "Back", id=ids.ACCOUNTS_BACK),
    ]

    def __init__(
        self,
        accounts: Sequence[AccountView],
        *,
        current: str | None = None,
        on_choose: Callable[[str], None] | None = None,
        can_go_back: bool = False,
    ) -> None:
        super().__init__()
        self.accounts = list(accounts)
        self.current = current
        self.on_choose = on_choose
        self.can_go_back = can_go_back

    def compose(self) -> ComposeResult:
        with Vertical(id="accounts-body"):
            yield Static("Choose an account", id="accounts-title")
            yield Static(
                "PAPER accounts trade simulated money; LIVE accounts trade real money.",
                id="accounts-note",
            )
            yield AccountTable(id="accounts", cursor_type="row")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.can_go_back
        return True

    def on_mount(self) -> None:
        table = self.query_one(AccountTable)
        paper = component_style(table, "account-table--paper")
        live = component_style(table, "account-table--live")
        table.add_column("Mode", key="mode", width=7)
        table.add_column("Account", key="account")
        table.add_column("Alias", key="alias")
        table.add_column("Type", key="type")
        table.add_column("Currency", key="currency")
        table.add_column("Holder", key="holder")
        for account in self.accounts:
            badge = Text(f" {account.mode} ", style=paper if account.paper else live)
            table.add_row(
                badge,
                Text(account.account_id, style="bold"),
                Text(account.alias or "—"),
                Text(account.account_type or "—"),
                Text(account.base_currency or "—"),
                Text(account.title or "—"),
                key=account.account_id,
            )
        ids_ = [account.account_id for account in self.accounts]
        if self.current in ids_:
            table.move_cursor(row=ids_.index(self.current), animate=False)

    @property
    def highlighted(self) -> AccountView | None:
        table = self.query_one(AccountTable)
        if not self.accounts or not table.is_valid_row_index(table.cursor_row):
            return None
        return self.accounts[table.cursor_row]

    def action_choose(self) -> None:
        account = self.highlighted
        if account is None:
            return
        if self.on_choose is not None:
            self.on_choose(account.account_id)
        self.dismiss(account.account_id)

    def action_back(self) -> None:
        if self.can_go_back:
            self.dismiss(None)

    @on(DataTable.RowSelected)
    def _clicked(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()
