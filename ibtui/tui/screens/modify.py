"""The modify dialog: a working order's new quantity and prices, prefilled and checked as typed
(:func:`~ibtui.trading.modify_input.parse_modify`)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ibtui.trading import SubmitOutcome, SubmitStatus
from ibtui.trading.modify_input import ModifyValues, parse_modify, uses_limit, uses_stop
from ibtui.tui import keymap as ids
from ibtui.tui.format import fmt_quantity, price_decimals
from ibtui.tui.trading import OrderView
from ibtui.tui.widgets.blotter import describe_order

__all__ = ["ModifyScreen", "modify_outcome_text"]


def _plain(value: Decimal | None, *, price: bool = False) -> str:
    """An input's prefill: no thousands separators; prices with their usual decimals."""
    if value is None:
        return ""
    if price:
        return f"{value:.{price_decimals(value)}f}"
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1)):f}"
    return f"{value.normalize():f}"


class ModifyScreen(ModalScreen[ModifyValues | None]):
    """New quantity and price for a working order, prefilled and checked as typed. Dismisses with
    :class:`ModifyValues` (``enter``/``ctrl+s``, only when every field is valid) or None."""

    CSS_PATH = "modify.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Review", id=ids.MODIFY_SUBMIT),
        Binding("escape", "back", "Back", id=ids.MODIFY_CLOSE),
    ]

    def __init__(self, order: OrderView, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.order = order
        self.cursor_blink = cursor_blink
        self.fields = ["quantity"]
        if uses_limit(order.kind):
            self.fields.append("limit")
        if uses_stop(order.kind):
            self.fields.append("stop")
        self.problems: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        order = self.order
        labels = {"quantity": "Quantity", "limit": "Limit", "stop": "Stop"}
        values = {
            "quantity": _plain(order.quantity),
            "limit": _plain(order.limit_price, price=True),
            "stop": _plain(order.stop_price, price=True),
        }
        with Vertical(id="modify-box") as box:
            box.border_title = f"Modify order {order.order_id}"
            filled = f"filled {fmt_quantity(order.filled)}" if order.filled else "nothing filled"
            yield Static(
                f"{describe_order(order)}  ·  {order.status}, {filled}",
                id="modify-order",
                markup=False,
            )
            for name in self.fields:
                with Horizontal(classes="modify-row"):
                    yield Static(labels[name], classes="modify-label")
                    yield Input(values[name], id=f"modify-{name}", compact=True)
                    yield Static(
                        "", id=f"modify-{name}-error", classes="modify-error", markup=False
                    )
            yield Static("", id="modify-problem", classes="modify-error", markup=False)
            with Horizontal(id="modify-buttons"):
                yield Button("Review (enter)", id="modify-submit", variant="primary")
                yield Button("Back (esc)", id="modify-back")

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = self.cursor_blink
        # the first field (quantity, then limit, then stop): tab goes through them in that order
        self.query_one(f"#modify-{self.fields[0]}", Input).focus()

    def _texts(self) -> dict[str, str]:
        return {name: self.query_one(f"#modify-{name}", Input).value for name in self.fields}

    def _check(self) -> ModifyValues | None:
        texts = self._texts()
        values, self.problems = parse_modify(
            self.order, texts["quantity"], texts.get("limit", ""), texts.get("stop", "")
        )
        for name in self.fields:
            self.query_one(f"#modify-{name}-error", Static).update(self.problems.get(name, ""))
        self.query_one("#modify-problem", Static).update(self.problems.get("", ""))
        return values

    @on(Input.Changed)
    def _changed(self) -> None:
        self._check()
        self.query_one("#modify-problem", Static).update("")  # "nothing changed" only on submit

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#modify-submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#modify-back")
    def _back_pressed(self) -> None:
        self.action_back()

    def action_submit(self) -> None:
        values = self._check()
        if values is not None:
            self.dismiss(values)

    def action_back(self) -> None:
        self.dismiss(None)


def modify_outcome_text(
    order_id: int, result: SubmitOutcome
) -> tuple[str, Literal["info", "warning", "error"]]:
    """What the orders screen says of a modify's outcome, and how loudly."""
    status = result.status
    if status is SubmitStatus.ACCEPTED:  # (the outcome's message says "modified: order N …")
        from ibtui.ibkr.models.enums import OrderState

        state = result.order_status
        known = state is not None and state is not OrderState.UNKNOWN
        return f"Order {order_id} modified" + (f": {state}" if known else ""), "info"
    if status is SubmitStatus.CANCELLED:
        return f"Modify of order {order_id} declined, nothing sent: {result.message}", "warning"
    if status is SubmitStatus.NOT_PLACED:  # ("Not changed: … Order N stays as it was; …")
        return result.message, "error"
    if status is SubmitStatus.REJECTED:
        # (the outcome says who refused: "rejected by IBKR: …", "cannot read order N: …")
        return f"Modify of order {order_id} not made: {result.message}", "error"
    if status is SubmitStatus.UNKNOWN:
        return (
            f"Modify of order {order_id}: no answer ({result.message}); check the order before "
            "trying again",
            "error",
        )
    return f"Modify of order {order_id} not sent: {result.message}", "warning"
