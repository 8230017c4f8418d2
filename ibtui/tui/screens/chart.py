"""One instrument's price history: candlesticks (or a line) over a volume panel.

The bars come from a :class:`~ibtui.tui.market.MarketData` in an exclusive worker; ``[`` and ``]``
step through :data:`~ibtui.tui.market.PRESETS` (IBKR's allowed period/bar pairs, intraday to
fifteen years). Times on the axis are the exchange's local time. Live quotes (forwarded by the
app through :meth:`ChartScreen.apply_quote`) move the current bar. Until the bars are there the
screen says why: loading (and for how long when IBKR is slow), no data for the window, IBKR's
rate limit (with a countdown to the automatic retry) or an error (``r`` retries).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual_plotext import PlotextPlot

from ibtui.tui import keymap as ids
from ibtui.tui.format import fmt_pct, fmt_price
from ibtui.tui.market import (
    DEFAULT_PRESET,
    PRESETS,
    BarView,
    HistoryView,
    MarketData,
    MarketDataError,
    Preset,
    RateLimited,
    TicketRequested,
    WatchItem,
    Watchlist,
)
from ibtui.tui.viewmodels import QuoteView
from ibtui.tui.widgets.footer import Footer
from ibtui.tui.widgets.watchlist import persist_watchlist

__all__ = [
    "ChartScreen",
    "ChartState",
    "PricePanel",
    "VolumePanel",
    "axis_labels",
    "candle_color",
    "latest_quote",
    "open_chart",
    "price_ticks",
    "volume_text",
]

UP = "green"
DOWN = "red"
FIRST_BACKOFF = 5.0
MAX_BACKOFF = 60.0
_ONE_DAY = 86_400
_AXIS_PAD = 2  # columns plotext adds around the y labels


class ChartState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    EMPTY = "empty"
    RATE_LIMITED = "rate limited"
    ERROR = "error"


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


def _signed_style(value: Decimal) -> str:
    return "green" if value > 0 else "red" if value < 0 else ""


def _price_label(value: float) -> str:
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
        plt.yticks(ticks, self._ylabels(ticks, _price_label))
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


# --- the screen -----------------------------------------------------------------------------------
class ChartScreen(Screen[None]):
    CSS_PATH = "chart.tcss"
    AUTO_FOCUS = None
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id=ids.CHART_CLOSE),
        Binding("right_square_bracket", "preset(1)", "Longer", id=ids.CHART_NEXT_PRESET),
        Binding("left_square_bracket", "preset(-1)", "Shorter", id=ids.CHART_PREVIOUS_PRESET),
        Binding("l", "toggle_line", "Line/candles", id=ids.CHART_TOGGLE_LINE),
        Binding("v", "toggle_volume", "Volume", id=ids.CHART_TOGGLE_VOLUME),
        Binding("r", "reload", "Reload", id=ids.CHART_RELOAD),
        Binding("plus", "watch", "Watch", id=ids.CHART_WATCH),
        Binding("b", "ticket('BUY')", "Buy", id=ids.CHART_BUY),
        Binding("s", "ticket('SELL')", "Sell", id=ids.CHART_SELL),
    ]

    def __init__(
        self,
        market: MarketData,
        conid: int,
        symbol: str,
        *,
        description: str = "",
        preset: int = DEFAULT_PRESET,
        presets: Sequence[Preset] = PRESETS,
        line: bool = False,
        volume: bool = True,
        watchlist: Watchlist | None = None,
        quote: QuoteView | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        slow_after: float = 3.0,
    ) -> None:
        super().__init__()
        self.market = market
        self.conid = conid
        self.symbol = symbol
        self.description = description
        self.presets = tuple(presets)
        self.preset_index = max(0, min(len(self.presets) - 1, preset))
        self.line_mode = line
        self.show_volume = volume
        self.watchlist = watchlist
        self.quote = quote if quote is not None and quote.conid == conid else None
        self.sleep = sleep
        self.slow_after = slow_after
        self.history: HistoryView | None = None
        self.state = ChartState.LOADING
        self.message = ""
        self.requests = 0  # history requests sent (retries included)
        self._waited = 0
        self._ticker: Timer | None = None
        self._holding = False

    @property
    def preset(self) -> Preset:
        return self.presets[self.preset_index]

    def compose(self) -> ComposeResult:
        yield Static(id="chart-header", markup=False)
        with Vertical(id="chart-body"):
            yield PricePanel(id="chart-price")
            yield VolumePanel(id="chart-volume")
        yield Static(id="chart-message", markup=False)
        yield Footer()

    @property
    def price_panel(self) -> PricePanel:
        return self.query_one(PricePanel)

    @property
    def volume_panel(self) -> VolumePanel:
        return self.query_one(VolumePanel)

    def on_mount(self) -> None:
        if self.watchlist is not None:  # keep this conid quoted while the chart is open
            self.watchlist.hold(self.conid)
            self._holding = True
        self.price_panel.line_mode = self.line_mode
        self._ticker = self.set_interval(1.0, self._tick, pause=True)
        self._show()
        self.load()

    def on_unmount(self) -> None:
        if self._holding and self.watchlist is not None:
            self.watchlist.release(self.conid)
            self._holding = False

    # --- loading ----------------------------------------------------------------------------------
    @work(exclusive=True, group="chart-history")
    async def load(self) -> None:
        """Fetch the current preset; on a 429 count down and try again, until it works."""
        preset = self.preset
        backoff = FIRST_BACKOFF
        while True:
            self._loading()
            self.requests += 1
            try:
                history = await self.market.history(self.conid, preset.period, preset.bar)
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after else backoff
                backoff = min(MAX_BACKOFF, backoff * 2)
                await self._count_down(wait)
                continue
            except MarketDataError as exc:
                self._stop_ticker()
                self._set_state(
                    ChartState.ERROR,
                    f"Could not load the chart: {exc}\nPress r to try again.",
                )
                return
            break
        self._stop_ticker()
        self.history = history
        if history.symbol and not self.symbol:
            self.symbol = history.symbol
        if history.empty:
            self._set_state(
                ChartState.EMPTY,
                f"No price history for {self.symbol} over {preset.label}.\n"
                "Press ] for a longer period or [ for a shorter one.",
            )
        else:
            self._set_state(ChartState.READY, "")

    def _loading(self) -> None:
        self._waited = 0
        if self._ticker is not None:
            self._ticker.reset()
            self._ticker.resume()
        self._set_state(ChartState.LOADING, self._loading_text())

    def _loading_text(self) -> str:
        text = f"loading… {self.symbol} · {self.preset.label}"
        if self._waited >= self.slow_after:
            text += f"\nIBKR has not answered for {self._waited} s; still waiting."
        return text

    def _tick(self) -> None:
        if self.state is ChartState.LOADING:
            self._waited += 1
            self._set_state(ChartState.LOADING, self._loading_text())

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker.pause()

    async def _count_down(self, wait: float) -> None:
        self._stop_ticker()
        remaining = max(1, math.ceil(wait))
        while remaining > 0:
            self._set_state(
                ChartState.RATE_LIMITED,
                f"IBKR asks us to slow down; retrying in {remaining}s.",
            )
            await self.sleep(1.0)
            remaining -= 1

    def _set_state(self, state: ChartState, message: str) -> None:
        self.state = state
        self.message = message
        if self.is_mounted:
            self._show()

    # --- drawing ----------------------------------------------------------------------------------
    def _label_width(self, history: HistoryView) -> int:
        bars = history.bars
        if not bars:
            return 8
        low = float(min(b.low for b in bars))
        high = float(max(b.high for b in bars))
        top = max(float(b.volume or 0) for b in bars)
        widest = [_price_label(low), _price_label(high), volume_text(top)]
        return max(len(label) for label in widest) + 1

    def _show(self) -> None:
        ready = self.state is ChartState.READY and self.history is not None
        self.query_one("#chart-body").display = ready
        message = self.query_one("#chart-message", Static)
        message.display = not ready
        message.update(self.message)
        message.set_class(self.state is ChartState.ERROR, "error")
        message.set_class(self.state is ChartState.RATE_LIMITED, "warning")
        volume = self.volume_panel
        volume.display = self.show_volume
        history = self.history if ready else None
        width = self._label_width(history) if history is not None else 8
        self.price_panel.show(history, width)
        volume.show(history, width)
        self.query_one("#chart-header", Static).update(self._header())

    def _header(self) -> Text:
        text = Text()
        text.append(self.symbol, style="bold")
        history = self.history
        quote = self.quote
        last = quote.last if quote is not None else None
        if last is None and history is not None and history.bars:
            last = history.bars[-1].close
        if last is not None:
            text.append(f"  {fmt_price(last)}", style="bold")
        if quote is not None and quote.change is not None:
            style = _signed_style(quote.change)
            sign = "+" if quote.change > 0 else ""
            text.append(f" {sign}{fmt_price(quote.change)}", style=style)
            if quote.change_pct is not None:
                text.append(f" ({fmt_pct(quote.change_pct, signed=True)})", style=style)
        text.append(f"  ·  {self.preset.label}  ·  {'line' if self.line_mode else 'candles'}")
        if history is not None:
            text.append(f"  ·  {history.timezone} time", style="dim")
            if history.delay_seconds:
                text.append(f"  ·  delayed {history.delay_seconds // 60} min", style="yellow")
        if self.description:
            text.append(f"  ·  {self.description}", style="dim")
        return text

    # --- live quotes ------------------------------------------------------------------------------
    def apply_quote(self, quote: QuoteView) -> None:
        """A fresh snapshot: the header's last price, and the current bar follows it."""
        if quote.conid != self.conid:
            return
        self.quote = quote
        if self.history is not None and quote.last is not None and not self.history.empty:
            # IBKR's own time of the quote places it in a bar. Without one (a closed market's
            # snapshot) it only moves the last bar: when ibtui received it says nothing of when
            # the trade was, and a bar at that time would be invented.
            self.history = self.history.with_price(quote.last, quote.traded_at)
        if self.is_mounted:
            self._show()

    set_quote = apply_quote  # the positions screen forwards quotes to the top screen by this name

    # --- actions ----------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss(None)

    def action_preset(self, step: int) -> None:
        index = max(0, min(len(self.presets) - 1, self.preset_index + step))
        if index == self.preset_index:
            self.notify(
                "This is the longest period." if step > 0 else "This is the shortest period.",
                timeout=3,
                markup=False,
            )
            return
        self.preset_index = index
        self.history = None
        self.load()

    def action_reload(self) -> None:
        self.load()

    def action_toggle_line(self) -> None:
        self.line_mode = not self.line_mode
        self.price_panel.line_mode = self.line_mode
        self.price_panel.refresh()
        self._show()

    def action_toggle_volume(self) -> None:
        self.show_volume = not self.show_volume
        self._show()

    def action_watch(self) -> None:
        watchlist = self.watchlist
        if watchlist is None:
            self.notify("No watchlist in this session.", severity="warning", markup=False)
            return
        if watchlist.add(WatchItem(self.conid, self.symbol)):
            persist_watchlist(self, watchlist)
            self.notify(f"{self.symbol} added to the watchlist.", timeout=3, markup=False)
        else:
            self.notify(f"{self.symbol} is already on the watchlist.", timeout=3, markup=False)

    def action_ticket(self, side: str) -> None:
        self.post_message(
            TicketRequested(self.conid, self.symbol, self.description, side, self.quote)
        )


# --- opening a chart ------------------------------------------------------------------------------
def latest_quote(app: App[Any], conid: int) -> QuoteView | None:
    """The newest quote any screen on the stack holds for ``conid`` (the positions screen keeps
    every snapshot the poller posted in ``quotes``; so do the watchlist and the chart)."""
    for screen in reversed(app.screen_stack):
        quotes = getattr(screen, "quotes", None)
        if isinstance(quotes, Mapping):
            quote = quotes.get(conid)
            if isinstance(quote, QuoteView):
                return quote
    return None


def open_chart(
    app: App[Any],
    market: MarketData,
    conid: int,
    symbol: str,
    *,
    description: str = "",
    watchlist: Watchlist | None = None,
) -> ChartScreen:
    """Push a chart of ``conid`` (seeded with the newest quote on hand) and return it."""
    screen = ChartScreen(
        market,
        conid,
        symbol,
        description=description,
        watchlist=watchlist,
        quote=latest_quote(app, conid),
    )
    app.push_screen(screen)
    return screen
