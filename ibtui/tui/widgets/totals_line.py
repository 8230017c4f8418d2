"""The totals line under the positions grid: its text, and the widget that draws it."""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

from ibtui.tui.format import fmt_money
from ibtui.tui.viewmodels import Totals
from ibtui.tui.widgets.columns import CellStyles

__all__ = ["TotalsLine", "totals_parts"]

_WIDE = 110  # narrower: a compact totals line
_PADDING = 2  # the totals line's own, left and right (the table's CSS: padding: 0 1)
_BOLD = Style(bold=True)


def totals_parts(
    totals: Totals,
    *,
    filtered: bool,
    width: int,
    styles: CellStyles | None,
    sort: str | None = None,
) -> list[tuple[str, Style | None]]:
    """The totals line's pieces of text, each with its style: long labels when ``width`` holds
    every amount with them, short ones when narrow. ``sort`` (``Mkt value ▼``), when given,
    comes first: the sort column is off screen, and its header's arrow with it."""
    wide = width >= _WIDE
    line = _parts(totals, filtered, wide, styles, sort)
    if wide and sum(len(text) for text, _ in line) > width - _PADDING:
        wide = False
        line = _parts(totals, filtered, wide, styles, sort)
    if totals.unconverted:
        gap = "   " if wide else " "
        line.append((f"{gap}({totals.unconverted} without an exchange rate left out)", None))
    return line


def _parts(
    totals: Totals, filtered: bool, wide: bool, styles: CellStyles | None, sort: str | None
) -> list[tuple[str, Style | None]]:
    scope = "shown" if filtered else "all"
    noun = "position" if totals.count == 1 else "positions"
    head = f"{totals.count:,} {noun} ({scope}) in {totals.currency}"
    line: list[tuple[str, Style | None]] = []
    if sort is not None:
        line += [("by ", None), (sort, _BOLD), (" │ ", None)]
    line.append((head if wide else f"{totals.count:,} {totals.currency}", _BOLD))
    if totals.converted:  # rows in other currencies are summed at their exchange rate
        others = "+".join(totals.converted) if len(totals.converted) < 3 else "other ccys"
        line.append((f", {others} converted" if wide else f" ({others}→{totals.currency})", None))
    parts = (
        ("Mkt value" if wide else "MV", totals.market_value, False),
        ("Unrl P&L" if wide else "Unrl", totals.unrealized_pnl, True),
        ("Daily P&L" if wide else "Day", totals.daily_pnl, True),
        ("Rlzd P&L" if wide else "Rlzd", totals.realized_pnl, True),
    )
    gap = "   " if wide else " "
    for label, amount, signed in parts:
        line.append((f"{gap}{label} ", None))
        style = None
        if signed and styles is not None and not amount.is_zero():
            style = styles.up if amount > 0 else styles.down
        line.append((fmt_money(amount, signed=signed), style))
    return line


class TotalsLine(Widget):
    """The totals line. Its text is summed when it is drawn: once a frame, however many batches
    of quotes the table applied since the last one (a round of 1,000 conids comes in ten).

    It draws its one line itself (Textual's line API) from its pieces of text: as a text it went
    through Textual's content layout and cost about as much as all the rows a tick changes. A
    line too long for the widget ends before the last piece starting with a space that fits (a
    label goes with its amount), else at the last whole word that fits.
    """

    DEFAULT_CSS = """
    TotalsLine { height: 1; }
    """

    def __init__(
        self, parts: Callable[[], list[tuple[str, Style | None]]], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._parts = parts

    def render(self) -> Text:
        """The line as text (what it says)."""
        line = Text()
        for text, style in self._parts():
            line.append(text, style or "")
        return line

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.content_size.width
        if y:
            return Strip.blank(width, base)
        parts = self._parts()
        strip = Strip([Segment(text, base + style if style else base) for text, style in parts])
        if strip.cell_length > width:
            plain = "".join(text for text, _ in parts)
            cut, start = plain.rfind(" ", 0, width + 1), 0
            pieces = []  # where each piece that starts with a space starts (a label and more)
            for text, _ in parts:
                if start and text[:1] == " ":
                    pieces.append(start)
                start += len(text)
            cut = max((at for at in pieces if at <= width), default=cut)
            strip = strip.crop(0, cut if cut > 0 else width)
        # filled as the padding around it is: in the background colour alone
        return strip.adjust_cell_length(width, Style(bgcolor=base.bgcolor)).simplify()
