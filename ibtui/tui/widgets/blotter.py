"""The orders screen's tables (orders and executions), and the order text the console shows.

:class:`BlotterTable` is a row-cursor table keyed by order or execution id; the screen writes
only the cells that changed (:func:`order_cells`, :func:`trade_cells` say what a row shows).
"""

from __future__ import annotations

import time
from collections.abc import Container, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from ibtui.trading.modify_input import kind_code, uses_limit, uses_stop
from ibtui.tui import keymap as ids
from ibtui.tui.component_style import component_style
from ibtui.tui.format import MISSING, fmt_money, fmt_price, fmt_quantity
from ibtui.tui.trading import OrderView, TradeView

__all__ = [
    "ORDER_COLUMNS",
    "TRADE_COLUMNS",
    "BlotterTable",
    "Outcome",
    "RowStyles",
    "Signature",
    "clock_time",
    "describe_order",
    "order_cells",
    "order_outcome",
    "outcome_notice",
    "part_fill_notice",
    "trade_cells",
]

Outcome = Literal["Filled", "Cancelled", "Rejected"]


# --- order text ---------------------------------------------------------------------------------
def describe_order(
    order: OrderView,
    *,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
) -> str:
    """``BUY 10 AAPL LMT 215.00``, ``SELL 5 AAPL STP 210.00``, ``SELL 5 AAPL STP LMT 210.00
    209.50`` (stop, then limit); the keyword values replace the order's own."""
    code = kind_code(order.kind)
    size = quantity if quantity is not None else order.quantity
    parts = [order.side.value, fmt_quantity(size), order.symbol, code]
    stop = stop_price if stop_price is not None else order.stop_price
    limit = limit_price if limit_price is not None else order.limit_price
    if uses_stop(order.kind) and stop is not None:
        parts.append(fmt_price(stop))
    if uses_limit(order.kind) and limit is not None:
        parts.append(fmt_price(limit))
    return " ".join(parts)


def order_outcome(status: str) -> Outcome | None:
    """``Filled``, ``Cancelled`` or ``Rejected`` for IBKR's final statuses, else None."""
    word = status.replace("_", "").replace(" ", "").casefold()
    if word == "filled":
        return "Filled"
    if word in ("cancelled", "canceled", "apicancelled", "apicanceled"):
        return "Cancelled"
    if word in ("rejected", "inactive"):
        return "Rejected"
    return None


def outcome_notice(order: OrderView, outcome: Outcome) -> str:
    """The notification text for an order that reached ``outcome``."""
    if outcome == "Filled":
        size = order.filled if order.filled else order.quantity
        price = f" @ {fmt_price(order.avg_price)}" if order.avg_price is not None else ""
        return f"Filled: {order.side.value} {fmt_quantity(size)} {order.symbol}{price}"
    text = f"{outcome}: {describe_order(order)} (order {order.order_id})"
    if outcome == "Cancelled" and order.filled:
        text += f" after {fmt_quantity(order.filled)} filled"
    return text


def part_fill_notice(order: OrderView) -> str:
    """The notification text for an order filled in part so far (it still works)."""
    filled = fmt_quantity(order.filled or Decimal(0))
    of = f" of {fmt_quantity(order.quantity)}" if order.quantity is not None else ""
    price = f" @ {fmt_price(order.avg_price)}" if order.avg_price is not None else ""
    return f"Partly filled: {order.side.value} {filled}{of} {order.symbol}{price}"


def clock_time(stamp: float | None, now: float) -> str:
    if stamp is None:
        return MISSING
    when = time.localtime(stamp)
    if time.strftime("%Y%m%d", when) == time.strftime("%Y%m%d", time.localtime(now)):
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%m-%d %H:%M", when)


# --- the tables ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Col:
    key: str
    label: str
    width: int
    right: bool = False


ORDER_COLUMNS = (
    _Col("symbol", "Symbol", 8),
    _Col("side", "Side", 4),
    _Col("type", "Type", 7),
    _Col("quantity", "Qty", 6, right=True),
    _Col("status", "Status", 13),
    _Col("fills", "Fill/Rem", 8, right=True),
    _Col("limit", "Limit", 9, right=True),
    _Col("stop", "Stop", 9, right=True),
    _Col("avg", "Avg", 9, right=True),
    _Col("time", "Time (local)", 12),  # this machine's time zone, as "as of" above
    _Col("order", "Order", 10, right=True),
    _Col("coid", "cOID", 22),
)
TRADE_COLUMNS = (
    _Col("time", "Time (local)", 12),
    _Col("symbol", "Symbol", 9),
    _Col("side", "Side", 4),
    _Col("quantity", "Qty", 7, right=True),
    _Col("price", "Price", 10, right=True),
    _Col("commission", "Comm.", 8, right=True),
    _Col("ref", "Order ref", 22),
    _Col("execution", "Execution", 24),
)

Signature = tuple[str, str]  # a cell as drawn: text and style


@dataclass(frozen=True, slots=True)
class RowStyles:
    buy: Style
    sell: Style
    working: Style
    done: Style
    filled: Style
    rejected: Style
    pending: Style


class BlotterTable(DataTable[Text]):
    """A row-cursor table with vim keys; rows keyed by order or execution id."""

    DEFAULT_CSS = """
    BlotterTable {
        height: 1fr;
        & > .blotter--buy { color: $text-success; }
        & > .blotter--sell { color: $text-error; }
        & > .blotter--working { text-style: bold; }
        & > .blotter--done { text-style: dim; }
        & > .blotter--filled { color: $text-success; }
        & > .blotter--rejected { color: $text-error; }
        & > .blotter--pending { color: $text-warning; text-style: bold; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "blotter--buy",
        "blotter--sell",
        "blotter--working",
        "blotter--done",
        "blotter--filled",
        "blotter--rejected",
        "blotter--pending",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id=ids.ORDERS_DOWN),
        Binding("k", "cursor_up", "Up", show=False, id=ids.ORDERS_UP),
        Binding("g", "scroll_top", "First row", show=False, id=ids.ORDERS_TOP),
        Binding("G", "scroll_bottom", "Last row", show=False, id=ids.ORDERS_BOTTOM),
    ]

    def __init__(self, columns: Sequence[_Col], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.fixed_columns = 1
        self.spec = tuple(columns)
        self._drawn: dict[str, dict[str, Signature]] = {}  # each row's cells as drawn
        for column in columns:
            label = Text(column.label, justify="right" if column.right else "left")
            self.add_column(label, width=column.width, key=column.key)

    def styles_for_rows(self) -> RowStyles:
        def style(name: str) -> Style:
            return component_style(self, f"blotter--{name}")

        return RowStyles(
            buy=style("buy"),
            sell=style("sell"),
            working=style("working"),
            done=style("done"),
            filled=style("filled"),
            rejected=style("rejected"),
            pending=style("pending"),
        )

    @property
    def keys(self) -> list[str]:
        """Row keys in display order."""
        return [str(row.key.value) for row in self.ordered_rows]

    def cursor_key(self) -> str | None:
        if not self.row_count or not self.is_valid_row_index(self.cursor_row):
            return None
        return str(self.ordered_rows[self.cursor_row].key.value)

    def move_to(self, key: str | None) -> None:
        if key is not None and RowKey(key) in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def text(self, key: str, column: str) -> str:
        return self.get_cell(key, column).plain

    def put_row(self, key: str, cells: dict[str, Signature]) -> None:
        """Add the row ``key``, or rewrite those of its cells that changed."""
        drawn = self._drawn.get(key)
        if drawn is None:
            self.add_row(*(cell_text(cells[c.key], c) for c in self.spec), key=key)
        else:
            for column in self.spec:
                if drawn[column.key] != cells[column.key]:
                    self.update_cell(key, column.key, cell_text(cells[column.key], column))
        self._drawn[key] = cells

    def keep_only(self, keys: Container[str]) -> None:
        """Remove the rows whose key is not in ``keys``."""
        for key in [key for key in self._drawn if key not in keys]:
            self.remove_row(key)
            del self._drawn[key]

    def order_rows(self, wanted: Sequence[str], by: str, keep: str | None) -> None:
        """The rows in the order of ``wanted`` (sorted on the column ``by``, which shows the row's
        key); the cursor stays on the row ``keep``."""
        if self.keys != list(wanted):
            place = {key: index for index, key in enumerate(wanted)}
            self.sort(by, key=lambda cell: place[cell.plain])
            self.move_to(keep)  # (a row cursor stays on its index when rows move)


def order_cells(
    order: OrderView, pending_cancel: bool, styles: RowStyles | None, now: float
) -> dict[str, Signature]:
    def st(name: str) -> str:
        return str(getattr(styles, name)) if styles is not None else ""

    outcome = order_outcome(order.status)
    if pending_cancel and order.working:
        status = (order.status if "cancel" in order.status.casefold() else "Cancel sent", "pending")
    elif order.working:
        status = (order.status, "working")
    elif outcome == "Filled":
        status = (order.status, "filled")
    elif outcome == "Rejected":
        status = (order.status, "rejected")
    else:
        status = (order.status, "done")
    row_style = "" if order.working else st("done")
    side_style = st("buy") if order.side.value == "BUY" else st("sell")
    limit = fmt_price(order.limit_price) if order.limit_price is not None else ""
    stop = fmt_price(order.stop_price) if order.stop_price is not None else ""
    return {
        "symbol": (order.symbol, row_style),
        "side": (order.side.value, side_style),
        "type": (kind_code(order.kind), row_style),
        "quantity": (fmt_quantity(order.quantity), row_style),
        "status": (status[0], st(status[1])),
        "fills": (f"{fmt_quantity(order.filled)}/{fmt_quantity(order.remaining)}", row_style),
        "limit": (limit, row_style),
        "stop": (stop, row_style),
        "avg": (fmt_price(order.avg_price) if order.avg_price is not None else "", row_style),
        "time": (clock_time(order.updated_at, now), row_style),
        "order": (str(order.order_id), row_style),
        "coid": (order.coid or "", row_style),
    }


def trade_cells(trade: TradeView, styles: RowStyles | None, now: float) -> dict[str, Signature]:
    side_style = ""
    if styles is not None:
        side_style = str(styles.buy if trade.side.value == "BUY" else styles.sell)
    commission = fmt_money(trade.commission) if trade.commission is not None else ""
    return {
        "time": (clock_time(trade.time, now), ""),
        "symbol": (trade.symbol, ""),
        "side": (trade.side.value, side_style),
        "quantity": (fmt_quantity(trade.quantity), ""),
        "price": (fmt_price(trade.price), ""),
        "commission": (commission, ""),
        "ref": (trade.order_ref or "", ""),
        "execution": (trade.execution_id, ""),
    }


def cell_text(cell: Signature, column: _Col) -> Text:
    return Text(cell[0], style=cell[1], justify="right" if column.right else "left")
