"""The alerts screen (every alert: what it watches, one-shot or repeating, where it stands; edit,
pause or resume, delete) and the dialog that sets or edits one (:class:`AlertDialog`: the kind,
the level, one-shot or repeating), prefilled with the instrument and its current price.

Everything shown is plain text: a symbol from the server is never read as markup.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Select, Static

from ibtui.alerts.rules import KIND_NAMES, KINDS, Alert, Kind, describe, new_alert
from ibtui.tui import keymap as ids
from ibtui.tui.widgets.footer import Footer

if TYPE_CHECKING:
    from ibtui.tui.alerts import AlertWatch

__all__ = ["AlertDialog", "AlertTarget", "AlertsScreen"]

EMPTY_TEXT = "No alerts yet: press ! on a position, a chart or a watchlist row to set one."
_MODES = (("One-shot", False), ("Repeating", True))


class AlertTarget:
    """The instrument an alert is set on, with what the dialog prefills from."""

    def __init__(
        self,
        conid: int | None,
        symbol: str,
        last: Decimal | None = None,
        unrealized: Decimal | None = None,
    ) -> None:
        self.conid = conid
        self.symbol = symbol
        self.last = last
        self.unrealized = unrealized


def _prefill(kind: Kind, target: AlertTarget) -> str:
    if kind in ("above", "below", "crosses"):
        return "" if target.last is None else str(target.last)
    if kind == "move_pct":
        return "3"
    if kind in ("pnl_above", "pnl_below"):
        return "" if target.unrealized is None else str(target.unrealized.quantize(Decimal(1)))
    return ""


class AlertDialog(ModalScreen[Alert | None]):
    """Set an alert on ``target`` (or edit ``alert``); dismissed with the alert, or None."""

    DEFAULT_CSS = """
    AlertDialog { align: center middle; }
    AlertDialog > Vertical {
        width: 60; height: auto; padding: 0 1; border: thick $accent; background: $surface;
    }
    AlertDialog #alert-title { text-style: bold; }
    AlertDialog #alert-error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id=ids.ALERT_DIALOG_CANCEL),
        Binding("ctrl+s", "save", "Save", id=ids.ALERT_DIALOG_SAVE),
    ]
    AUTO_FOCUS = "#alert-level"

    def __init__(self, target: AlertTarget, alert: Alert | None = None) -> None:
        super().__init__()
        self.target = target
        self.alert = alert
        kinds = ("fill",) if target.conid is None else KINDS
        self.kinds: tuple[Kind, ...] = kinds
        self.kind: Kind = alert.kind if alert is not None else kinds[0]

    def compose(self) -> ComposeResult:
        alert = self.alert
        what = self.target.symbol or "any instrument"
        last = "" if self.target.last is None else f" (last {self.target.last})"
        with Vertical():
            yield Static(Content(f"Alert on {what}{last}"), id="alert-title")
            yield Label("Kind")
            yield Select(
                [(KIND_NAMES[k], k) for k in self.kinds],
                value=self.kind,
                allow_blank=False,
                id="alert-kind",
            )
            yield Label("Level (price, % or P&L)")
            level = _prefill(self.kind, self.target)
            if alert is not None and alert.level is not None:
                level = str(alert.level)
            yield Input(level, id="alert-level", disabled=self.kind == "fill")
            yield Label("When it has fired")
            yield Select(
                _MODES,
                value=alert.repeat if alert is not None else False,
                allow_blank=False,
                id="alert-mode",
            )
            yield Static("", id="alert-error")
            yield Static(Content("enter or ctrl+s: save · escape: cancel"), id="alert-keys")

    @on(Select.Changed, "#alert-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        if event.value in KINDS and event.value != self.kind:
            self.kind = event.value
            box = self.query_one("#alert-level", Input)
            box.value = _prefill(self.kind, self.target)
            box.disabled = self.kind == "fill"

    @on(Input.Submitted, "#alert-level")
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        level: Decimal | None = None
        if self.kind != "fill":
            text = self.query_one("#alert-level", Input).value.strip().replace(",", "")
            try:
                level = Decimal(text)
            except InvalidOperation:
                level = None
            if level is None or not level.is_finite():
                self._error(
                    f"The level must be a number, not {text!r}." if text else "Enter a level."
                )
                return
            if self.kind in ("above", "below", "crosses") and level <= 0:
                self._error("A price level must be above zero.")
                return
        repeat = bool(self.query_one("#alert-mode", Select).value)
        if self.alert is not None:
            self.dismiss(replace(self.alert, kind=self.kind, level=level, repeat=repeat))
            return
        self.dismiss(
            new_alert(self.kind, self.target.symbol, self.target.conid, level, repeat=repeat)
        )

    def _error(self, text: str) -> None:
        self.query_one("#alert-error", Static).update(Content(text))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AlertsScreen(Screen[None]):
    """Every alert; ``e``/enter edits the selected one, ``p`` pauses or resumes it, ``d`` deletes
    it, ``n`` sets an alert on any fill."""

    DEFAULT_CSS = """
    AlertsScreen { layout: vertical; }
    #alerts-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    #alerts-table { height: 1fr; margin: 1 1 0 1; }
    #alerts-empty { height: 1fr; content-align: center middle; color: $text-muted; }
    """
    AUTO_FOCUS = "#alerts-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id=ids.ALERTS_CLOSE),
        Binding("e,enter", "edit", "Edit", id=ids.ALERTS_EDIT),
        Binding("p,space", "pause", "Pause/resume", id=ids.ALERTS_PAUSE),
        Binding("d,delete", "delete", "Delete", id=ids.ALERTS_DELETE),
        Binding("n", "new_fill", "Alert on any fill", id=ids.ALERTS_NEW_FILL),
        Binding("j", "cursor(1)", "Down", show=False, id=ids.ALERTS_DOWN),
        Binding("k", "cursor(-1)", "Up", show=False, id=ids.ALERTS_UP),
    ]

    def __init__(self, watch: AlertWatch) -> None:
        super().__init__()
        self.alert_watch = watch
        self._unsubscribe = watch.subscribe(self._refill)
        self._ready = False  # the table has its columns

    def compose(self) -> ComposeResult:
        yield Static(Content("Alerts"), id="alerts-title")
        table: DataTable[Text] = DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(Content(EMPTY_TEXT), id="alerts-empty")
        yield Footer()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#alerts-table", DataTable)

    def on_mount(self) -> None:
        self.table.add_columns("Symbol", "Alert", "Mode", "Status", "Fired")
        self._ready = True
        self._refill()

    def on_unmount(self) -> None:
        self._unsubscribe()

    def _refill(self) -> None:
        if not self._ready:
            return
        table = self.table
        selected = self.selected()
        table.clear()
        for alert in self.alert_watch.book:
            table.add_row(
                Text(alert.symbol or "any", style="bold"),
                Text(describe(alert)),
                Text("repeating" if alert.repeat else "one-shot"),
                Text(alert.status),
                Text(str(alert.fired), justify="right"),
                key=alert.id,
            )
        empty = not len(self.alert_watch.book)
        table.display = not empty
        self.query_one("#alerts-empty").display = empty
        if selected is not None:
            ids_ = [a.id for a in self.alert_watch.book]
            if selected.id in ids_:
                table.move_cursor(row=ids_.index(selected.id))

    def selected(self) -> Alert | None:
        table = self.table
        if not table.row_count:
            return None
        alerts = list(self.alert_watch.book)
        row = table.cursor_row
        return alerts[row] if 0 <= row < len(alerts) else None

    def action_close(self) -> None:
        self.dismiss()

    def action_cursor(self, step: int) -> None:
        table = self.table
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    @on(DataTable.RowSelected, "#alerts-table")
    def _row_selected(self) -> None:
        """Enter on the table: the table's own binding selects the row before the screen's
        ``enter`` is looked at, so the selection is what edits."""
        self.action_edit()

    def action_edit(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        from ibtui.tui.market_screens import latest_quote

        quote = None if alert.conid is None else latest_quote(self.app, alert.conid)
        target = AlertTarget(alert.conid, alert.symbol, None if quote is None else quote.last)

        def edited(result: Alert | None) -> None:
            if result is not None:
                self.alert_watch.update(result)

        self.app.push_screen(AlertDialog(target, alert), edited)

    def action_pause(self) -> None:
        alert = self.selected()
        if alert is not None:
            self.alert_watch.set_paused(alert.id, not (alert.paused or alert.done))

    def action_delete(self) -> None:
        alert = self.selected()
        if alert is not None:
            self.alert_watch.remove(alert.id)
            self.notify(f"Deleted: {describe(alert)}", markup=False)

    def action_new_fill(self) -> None:
        def added(result: Alert | None) -> None:
            if result is not None:
                self.alert_watch.add(result)

        self.app.push_screen(AlertDialog(AlertTarget(None, "")), added)
