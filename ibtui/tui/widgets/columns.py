"""The positions grid's columns: label, width, how a cell looks and how it sorts.

A :class:`Cell` is what the positions grid stores. It renders itself (``__rich__``) and carries the
raw value to sort on, so sorting never parses formatted text. Two cells compare equal when they
would look the same, which lets the table skip updates that change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.text import Text

from ibtui.slots import constructor as fast_constructor
from ibtui.tui.format import fmt_money, fmt_pct, fmt_price, fmt_quantity
from ibtui.tui.viewmodels import PositionView

__all__ = [
    "COLUMNS",
    "COLUMN_KEYS",
    "ESTIMATED_MARK",
    "PRICE_COLUMNS",
    "Cell",
    "CellStyles",
    "Column",
    "Tone",
    "render_row",
]


class Tone(Enum):
    """How a cell is coloured before styles are resolved against the theme."""

    PLAIN = "plain"
    UP = "up"
    DOWN = "down"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    sort_key: Decimal | str
    missing: bool = False
    numeric: bool = False
    style: Style | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.as_text()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        # The grid measures every new cell; measuring the plain text is enough (and cheap).
        width = cell_len(self.text)
        return Measurement(width, width)

    def as_text(self) -> Text:
        return Text(
            self.text,
            style=self.style or "",
            justify="right" if self.numeric else "left",
            no_wrap=True,
            overflow="ellipsis",
            end="",
        )

    def restyled(self, style: Style | None) -> Cell:
        return _make_cell(self.text, self.sort_key, self.missing, self.numeric, style)


# Cell(text, sort_key, missing, numeric, style) without the frozen __init__'s cost: a tick makes
# a few hundred cells (the prices of the rows in view, and their flashes).
_make_cell = fast_constructor(Cell)


@dataclass(frozen=True, slots=True)
class CellStyles:
    """Rich styles for each tone, resolved from the widget's component classes."""

    up: Style
    down: Style
    stale: Style
    flash_up: Style
    flash_down: Style

    def for_tone(self, tone: Tone) -> Style | None:
        if tone is Tone.PLAIN:
            return None
        return self.up if tone is Tone.UP else self.down if tone is Tone.DOWN else self.stale


_ZERO = Decimal(0)

Value = Callable[[PositionView], Decimal | str | None]
# The columns a position closed today still shows in colour (the rest of its row is dimmed).
DAY_FIGURES = frozenset({"daily_pnl", "realized_pnl"})
Formatter = Callable[[PositionView, Decimal | str | None], str]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    value: Value
    formatter: Formatter
    numeric: bool = True
    signed_tone: bool = False  # green above zero, red below
    price_dependent: bool = False  # greyed when the price is stale

    def cell(self, view: PositionView, stale: bool, styles: CellStyles | None) -> Cell:
        raw = self.value(view)
        text = self.formatter(view, raw)
        tone = Tone.PLAIN
        if (stale and self.price_dependent) or (view.closed and self.key not in DAY_FIGURES):
            tone = Tone.STALE  # a price not live; a position closed today: dimmed but its day
        elif self.signed_tone and isinstance(raw, Decimal) and not raw.is_zero():
            tone = Tone.UP if raw > 0 else Tone.DOWN
        style = styles.for_tone(tone) if styles is not None else None
        if raw is None:
            return _make_cell(text, _ZERO if self.numeric else "", True, self.numeric, style)
        key: Decimal | str = raw.casefold() if isinstance(raw, str) else raw
        return _make_cell(text, key, False, self.numeric, style)


def _text(_: PositionView, raw: Decimal | str | None) -> str:
    return str(raw) if raw is not None else ""


def _money(_: PositionView, raw: Decimal | str | None) -> str:
    return fmt_money(raw if isinstance(raw, Decimal) else None)


def _signed_money(_: PositionView, raw: Decimal | str | None) -> str:
    return fmt_money(raw if isinstance(raw, Decimal) else None, signed=True)


ESTIMATED_MARK = "≈"  # before a day's P&L computed from the prior close, not IBKR's own


def _daily(view: PositionView, raw: Decimal | str | None) -> str:
    text = _signed_money(view, raw)
    return f"{ESTIMATED_MARK}{text}" if raw is not None and view.daily_estimated else text


def _pct(_: PositionView, raw: Decimal | str | None) -> str:
    return fmt_pct(raw if isinstance(raw, Decimal) else None)


def _share(_: PositionView, raw: Decimal | str | None) -> str:
    return fmt_pct(raw if isinstance(raw, Decimal) else None, signed=False)


def _price(view: PositionView, raw: Decimal | str | None) -> str:
    return fmt_price(raw if isinstance(raw, Decimal) else None, view.price_decimals)


def _last(view: PositionView, raw: Decimal | str | None) -> str:
    text = _price(view, raw)
    if raw is None:
        return text
    return f"H {text}" if view.halted else f"C {text}" if view.is_close else text


def _qty(_: PositionView, raw: Decimal | str | None) -> str:
    return fmt_quantity(raw if isinstance(raw, Decimal) else None)


COLUMNS: tuple[Column, ...] = (
    Column("symbol", "Symbol", 10, lambda v: v.symbol, _text, numeric=False),
    Column("description", "Description", 20, lambda v: v.description, _text, numeric=False),
    Column("asset_class", "Class", 7, lambda v: v.asset_class, _text, numeric=False),
    Column("quantity", "Qty", 9, lambda v: v.quantity, _qty),
    # the currency of the row's prices, value and P&L: beside them, in view at 80 columns
    Column("currency", "Ccy", 5, lambda v: v.currency, _text, numeric=False),
    Column("last", "Last", 10, lambda v: v.last, _last, price_dependent=True),
    Column(
        "change_pct",
        "Chg %",
        8,
        lambda v: v.change_pct,
        _pct,
        signed_tone=True,
        price_dependent=True,
    ),
    Column("market_value", "Mkt value", 13, lambda v: v.market_value, _money),
    Column("avg_cost", "Avg cost", 10, lambda v: v.avg_cost, _price),
    Column(
        "unrealized_pnl",
        "Unrl P&L",
        12,
        lambda v: v.unrealized_pnl,
        _signed_money,
        signed_tone=True,
    ),
    Column("unrealized_pct", "Unrl %", 8, lambda v: v.unrealized_pct, _pct, signed_tone=True),
    Column("daily_pnl", "Daily P&L", 11, lambda v: v.daily_pnl, _daily, signed_tone=True),
    Column(
        "realized_pnl",
        "Rlzd P&L",
        11,
        lambda v: v.realized_pnl,
        _signed_money,
        signed_tone=True,
    ),
    Column("nlv_pct", "% NLV", 8, lambda v: v.nlv_pct, _share),
)
COLUMN_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)
# The columns a quote can change (the others come from the positions endpoint only).
PRICE_COLUMNS: tuple[Column, ...] = tuple(
    column
    for column in COLUMNS
    if column.key
    in {
        "last",
        "change_pct",
        "market_value",
        "unrealized_pnl",
        "unrealized_pct",
        "daily_pnl",
        "nlv_pct",
    }
)


def render_row(
    view: PositionView,
    stale: bool,
    styles: CellStyles | None,
    columns: Iterable[Column] = COLUMNS,
) -> dict[str, Cell]:
    """The cells of a row (all columns, or the given ones), styled unless ``styles`` is None."""
    return {column.key: column.cell(view, stale, styles) for column in columns}
