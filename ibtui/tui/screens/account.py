"""``$``: the account's balances and margin in full, refreshed as the balances worker reads
them (a figure that moved since the refresh before carries an arrow until the next) and, with
streaming on, as the pushed P&L moves them (marked against the last refresh)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from ibtui.tui import keymap as ids
from ibtui.tui.balances import FIGURES, BalancesFailed, BalancesUpdated, BalancesView
from ibtui.tui.component_style import component_style
from ibtui.tui.format import fmt_money, fmt_pct
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.summary_strip import ARROWS, margin_low

__all__ = ["AccountScreen", "balances_table"]

_HUNDRED = Decimal(100)
_LABEL, _VALUE = 24, 16
NOTE = (
    "Day's P&L: IBKR's partitioned P&L of the account (today's trades included). "
    "The positions' Daily P&L: IBKR's own for the position when it sends it, "
    "else quantity × change since the prior close, shown with ≈ before it."
)


def balances_table(
    view: BalancesView,
    changed: Mapping[str, int],
    *,
    threshold: float,
    styles: Mapping[str, Style] | None = None,
) -> Text:
    """The figures (and the cash by currency), one a line: label, value, an arrow if it moved."""
    styles = styles or {}
    low = margin_low(view, threshold)
    lines = Text()

    def row(label: str, value: str, moved: int, style: Style | None = None, note: str = "") -> None:
        if lines:
            lines.append("\n")
        lines.append(f"{label:<{_LABEL}}")
        lines.append(f"{value:>{_VALUE}}", style or "")
        arrow = ARROWS.get(moved)
        if arrow:
            lines.append(f" {arrow}", style or "")
        if note:
            lines.append(f"{'  ' if arrow else '   '}{note}")

    for key, label, signed in FIGURES:
        amount = view.figure(key)
        if key == "cushion":
            text = fmt_pct(None if amount is None else amount * _HUNDRED, signed=False)
        else:
            text = fmt_money(amount, signed=signed)
        style = None
        if key in ("cushion", "excess_liquidity") and low:
            style = styles.get("warn", Style(bold=True))
        elif signed and amount is not None and not amount.is_zero():
            style = styles.get("up" if amount > 0 else "down")
        name = f"{label} ({view.currency})" if key == "net_liquidation" else label
        row(name, text, changed.get(key, 0), style)
    if low:
        lines.append("\n")
        lines.append(
            f"Margin cushion under {threshold:.0%} of net liquidation",
            styles.get("warn", Style(bold=True)),
        )
    if view.cash:
        lines.append("\n\n")
        lines.append("Cash by currency", Style(bold=True))
        for balance in view.cash:
            note = ""
            if balance.currency != view.currency and balance.base_value is not None:
                note = f"= {fmt_money(balance.base_value)} {view.currency}"
            moved = changed.get(f"cash:{balance.currency}", 0)
            row(f"  {balance.currency}", fmt_money(balance.cash), moved, note=note)
    return lines


class AccountScreen(Screen[None]):
    """The balances of ``account_id``; ``update`` (or the worker's messages) refreshes them."""

    CSS_PATH = "account.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,dollar_sign", "close", "Close", id=ids.ACCOUNT_CLOSE),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "account-screen--up",
        "account-screen--down",
        "account-screen--warn",
    }

    def __init__(
        self,
        account_id: str,
        balances: BalancesView | None = None,
        changed: Mapping[str, int] | None = None,
        *,
        threshold: float = 0.10,
        interval: float = 20.0,
    ) -> None:
        super().__init__()
        self.account_id = account_id
        self.balances = balances
        self.changed: Mapping[str, int] = changed or {}
        self.threshold = threshold
        self.interval = interval
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="account-box"):
            yield Static(f"Account {self.account_id}", id="account-title", markup=False)
            yield Static(id="account-figures")
            yield Static(id="account-error", markup=False)
            yield Static(
                f"{NOTE} Refreshed every {self.interval:g} s and after fills; "
                f"▲▼: moved since the refresh before (streamed P&L: since the last refresh).",
                id="account-note",
                markup=False,
            )
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._show)  # laid out once shown: its height fits the figures

    def figures_text(self) -> str:
        """The figures as plain text (what the table says)."""
        if self.balances is None:
            return ""
        return balances_table(self.balances, self.changed, threshold=self.threshold).plain

    @property
    def margin_warning(self) -> bool:
        return self.balances is not None and margin_low(self.balances, self.threshold)

    def update(self, view: BalancesView, changed: Mapping[str, int]) -> None:
        if view.account_id != self.account_id:
            return
        self.balances, self.changed, self.error = view, changed, None
        self._show()

    def on_balances_updated(self, message: BalancesUpdated) -> None:
        self.update(message.balances, message.changed)

    def on_balances_failed(self, message: BalancesFailed) -> None:
        if message.account_id == self.account_id:
            self.error = message.error
            self._show()

    def _show(self) -> None:
        if not self.is_mounted:
            return
        figures = self.query_one("#account-figures", Static)
        if self.balances is None:
            figures.update(Text("Reading the balances…"))
        else:
            styles = {
                name: component_style(self, f"account-screen--{name}")
                for name in ("up", "down", "warn")
            }
            table = balances_table(
                self.balances, self.changed, threshold=self.threshold, styles=styles
            )
            figures.update(table)
        error = self.query_one("#account-error", Static)
        error.update(f"Last refresh failed: {self.error}" if self.error else "")
        error.set_class(bool(self.error), "-shown")

    def action_close(self) -> None:
        self.dismiss(None)
