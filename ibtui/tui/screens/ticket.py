"""The order ticket: a modal that turns what the trader types into exactly one order, or none.

Fields: side, quantity, type (MKT, LMT, STP, STP LMT), limit and stop prices, time in force and
outside regular hours, with the live bid/ask/last above them. Every change is checked at once
(numbers only, a positive quantity, the prices the type needs, then the trader's own checks: stop
side, precaution limits) and the reason is shown beside the field.

Sending is two steps: **Preview** (``enter``, from any field; a dropdown opens with ``space``)
asks IBKR's what-if for commission and margin, then **Send** (``ctrl+s``) submits. Changing any
field after the preview throws it away. A LIVE account also needs the account's last four
characters typed. IBKR's questions are shown one by
one (:class:`~ibtui.tui.screens.question.QuestionScreen`). While a submission is in flight Send is
disabled and a second press does nothing; an unknown outcome keeps it disabled, because the order
may exist: the orders screen (or the trader's reconciliation) says whether it does.

Dismisses with the :class:`~ibtui.trading.SubmitOutcome` of an accepted order, or None.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Select, Static

from ibtui.trading import (
    TICKET_TIFS,
    Check,
    FieldError,
    OrderDraft,
    Side,
    SubmitOutcome,
    SubmitStatus,
    TicketType,
    TimeInForce,
)
from ibtui.trading.ticket_input import parse_ticket
from ibtui.tui import keymap as ids
from ibtui.tui.format import fmt_price
from ibtui.tui.trading import PreviewView, QuestionView, Trader
from ibtui.tui.viewmodels import AccountView, QuoteView
from ibtui.tui.widgets.checkbox import OnOffCheckbox
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.menu_select import MenuSelect

if TYPE_CHECKING:  # the watchlist's module is loaded with the market screens
    from ibtui.tui.market import Watchlist

__all__ = ["TicketScreen", "parse_ticket"]

# the draft's fields that have an error line beside them, and the input each belongs to
FIELDS = {
    "side": "side",
    "quantity": "quantity",
    "order_type": "kind",
    "limit_price": "limit",
    "stop_price": "stop",
}


class TicketScreen(ModalScreen[SubmitOutcome | None]):
    CSS_PATH = "ticket.tcss"
    AUTO_FOCUS = "#quantity"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id=ids.TICKET_CLOSE),
        Binding("enter", "preview", "Preview", id=ids.TICKET_PREVIEW),
        Binding("ctrl+s", "send", "Send", id=ids.TICKET_SEND, priority=True),
        Binding("ctrl+b", "side('BUY')", "Buy", id=ids.TICKET_BUY),
        Binding("ctrl+o", "side('SELL')", "Sell", id=ids.TICKET_SELL),
    ]

    def __init__(
        self,
        trader: Trader,
        account: AccountView,
        *,
        conid: int,
        symbol: str,
        description: str = "",
        side: Side = Side.BUY,
        quantity: Decimal | None = None,
        kind: TicketType = TicketType.LMT,
        limit_price: Decimal | None = None,
        currency: str = "USD",
        quote: QuoteView | None = None,
        cursor_blink: bool = True,
        watchlist: Watchlist | None = None,
    ) -> None:
        super().__init__()
        self.watchlist = watchlist  # keeps the instrument quoted while the ticket is open
        self._holding = False
        self.trader = trader
        self.account = account
        self.conid = conid
        self.symbol = symbol
        self.description = description
        self.currency = currency
        self.quote = quote
        self.cursor_blink = cursor_blink
        self._initial = (side, quantity, kind, limit_price)
        # fractions of a share only where the instrument has them (a fractional position)
        self.fractional = quantity is not None and quantity != quantity.to_integral_value()
        self.draft: OrderDraft | None = None
        self.check: Check = Check()
        self.preview: PreviewView | None = None
        self._previewed: OrderDraft | None = None
        self.sending = False
        self.blocked_reason: str | None = None  # set after an unknown outcome
        self.result: SubmitOutcome | None = None
        self.message = ""
        # An empty field says it is required only once it was touched or a send was tried.
        self._touched: set[str] = set()
        self._attempted = False

    # --- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        side, quantity, kind, limit_price = self._initial
        mode = "live" if not self.account.paper else "paper"
        with Vertical(id="ticket"):
            with Horizontal(id="ticket-head"):
                yield Static(
                    f" {self.account.mode} ", id="mode", classes=f"mode -{mode}", markup=False
                )
                yield Static(self.account.account_id, id="ticket-account", markup=False)
                yield Static(
                    f"{self.symbol}  {self.description}".strip(), id="instrument", markup=False
                )
            yield Static("", id="market", markup=False)
            with Horizontal(classes="row"):
                yield Static("Side", classes="label")
                yield MenuSelect(
                    [(s.value, s) for s in Side],
                    value=side,
                    allow_blank=False,
                    compact=True,
                    id="side",
                )
                yield Static("", id="side-error", classes="error", markup=False)
            with Horizontal(classes="row"):
                yield Static("Quantity", classes="label")
                yield Input(
                    "" if quantity is None else f"{quantity.normalize():f}",
                    placeholder="shares",
                    id="quantity",
                    compact=True,
                )
                yield Static("", id="quantity-error", classes="error", markup=False)
            with Horizontal(classes="row"):
                yield Static("Type", classes="label")
                yield MenuSelect(
                    [(k.value, k) for k in TicketType],
                    value=kind,
                    allow_blank=False,
                    id="kind",
                    compact=True,
                )
                yield Static("", id="kind-error", classes="error", markup=False)
            with Horizontal(classes="row", id="limit-row"):
                yield Static("Limit", classes="label")
                yield Input(
                    "" if limit_price is None else f"{limit_price:f}",
                    placeholder="price",
                    id="limit",
                    compact=True,
                )
                yield Static("", id="limit-error", classes="error", markup=False)
            with Horizontal(classes="row", id="stop-row"):
                yield Static("Stop", classes="label")
                yield Input("", placeholder="trigger", id="stop", compact=True)
                yield Static("", id="stop-error", classes="error", markup=False)
            with Horizontal(classes="row"):
                yield Static("TIF", classes="label")
                yield MenuSelect(
                    [(t.value, t) for t in TICKET_TIFS],
                    value=TimeInForce.DAY,
                    allow_blank=False,
                    compact=True,
                    id="tif",
                )
                yield OnOffCheckbox("Outside RTH", id="outside-rth", compact=True)
            yield Static("", id="precautions", markup=False)
            yield Static("", id="preview", markup=False)
            with Horizontal(classes="row", id="confirm-row"):
                yield Static("Confirm", classes="label")
                yield Input(
                    placeholder="last 4 of account", id="confirm", max_length=4, compact=True
                )
                yield Static("", id="confirm-error", classes="error", markup=False)
            yield Static("", id="ticket-message", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Preview ⏎", id="preview-button", variant="primary", compact=True)
                yield Button(
                    "Send ^S", id="send-button", variant="error", disabled=True, compact=True
                )
                yield Button("Close Esc", id="close-button", compact=True)
        yield Footer()  # the ticket's keys, over the footer of the screen under it

    def on_mount(self) -> None:
        if self.watchlist is not None:  # however it was opened, the ticket gets live prices
            self.watchlist.hold(self.conid)
            self._holding = True
        for box in self.query(Input):
            box.cursor_blink = self.cursor_blink
        self.query_one("#confirm-row").display = not self.account.paper
        self._refresh()

    def on_unmount(self) -> None:
        if self._holding and self.watchlist is not None:
            self.watchlist.release(self.conid)
            self._holding = False

    # --- state ------------------------------------------------------------------------------
    def set_quote(self, quote: QuoteView) -> None:
        """A fresh snapshot of the ticket's instrument (the positions screen forwards them)."""
        if quote.conid != self.conid:
            return
        self.quote = quote
        if not self.is_mounted:  # before that, on_mount draws it
            return
        # composing, or being dismissed: the next quote (or on_mount) draws it
        with contextlib.suppress(NoMatches):
            self._refresh(keep_preview=True)

    def _fields(self) -> tuple[OrderDraft | None, list[FieldError]]:
        side = self.query_one("#side", Select).value
        kind = self.query_one("#kind", Select).value
        tif = self.query_one("#tif", Select).value
        if not (
            isinstance(side, Side) and isinstance(kind, TicketType) and isinstance(tif, TimeInForce)
        ):
            return None, [FieldError("order_type", "choose a side, an order type and a TIF")]
        return parse_ticket(
            self.account,
            self.conid,
            self.symbol,
            side=side,
            quantity=self.query_one("#quantity", Input).value,
            kind=kind,
            limit=self.query_one("#limit", Input).value,
            stop=self.query_one("#stop", Input).value,
            tif=tif,
            outside_rth=self.query_one("#outside-rth", Checkbox).value,
            currency=self.currency,
            fractional=self.fractional,
        )

    def _refresh(self, *, keep_preview: bool = False) -> None:
        draft, problems = self._fields()
        check = Check(errors=tuple(problems))
        if draft is not None:
            try:
                check = self.trader.check(draft, self.quote)
            except Exception as exc:  # a checking bug must not send anything, nor crash
                check = Check((FieldError("order_type", f"cannot check the order: {exc}"),))
        self.draft = draft if not check.errors else None
        self.check = check
        if not keep_preview and self._previewed is not None and self._previewed != self.draft:
            self._previewed = None
            self.preview = None
        kind = self.query_one("#kind", Select).value
        self.query_one("#limit-row").display = isinstance(kind, TicketType) and kind.needs_limit
        self.query_one("#stop-row").display = isinstance(kind, TicketType) and kind.needs_stop
        by_field: dict[str, list[str]] = {}
        for problem in check.errors:  # a problem with no field of its own shows by the type
            name = problem.field if problem.field in FIELDS else "order_type"
            by_field.setdefault(name, []).append(problem.message)
        for name, box_id in FIELDS.items():
            messages = by_field.get(name, [])
            if not self._attempted and box_id not in self._touched and self._blank(box_id):
                messages = []  # not filled in yet: no "required" before it was touched
            self.query_one(f"#{box_id}-error", Static).update("; ".join(messages))
        self._show_confirm()
        self.query_one("#precautions", Static).update(
            "\n".join(
                ("BLOCKED: " if p.blocking else "Warning: ") + p.message for p in check.precautions
            )
        )
        self.query_one("#market", Static).update(self._market_text())
        self.query_one("#preview", Static).update(self._preview_text())
        self.query_one("#ticket-message", Static).update(self.message or self._ready_text())
        self.query_one("#send-button", Button).disabled = not self.can_send

    def _blank(self, box_id: str) -> bool:
        box = self.query_one(f"#{box_id}")
        return isinstance(box, Input) and not box.value.strip()

    def _show_confirm(self) -> None:
        """The LIVE confirmation's hint: what to type, then whether it matches (in green)."""
        if self.account.paper:
            return
        account_id = self.account.account_id
        typed = self.query_one("#confirm", Input).value.strip()
        hint = self.query_one("#confirm-error", Static)
        matches = self._live_confirmed()
        wrong = not matches and len(typed) >= min(4, len(account_id))
        hint.set_class(matches, "-ok")
        hint.set_class(wrong, "-wrong")
        if matches:
            hint.update(f"✓ matches {account_id}")
        elif wrong:
            hint.update(f"does not match the last 4 of {account_id}")
        else:
            hint.update(f"type the last 4 characters of {account_id}")

    def _market_text(self) -> str:
        q = self.quote
        if q is None:
            return "bid —  ask —  last —   (waiting for market data)"
        parts = [
            f"bid {fmt_price(q.bid) if q.bid is not None else '—'}",
            f"ask {fmt_price(q.ask) if q.ask is not None else '—'}",
            f"last {fmt_price(q.last) if q.last is not None else '—'}",
        ]
        if q.is_close:
            parts.append("(prior close)")
        if q.halted:
            parts.append("HALTED")
        return "  ".join(parts)

    def _preview_text(self) -> str:
        p = self.preview
        if p is None:
            return "Preview (enter) shows commission and margin before you can send."
        if p.error:
            return f"IBKR would reject this order: {p.error}"
        lines = [
            f"Commission {p.commission or '—'}   Amount {p.amount or '—'}",
            f"Initial margin {p.initial_margin_change or '—'}   "
            f"Maintenance {p.maintenance_margin_change or '—'}   "
            f"Equity after {p.equity_after or '—'}",
        ]
        if p.warning:
            lines.append(f"IBKR warns: {p.warning}")
        return "\n".join(lines)

    def _ready_text(self) -> str:
        """After a good preview: ready to send, or ready but with the warnings above (a price
        that could not be checked is never passed off as checked). Drawn anew as quotes come,
        so a warning that a first quote clears, or raises, shows at once."""
        draft, preview = self.draft, self.preview
        if draft is None or preview is None or preview.error or self._previewed != draft:
            return ""
        if not self.check.sendable:
            return ""
        warnings = self.check.warnings
        if any(p.kind in ("price_unchecked", "no_price") for p in warnings):
            return (
                f"Previewed, not checked against the market (see above): {draft.describe()}. "
                "ctrl+s sends it anyway."
            )
        if warnings:
            noun = "warning" if len(warnings) == 1 else "warnings"
            return f"Ready despite the {noun} above: {draft.describe()}. ctrl+s sends it anyway."
        return f"Ready: {draft.describe()}. ctrl+s sends it to IBKR."

    @property
    def can_send(self) -> bool:
        return (
            not self.sending
            and self.blocked_reason is None
            and self.draft is not None
            and self.check.sendable
            and self.preview is not None
            and not self.preview.error
            and self._previewed == self.draft
            and self._live_confirmed()
        )

    def _live_confirmed(self) -> bool:
        if self.account.paper:
            return True
        typed = self.query_one("#confirm", Input).value.strip()
        return typed.upper() == self.account.account_id[-4:].upper()

    # --- events -----------------------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        if isinstance(event, Input.Changed) and event.input.has_focus and event.input.id:
            self._touched.add(event.input.id)  # typed in
        self.message = ""
        self._refresh()

    @on(Input.Blurred)
    def _left(self, event: Input.Blurred) -> None:
        if event.input.id and event.input.id not in self._touched:
            self._touched.add(event.input.id)
            with contextlib.suppress(NoMatches):  # also when the ticket is being dismissed
                self._refresh(keep_preview=True)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_preview()

    @on(Button.Pressed, "#preview-button")
    def _preview_pressed(self) -> None:
        self.action_preview()

    @on(Button.Pressed, "#send-button")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#close-button")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_side(self, side: str) -> None:
        self.query_one("#side", Select).value = Side(side)

    def action_close(self) -> None:
        if self.sending:
            self.message = "An order is being sent: wait for IBKR's answer."
            self._refresh(keep_preview=True)
            return
        self.dismiss(self.result)

    def action_preview(self) -> None:
        if self.sending:
            return
        self._attempted = True
        if self.preview is not None and self._previewed == self.draft and self.can_send:
            self.message = "Previewed: ctrl+s sends it."
            self._refresh(keep_preview=True)
            return
        if self.draft is None or not self.check.sendable:
            self.message = "Fix the fields marked above first."
            self._refresh()
            return
        self.message = "Asking IBKR for a preview…"
        self._refresh(keep_preview=True)
        self._run_preview(self.draft)

    @work(exclusive=True, group="ticket-preview", exit_on_error=False)
    async def _run_preview(self, draft: OrderDraft) -> None:
        try:
            preview = await self.trader.preview(draft)
        except Exception as exc:
            self.message = f"Preview failed: {exc}"
            self._refresh(keep_preview=True)
            return
        if self.draft != draft:  # changed while IBKR answered: that preview is for another order
            return
        self.preview, self._previewed = preview, draft
        self.message = ""  # the ready line is drawn from the check as it stands (_ready_text)
        self._refresh(keep_preview=True)

    def action_send(self) -> None:
        # Checked and set synchronously: a second key press sees `sending` and does nothing.
        if not self.can_send or self.draft is None:
            if not self._attempted:
                self._attempted = True
                self._refresh(keep_preview=True)
            if not self.sending and self.blocked_reason is None and not self._live_confirmed():
                self.message = "Type the last four characters of the LIVE account to send."
                self._refresh(keep_preview=True)
            return
        self.sending = True
        self.message = f"Sending {self.draft.describe()}…"
        self._refresh(keep_preview=True)
        self._submit(self.draft)

    async def _ask(self, question: QuestionView) -> bool:
        from ibtui.tui.screens.question import QuestionScreen

        answer = await self.app.push_screen_wait(QuestionScreen(question))
        return bool(answer)

    @work(exclusive=True, group="ticket-send", exit_on_error=False)
    async def _submit(self, draft: OrderDraft) -> None:
        try:
            typed = None if self.account.paper else self.query_one("#confirm", Input).value
            result = await self.trader.submit(
                draft, self._ask, confirmation=typed, quote=self.quote
            )
        except Exception as exc:
            # The trader reports unknown outcomes as results; anything raised here means the
            # order may or may not exist: keep Send disabled and say where to look.
            result = SubmitOutcome(
                SubmitStatus.UNKNOWN, f"{exc}. Check the orders screen before sending again."
            )
        self.sending = False
        self._finish(result)

    def _finish(self, result: SubmitOutcome) -> None:
        if result.status is SubmitStatus.ACCEPTED:
            self.result = result
            self.dismiss(result)
            return
        if result.status is SubmitStatus.UNKNOWN:
            self.blocked_reason = result.message
            self.message = f"Outcome unknown: {result.message}"
        elif result.status is SubmitStatus.CANCELLED:
            self.message = f"Not sent: {result.message}"
        elif result.status in (SubmitStatus.BUSY, SubmitStatus.NOT_SENT, SubmitStatus.NOT_PLACED):
            self.message = result.message  # (not placed: it says why and what to do)
        else:  # the outcome says who refused: "rejected by IBKR: …", or ibtui's own reason
            message = result.message
            self.message = message[:1].upper() + message[1:]
        self._refresh(keep_preview=True)
