"""The chart's and the symbol search's view-models: price bars, a history, a search result, and the
chart's history presets.

Apart from :mod:`ibtui.tui.market` (which re-exports them): only a chart or a search builds them,
so they are imported then (through the market module's ``__getattr__``), not at start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "BarView",
    "HistoryView",
    "Preset",
    "SearchResultView",
]


# --- view-models ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BarView:
    """One price bar; ``time`` is the bar's start in epoch seconds."""

    time: float
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None = None

    def with_price(self, price: Decimal) -> BarView:
        """This bar after a trade at ``price``."""
        return replace(self, close=price, high=max(self.high, price), low=min(self.low, price))


@dataclass(frozen=True, slots=True)
class HistoryView:
    """Bars oldest first. ``timezone`` is the exchange's IANA zone (axis labels are local time);
    ``bar_seconds`` the bar length; ``delay_seconds`` is non-zero for delayed data."""

    conid: int
    symbol: str
    bars: tuple[BarView, ...]
    timezone: str = "UTC"
    period: str = ""
    bar: str = ""
    bar_seconds: int | None = None
    name: str | None = None
    delay_seconds: int = 0

    @property
    def empty(self) -> bool:
        return not self.bars

    def with_price(self, price: Decimal, at: float | None = None) -> HistoryView:
        """The current (last) bar moved by a live trade at ``price``.

        For intraday bars, a trade at ``at`` after the last bar's end opens a new bar (aligned on
        the bar length); daily and longer bars only ever update the last one (sessions, weekends
        and holidays make their next start unknowable here).
        """
        if not self.bars:
            return self
        last = self.bars[-1]
        length = self.bar_seconds
        if at is not None and length and length < 86_400 and at >= last.time + length:
            start = last.time + ((at - last.time) // length) * length
            bar = BarView(start, price, price, price, price, Decimal(0))
            return replace(self, bars=(*self.bars, bar))
        return replace(self, bars=(*self.bars[:-1], last.with_price(price)))


@dataclass(frozen=True, slots=True)
class SearchResultView:
    """One listing from a symbol search: ``kinds`` are the contract kinds IBKR offers for it
    (``STK``, ``OPT``, ``WAR``...), ``exchange`` its primary exchange."""

    conid: int
    symbol: str
    description: str = ""
    kinds: tuple[str, ...] = ()
    exchange: str | None = None

    @property
    def kinds_text(self) -> str:
        return " ".join(self.kinds)


@dataclass(frozen=True, slots=True)
class Preset:
    """A history request the chart offers: ``period`` and ``bar`` in IBKR's spelling."""

    period: str
    bar: str
    label: str


# From API.md §6.1's step-size table (each bar is inside its period's allowed range), intraday
# to multi-year, every one well under IBKR's 1,000 bars per answer.
PRESETS: tuple[Preset, ...] = (
    Preset("1h", "1min", "1 hour · 1 min"),
    Preset("1d", "5min", "1 day · 5 min"),
    Preset("1w", "30min", "1 week · 30 min"),
    Preset("1m", "4h", "1 month · 4 hours"),
    Preset("3m", "1d", "3 months · daily"),
    Preset("6m", "1d", "6 months · daily"),
    Preset("1y", "1d", "1 year · daily"),
    Preset("2y", "1w", "2 years · weekly"),
    Preset("5y", "1w", "5 years · weekly"),
    Preset("15y", "1m", "15 years · monthly"),
)
DEFAULT_PRESET = 1  # one day of 5-minute bars
