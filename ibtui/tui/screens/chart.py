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
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from ibtui.tui import keymap as ids
from ibtui.tui.format import fmt_pct, fmt_price
from ibtui.tui.market import (
    DEFAULT_PRESET,
    PRESETS,
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
from ibtui.tui.widgets.chart_panels import (
    PricePanel,
    VolumePanel,
    axis_labels,
    candle_color,
    price_label,
    price_ticks,
    volume_text,
)
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

FIRST_BACKOFF = 5.0
MAX_BACKOFF = 60.0


class ChartState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    EMPTY = "empty"
    RATE_LIMITED = "rate limited"
    ERROR = "error"


def _signed_style(value: Decimal) -> str:
    return "green" if value > 0 else "red" if value < 0 else ""


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
        widest = [price_label(low), price_label(high), volume_text(top)]
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
            text.append(f"  ·  exchange time ({history.timezone})", style="dim")
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
            # IBKR's own time of the quote places it in a bar. Without one, or when the price is
            # the close (a closed market: IBKR stamps the snapshot when it answers, not when the
            # trade was), it only moves the last bar: a bar at that time would be invented.
            at = None if quote.is_close else quote.traded_at
            self.history = self.history.with_price(quote.last, at)
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
