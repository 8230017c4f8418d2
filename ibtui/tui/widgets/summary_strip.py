"""The account's balances in one line over the positions: net liquidation, excess liquidity with
the margin cushion, the day's P&L (and, when wide, buying power and cash as far as they fit).

A figure that moved since the refresh before carries an arrow (▲ up, ▼ down) until the next
refresh; excess liquidity and the cushion are in the warning colour when the cushion is below the
``[ui] margin_warning`` threshold. Hidden until the first balances arrive (a broker that reads
none never shows it). With streaming on, the pushed P&L moves net liquidation, excess liquidity
and the day's P&L between refreshes (marked when they moved since the last refresh).

Nothing pretends to be live: when the last refresh failed, or the figures are older than
``stale_after`` (two refresh intervals: no push and no refresh since), the line is dimmed and
says ``as of HH:MM:SS`` (the last refresh's time when it failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from ibtui.tui.balances import BalancesView
from ibtui.tui.component_style import component_style
from ibtui.tui.format import fmt_money, fmt_pct

__all__ = ["ARROWS", "SummaryStrip", "as_of", "margin_low", "strip_parts"]

ARROWS = {1: "▲", -1: "▼"}
_WIDE = 110  # narrower: net liq, excess liquidity and the day's P&L only
_HUNDRED = Decimal(100)

# A part of the line: its text and the name of its style ("", "label", "up", "down", "warn",
# "stale")
Part = tuple[str, str]


def margin_low(view: BalancesView, threshold: float) -> bool:
    """The margin cushion (excess liquidity / net liquidation) is below ``threshold``."""
    cushion = view.cushion
    return threshold > 0 and cushion is not None and cushion < Decimal(str(threshold))


def _tone(amount: Decimal | None) -> str:
    if amount is None or amount.is_zero():
        return ""
    return "up" if amount > 0 else "down"


def as_of(at: float) -> str:
    """``as of HH:MM:SS`` (local time)."""
    return f"as of {time.strftime('%H:%M:%S', time.localtime(at))}"


def strip_parts(
    view: BalancesView,
    changed: Mapping[str, int],
    *,
    width: int,
    threshold: float,
    stale: str = "",
    room: int | None = None,
) -> list[Part]:
    """The strip's pieces of text with their style names; shorter labels when narrow.
    ``stale``: what to say of figures that are not fresh (after the day's P&L). When wide,
    buying power and cash come only as far as they fit in ``room`` characters (if given)."""
    wide = width >= _WIDE
    gap = "   " if wide else "  "
    parts: list[Part] = []

    def figure(key: str, label: str, amount: Decimal | None, style: str, signed: bool) -> None:
        if parts:
            parts.append((gap, ""))
        parts.append((f"{label} ", "label"))
        parts.append((fmt_money(amount, signed=signed), style))
        arrow = ARROWS.get(changed.get(key, 0))
        if arrow:
            parts.append((arrow, style))

    low = margin_low(view, threshold)
    warn = "warn" if low else ""
    figure("net_liquidation", "Net liq" if wide else "NLV", view.net_liquidation, "", False)
    excess = view.excess_liquidity
    figure("excess_liquidity", "Excess liq" if wide else "ExLiq", excess, warn, False)
    cushion = view.cushion
    if cushion is not None:
        parts.append((f" ({fmt_pct(cushion * _HUNDRED, signed=False)})", warn))
    figure("daily_pnl", "Day P&L" if wide else "Day", view.daily_pnl, _tone(view.daily_pnl), True)
    if stale:
        parts.append((f"{gap}{stale}", "stale"))
    tail: list[Part] = [(f"{gap}LOW MARGIN", "warn")] if low else []
    if wide:
        for key, label, amount in (
            ("buying_power", "Buying power", view.buying_power),
            ("total_cash", "Cash", view.total_cash),
        ):
            kept = len(parts)
            figure(key, label, amount, "", False)
            if room is not None and _length(parts) + _length(tail) > room:
                del parts[kept:]  # it does not fit: what is before it stays whole
                break
    return parts + tail


def _length(parts: list[Part]) -> int:
    return sum(len(text) for text, _ in parts)


class SummaryStrip(Widget):
    """One line of the account's balances; give it ``show(view, changed)`` on each refresh."""

    DEFAULT_CSS = """
    SummaryStrip {
        height: 1;
        width: 1fr;
        display: none;
        padding: 0 1;
        &.-shown { display: block; }
        & > .summary-strip--label { color: $text-muted; }
        & > .summary-strip--up { color: $text-success; }
        & > .summary-strip--down { color: $text-error; }
        & > .summary-strip--warn { color: $text-warning; text-style: bold; }
        & > .summary-strip--stale { color: $text-warning; }
        &.-stale { text-style: dim; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "summary-strip--label",
        "summary-strip--up",
        "summary-strip--down",
        "summary-strip--warn",
        "summary-strip--stale",
    }

    def __init__(
        self,
        *,
        threshold: float = 0.10,
        clock: Callable[[], float] = time.time,
        stale_after: float = 40.0,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.threshold = threshold
        self.clock = clock
        self.stale_after = stale_after
        self.balances: BalancesView | None = None
        self.changed: Mapping[str, int] = {}
        self.refreshed_at: float | None = None  # the last full refresh
        self.error: str | None = None  # the last refresh's failure, until one succeeds

    def on_mount(self) -> None:
        self.set_interval(1.0, self._age)

    def show(self, view: BalancesView, changed: Mapping[str, int], *, pushed: bool = False) -> None:
        """New figures: a refresh, or (``pushed``) the stream's P&L over the last refresh."""
        self.balances = view
        self.changed = changed
        if not pushed:
            self.refreshed_at, self.error = view.received_at, None
        self.add_class("-shown")
        self._age()
        self.refresh()

    def failed(self, error: str) -> None:
        """The last refresh failed: the figures stay, said to be as of their time."""
        self.error = error
        self._age()
        self.refresh()

    @property
    def stale_note(self) -> str:
        """``as of HH:MM:SS`` when the figures are not fresh (the refresh failed, or nothing came
        for ``stale_after`` seconds); "" when they are."""
        view = self.balances
        if view is None or view.received_at is None:
            return ""
        if self.error is not None:
            return as_of(self.refreshed_at or view.received_at)
        if self.clock() - view.received_at > self.stale_after:
            return as_of(view.received_at)
        return ""

    @property
    def stale(self) -> bool:
        return bool(self.stale_note)

    def _age(self) -> None:
        stale = self.stale
        if stale != self.has_class("-stale"):
            self.set_class(stale, "-stale")
            self.refresh()

    @property
    def margin_warning(self) -> bool:
        """The cushion is shown in the warning colour."""
        return self.balances is not None and margin_low(self.balances, self.threshold)

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.balances is None:
            return line
        styles: dict[str, Style] = {}
        stale = self.stale_note
        if stale and self.error is not None and self.size.width >= _WIDE:
            stale += " (refresh failed)"
        for text, name in strip_parts(
            self.balances,
            self.changed,
            width=self.size.width,
            threshold=self.threshold,
            stale=stale,
            room=self.content_size.width,
        ):
            if name and name not in styles:
                styles[name] = component_style(self, f"summary-strip--{name}")
            line.append(text, styles.get(name) or "")
        return line
