"""``?``: every key binding in force on the screen below, with the id the config's keymap uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from ibtui.tui import keymap as ids
from ibtui.tui.keymap import BindingInfo

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    AUTO_FOCUS = "#help-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss_help", "Close", id=ids.HELP_CLOSE),
        Binding("j", "cursor_down", "Down", show=False, id=ids.HELP_DOWN),
        Binding("k", "cursor_up", "Up", show=False, id=ids.HELP_UP),
    ]

    def __init__(self, bindings: Sequence[BindingInfo], *, title: str = "Keys") -> None:
        super().__init__()
        self.entries = list(bindings)
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(self.title_text, id="help-title")
            yield DataTable[Text](id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                'Remap keys in the config\'s [keymap] section: binding-id = "key[,key]". '
                "ctrl+p opens the command palette.",
                id="help-note",
                markup=False,
            )

    def on_mount(self) -> None:
        table: DataTable[Text] = self.query_one("#help-table", DataTable)
        table.add_column("Key", key="key")
        table.add_column("Action", key="action")
        table.add_column("Binding id", key="id")
        for info in self.entries:
            table.add_row(
                Text(info.keys, style="bold"),
                Text(info.description),
                Text(info.binding_id or "", style="dim"),
            )

    def action_dismiss_help(self) -> None:
        self.dismiss(None)

    def action_cursor_down(self) -> None:
        self.query_one("#help-table", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#help-table", DataTable).action_cursor_up()
