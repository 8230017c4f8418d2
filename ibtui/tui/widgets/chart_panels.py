"""The chart's two panels (plotext plots): candlesticks or a close line over volume bars, and
the axis helpers they are drawn with (ticks, labels in the exchange's local time).

A panel draws from the data it was last shown when it renders, so a resize redraws to the new
size; :class:`~ibtui.tui.screens.chart.ChartScreen` loads the bars and shows them here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from ibtui.tui.format import fmt_price
from ibtui.tui.market import BarView, HistoryView

__all__ = [
    "DOWN",
    "UP",
    "PricePanel",
    "VolumePanel",
    "axis_labels",
    "candle_color",
    "price_label",
    "price_ticks",
    "volume_text",
]

UP = "green"
DOWN = "red"
_ONE_DAY = 86_400
_AXIS_PAD = 2  # columns plotext adds around the y labels


# --- axis helpers (pure) --------------------------------------------------------------------------
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _label_format(times: Sequence[float], bar_seconds: int | None, zone: ZoneInfo) -> str:
    if not times:
        return "%H:%M"
    first = datetime.fromtimestamp(times[0], zone)
    last = datetime.fromtimestamp(times[-1], zone)
    if bar_seconds is not None and bar_seconds < _ONE_DAY:
        return "%H:%M" if first.date() == last.date() else "%b %d %H:%M"
    if bar_seconds is not None and bar_seconds >= 28 * _ONE_DAY:
        return "%Y"
    return "%b %d" if (last - first).days < 300 else "%b %Y"


def axis_labels(
    times: Sequence[float], bar_seconds: int | None, timezone: str, width: int
) -> tuple[list[int], list[str]]:
    """Evenly spread x ticks (bar indices) and their labels in the exchange's local time, as
    many as fit in ``width`` columns."""
    if not times:
        return [], []
    zone = _zone(timezone)
    form = _label_format(times, bar_seconds, zone)
    sample = datetime.fromtimestamp(times[0], zone).strftime(form)
    count = max(1, min(len(times), width // (len(sample) + 4)))
    if count == 1:
        indices = [len(times) - 1]
    else:
        indices = sorted({round(i * (len(times) - 1) / (count - 1)) for i in range(count)})
    labels: list[str] = []
    for index in indices:
        label = datetime.fromtimestamp(times[index], zone).strftime(form)
        labels.append(label if not labels or label != labels[-1] else "")
    return indices, labels


def price_ticks(low: float, high: float, count: int) -> list[float]:
    """About ``count`` round values from ``low`` to ``high``."""
    if count < 2 or high <= low:
        return [low]
    raw = (high - low) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks or [low]


def volume_text(value: float) -> str:
    """``850``, ``12.5K``, ``1.2M``, ``3.4B``."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def price_label(value: float) -> str:
    return fmt_price(Decimal(repr(value)))


# --- the panels -----------------------------------------------------------------------------------
class _Panel(PlotextPlot):
    """A plot drawn from the screen's data when it renders, so a resize redraws to the new size
    (tick counts and all). A render with nothing changed reuses the last drawing."""

    line_mode = False

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.history: HistoryView | None = None
        self.label_width = 8
        self.drawn_size: tuple[int, int] | None = None
        self.draws = 0  # how often the plot was actually rebuilt
        self._drawn: tuple[object, ...] | None = None
        self._image: RenderResult | None = None

    def show(self, history: HistoryView | None, label_width: int) -> None:
        if history is not self.history or label_width != self.label_width:
            self.history = history
            self.label_width = label_width
            self.refresh()

    def render(self) -> RenderResult:
        width, height = self.size.width, self.size.height
        key = (self.history, self.label_width, width, height, self.line_mode, self.app.theme)
        if self._image is not None and key == self._drawn:
            return self._image
        plt = self.plt
        plt.clear_figure()
        if self.history is not None and self.history.bars and width > 0 and height > 0:
            self.draw(self.history, width, height)
        self.drawn_size = (width, height)
        self.draws += 1
        self._drawn = key
        self._image = super().render()
        return self._image

    def draw(self, history: HistoryView, width: int, height: int) -> None:
        raise NotImplementedError

    def _ylabels(self, ticks: Sequence[float], text: Callable[[float], str]) -> list[str]:
        return [text(t).rjust(self.label_width) for t in ticks]


class PricePanel(_Panel):
    """Candlesticks or a close line, with the time axis."""

    def draw(self, history: HistoryView, width: int, height: int) -> None:
        plt = self.plt
        bars = history.bars
        xs = list(range(len(bars)))
        if self.line_mode:
            plt.plot(xs, [float(b.close) for b in bars], marker="braille", color="cyan")
        else:
            plt.candlestick(
                cast("list[str]", xs),  # plotext's stub says dates; numbers work (and no gaps)
                {
                    "Open": [float(b.open) for b in bars],
                    "Close": [float(b.close) for b in bars],
                    "High": [float(b.high) for b in bars],
                    "Low": [float(b.low) for b in bars],
                },
                colors=[UP, DOWN],  # up only when close > open: see candle_color
            )
        low = float(min(b.low for b in bars))
        high = float(max(b.high for b in bars))
        pad = (high - low) * 0.05 or max(abs(high) * 0.001, 0.01)
        plt.ylim(low - pad, high + pad)
        ticks = price_ticks(low - pad, high + pad, max(2, min(6, height // 3)))
        plt.yticks(ticks, self._ylabels(ticks, price_label))
        plt.xlim(-0.5, len(bars) - 0.5)
        plot_width = max(1, width - self.label_width - _AXIS_PAD)
        indices, labels = axis_labels(
            [b.time for b in bars], history.bar_seconds, history.timezone, plot_width
        )
        plt.xticks([float(i) for i in indices], labels)


def candle_color(bar: BarView) -> str:
    """A candle's colour as plotext draws it: up only when it closed above its open."""
    return UP if bar.close > bar.open else DOWN


class VolumePanel(_Panel):
    """Volume bars in their candles' colours, each in its candle's column of the price panel.

    Each bar is a vertical line at the candle's x, drawn as plotext draws a candle's body: one
    column wide at any size (``plt.bar`` scales its width by the mean x spacing of each call's
    series, which spread up and down bars drawn apart over their neighbours)."""

    def draw(self, history: HistoryView, width: int, height: int) -> None:
        plt = self.plt
        for i, bar in enumerate(history.bars):
            volume = float(bar.volume or 0)
            if volume > 0:
                plt.plot([i, i], [0.0, volume], marker="sd", color=candle_color(bar))
        bars = history.bars
        top = max((float(b.volume or 0) for b in bars), default=0.0) or 1.0
        plt.ylim(0, top)
        ticks = [0.0, top] if height < 5 else [0.0, top / 2, top]
        plt.yticks(ticks, self._ylabels(ticks, volume_text))
        plt.xlim(-0.5, len(bars) - 0.5)
        plt.xticks([], [])
