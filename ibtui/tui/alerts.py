"""The console's side of the alerts: :class:`AlertWatch` feeds the rules
(:mod:`ibtui.alerts.rules`) the prices the positions grid shows (each
:class:`~ibtui.tui.messages.QuotesUpdated`, which bubbles from the positions screen to the app),
the positions' unrealized P&L repriced by them, and the order watch's fills; and tells each
firing: a toast, the terminal bell (``[ui] bell``), a desktop notification as escape sequences
(``[alerts] desktop``, :mod:`ibtui.tui.desktop_notify`) and a line in the audit journal.

The alerts file is written, and the journal appended to, in worker threads: never on the event
path. The poller quotes the alerts' instruments with the watchlist's (:meth:`AlertWatch.conids`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from textual.app import App

from ibtui.alerts.rules import DEFAULT_REARM_PCT, Alert, AlertBook, Firing, describe
from ibtui.tui.desktop_notify import (
    PASSTHROUGH_OFF,
    DesktopMode,
    desktop_sequences,
    in_tmux,
    tmux_passthrough,
)

if TYPE_CHECKING:
    from ibtui.alerts.store import AlertStore
    from ibtui.tui.order_watch import News
    from ibtui.tui.viewmodels import PositionView, QuoteView

__all__ = ["AlertSettings", "AlertWatch"]

JournalLine = Callable[[Mapping[str, object]], object]  # writes one "alert" line (blocking)


@dataclass(frozen=True)
class AlertSettings:
    """How the console keeps and tells alerts. Without a store they live as long as the app."""

    store: AlertStore | None = None
    desktop: DesktopMode = "off"
    rearm_pct: Decimal = DEFAULT_REARM_PCT
    journal: JournalLine | None = None
    passthrough: Callable[[], bool | None] = tmux_passthrough  # tmux passes them on (None: unsure)


class AlertWatch:
    def __init__(self, app: App[Any], settings: AlertSettings, *, bell: bool) -> None:
        self.app = app
        self.settings = settings
        self.bell = bell
        self.problem: str | None = None  # why the saved alerts could not be loaded
        alerts: list[Alert] = []
        if settings.store is not None:
            alerts, self.problem = settings.store.load()  # before the app runs
        self.book = AlertBook(alerts, rearm_pct=settings.rearm_pct)
        self.positions: dict[int, PositionView] = {}
        self.fired: list[Firing] = []  # every firing of this run, oldest first
        self._listeners: list[Callable[[], None]] = []
        self._save_lock = threading.Lock()
        self._to_save: list[Alert] | None = None

    # --- what the alerts screen does ----------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def add(self, alert: Alert) -> None:
        self.book.add(alert)
        self._evaluate_now(alert)
        self._changed()

    def update(self, alert: Alert) -> None:
        self.book.update(alert)
        self._evaluate_now(alert)
        self._changed()

    def remove(self, alert_id: str) -> None:
        self.book.remove(alert_id)
        self._changed()

    def set_paused(self, alert_id: str, paused: bool) -> None:
        self.book.set_paused(alert_id, paused)
        self._changed()

    def conids(self) -> list[int]:
        return self.book.conids()

    def check_desktop(self) -> None:
        """With desktop notifications on, inside tmux: ask tmux once (in a thread) whether it
        passes them on, and say what to run when it does not."""
        if self.settings.desktop == "off" or not in_tmux():
            return
        self.app.run_worker(self._check_passthrough, thread=True, group="alerts")

    def _check_passthrough(self) -> None:
        if self.settings.passthrough() is False:
            text = PASSTHROUGH_OFF + (" and ring the terminal bell." if self.bell else ".")
            self.app.call_from_thread(
                self.app.notify, text, title="Alerts", severity="warning", timeout=20, markup=False
            )

    # --- what the app feeds it ----------------------------------------------------------------
    def quotes(self, quotes: Mapping[int, QuoteView]) -> None:
        """A batch of the grid's quotes: only those of instruments an active alert watches are
        looked at (a batch of 1,000 quotes and no alert costs a set intersection)."""
        firings: list[Firing] = []
        for conid in quotes.keys() & set(self.book.conids()):
            quote = quotes[conid]
            firings += self.book.on_quote(conid, quote.last, quote.change_pct)
            position = self.positions.get(conid)
            if position is not None:
                position = self.positions[conid] = position.with_quote(quote)
                if position.unrealized_pnl is not None:
                    firings += self.book.on_pnl(conid, position.unrealized_pnl)
        self._tell(firings)

    def positions_updated(self, positions: Iterable[PositionView]) -> None:
        self.positions = {p.conid: p for p in positions if not p.closed}
        firings: list[Firing] = []
        for conid, position in self.positions.items():
            if position.unrealized_pnl is not None:
                firings += self.book.on_pnl(conid, position.unrealized_pnl)
        self._tell(firings)

    def fills(self, news: News) -> None:
        from ibtui.tui.widgets.blotter import outcome_notice

        firings: list[Firing] = []
        for order, outcome in news:
            if outcome == "Filled":
                text = outcome_notice(order, outcome)
                firings += self.book.on_fill(order.conid, order.symbol, text)
        self._tell(firings)

    # --- telling ------------------------------------------------------------------------------
    def _evaluate_now(self, alert: Alert) -> None:
        """A new or edited alert sees the price (and P&L) on hand: it starts on the right side."""
        from ibtui.tui.market_screens import latest_quote

        if alert.conid is None or alert.kind == "fill":
            return
        quote = latest_quote(self.app, alert.conid)
        if quote is not None:
            self.quotes({alert.conid: quote})

    def _tell(self, firings: Sequence[Firing]) -> None:
        if self.book.changed:
            self._changed()
        if not firings:
            return
        app = self.app
        for firing in firings:
            self.fired.append(firing)
            app.notify(firing.text, title="Alert", severity="warning", timeout=15, markup=False)
        if self.bell:
            app.bell()
        if self.settings.desktop != "off":
            from ibtui.tui.textual_compat.terminal_out import write_to_terminal

            body = "; ".join(f.text for f in firings)
            write_to_terminal(
                app, desktop_sequences("ibtui alert", body, self.settings.desktop, tmux=in_tmux())
            )
        journal = self.settings.journal
        if journal is not None:
            session = getattr(app, "session", None)
            account = getattr(getattr(session, "account", None), "account_id", None)
            lines = [{"account": account, **_journal_fields(f)} for f in firings]
            app.run_worker(lambda: [journal(line) for line in lines], thread=True, group="alerts")

    def _changed(self) -> None:
        self.book.changed = False
        for listener in list(self._listeners):
            listener()
        if self.settings.store is None:
            return
        with self._save_lock:
            self._to_save = list(self.book)
        self.app.run_worker(self._save, thread=True, group="alerts")

    def _save(self) -> None:
        """The newest alerts to the file (in a thread; a later change saves again)."""
        store = self.settings.store
        assert store is not None
        with self._save_lock:
            alerts, self._to_save = self._to_save, None
            if alerts is not None:
                try:
                    store.save(alerts)
                except OSError as exc:
                    self.app.call_from_thread(
                        self.app.notify,
                        f"The alerts could not be saved: {exc}",
                        severity="error",
                        markup=False,
                    )


def _journal_fields(firing: Firing) -> dict[str, object]:
    alert = firing.alert
    return {
        "alert": alert.id,
        "kind": alert.kind,
        "symbol": alert.symbol,
        "conid": alert.conid,
        "level": alert.level,
        "value": firing.value,
        "text": firing.text,
        "describe": describe(alert),
        "repeat": alert.repeat,
    }


def set_alert_on(app: App[Any], watch: AlertWatch, screen: Any) -> bool:
    """The dialog that sets an alert on what ``screen`` has selected (the position under the
    cursor, the chart's instrument, the watchlist's row), prefilled with its last price and,
    for a position, its unrealized P&L; False when nothing is selected."""
    from ibtui.tui.market_screens import chart_target, latest_quote
    from ibtui.tui.screens.alerts import AlertDialog, AlertTarget

    target = chart_target(screen)
    if target is None:
        return False
    conid, symbol, _description = target
    quote = latest_quote(app, conid)
    position = watch.positions.get(conid)
    last = quote.last if quote is not None and quote.last is not None else None
    if last is None and position is not None:
        last = position.last
    unrealized = position.unrealized_pnl if position is not None else None

    def chosen(alert: Alert | None) -> None:
        if alert is not None:
            app.notify(f"Alert set: {describe(alert)}", title="Alerts", markup=False)
            watch.add(alert)  # it may fire at once: the price is already past its level

    app.push_screen(AlertDialog(AlertTarget(conid, symbol, last, unrealized)), chosen)
    return True
