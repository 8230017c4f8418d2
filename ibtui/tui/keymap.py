"""Binding ids and the ``[keymap]`` section of the config.

Every ``Binding`` in ibtui has an id from this module. The config maps ids to keys
(``"positions.filter" = "f,slash"``); :func:`apply_keymap` checks the ids and hands the rest to
Textual's ``App.set_keymap``, which rebinds them wherever they are declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

__all__ = [
    "BindingInfo",
    "KeymapProblem",
    "apply_keymap",
    "binding_classes",
    "binding_ids",
    "bindings_of",
    "describe_active_bindings",
]

# --- ids --------------------------------------------------------------------------------------
APP_QUIT = "app.quit"
APP_HELP = "app.help"
APP_HELP_QUIT = "app.help_quit"
APP_ACCOUNTS = "app.accounts"
APP_ORDERS = "app.orders"
APP_RETRY = "app.retry"
APP_BALANCES = "app.balances"
ACCOUNT_CLOSE = "account.close"
PROBLEM_RETRY = "problem.retry"
PROBLEM_QUIT = "problem.quit"
LOCK_UNLOCK = "lock.unlock"
COMPETING_TAKE_BACK = "competing.take_back"
COMPETING_LEAVE = "competing.leave"
APP_PALETTE = "app.command_palette"
HELP_CLOSE = "help.close"
HELP_DOWN = "help.cursor_down"
HELP_UP = "help.cursor_up"
APP_SEARCH = "app.search"
APP_WATCHLIST = "app.watchlist"
APP_CHART = "app.chart"
CHART_CLOSE = "chart.close"
CHART_TOGGLE_LINE = "chart.toggle_line"
CHART_TOGGLE_VOLUME = "chart.toggle_volume"
CHART_NEXT_PRESET = "chart.next_preset"
CHART_PREVIOUS_PRESET = "chart.previous_preset"
CHART_RELOAD = "chart.reload"
CHART_WATCH = "chart.watch"
CHART_BUY = "chart.buy"
CHART_SELL = "chart.sell"
SEARCH_CLOSE = "search.close"
SEARCH_FOCUS = "search.focus_input"
SEARCH_RESULTS = "search.focus_results"
SEARCH_CHART = "search.chart"
SEARCH_WATCH = "search.watch"
SEARCH_BUY = "search.buy"
SEARCH_SELL = "search.sell"
SEARCH_DOWN = "search.cursor_down"
SEARCH_UP = "search.cursor_up"
WATCHLIST_CLOSE = "watchlist.close"
WATCHLIST_CHART = "watchlist.chart"
WATCHLIST_MOVE_UP = "watchlist.move_up"
WATCHLIST_MOVE_DOWN = "watchlist.move_down"
WATCHLIST_DELETE = "watchlist.delete"
WATCHLIST_SEARCH = "watchlist.search"
WATCHLIST_BUY = "watchlist.buy"
WATCHLIST_SELL = "watchlist.sell"
WATCHLIST_DOWN = "watchlist.cursor_down"
WATCHLIST_UP = "watchlist.cursor_up"
LOGIN_SUBMIT = "login.submit"
LOGIN_NEW_LINK = "login.new_link"
LOGIN_COPY_URL = "login.copy_url"
LOGIN_TOGGLE_QR = "login.toggle_qr"
ACCOUNTS_CHOOSE = "accounts.choose"
ACCOUNTS_BACK = "accounts.back"
ACCOUNTS_DOWN = "accounts.cursor_down"
ACCOUNTS_UP = "accounts.cursor_up"
QUESTION_CONFIRM = "question.confirm"
QUESTION_REJECT = "question.reject"
ORDERS_DOWN = "orders.cursor_down"
ORDERS_UP = "orders.cursor_up"
ORDERS_TOP = "orders.top"
ORDERS_BOTTOM = "orders.bottom"
ORDERS_CANCEL = "orders.cancel"
ORDERS_MODIFY = "orders.modify"
ORDERS_TRADES = "orders.toggle_trades"
ORDERS_KILL = "orders.kill_switch"
ORDERS_KILL_CONFIRM = "orders.kill_switch_confirm"
ORDERS_CLOSE = "orders.close"
MODIFY_SUBMIT = "modify.submit"
MODIFY_CLOSE = "modify.close"
POSITIONS_DOWN = "positions.cursor_down"
POSITIONS_UP = "positions.cursor_up"
POSITIONS_TOP = "positions.top"
POSITIONS_BOTTOM = "positions.bottom"
POSITIONS_PAGE_DOWN = "positions.page_down"
POSITIONS_PAGE_UP = "positions.page_up"
POSITIONS_FILTER = "positions.filter"
POSITIONS_CLEAR_FILTER = "positions.clear_filter"
POSITIONS_SORT_NEXT = "positions.sort_next"
POSITIONS_SORT_PREVIOUS = "positions.sort_previous"
POSITIONS_SORT_REVERSE = "positions.sort_reverse"
POSITIONS_BUY = "positions.buy"
POSITIONS_SELL = "positions.sell"
POSITIONS_CLOSE = "positions.close_position"
TICKET_CLOSE = "ticket.close"
TICKET_PREVIEW = "ticket.preview"
TICKET_SEND = "ticket.send"
TICKET_BUY = "ticket.buy"
TICKET_SELL = "ticket.sell"
APP_SET_ALERT = "app.set_alert"
APP_ALERTS = "app.alerts"
ALERTS_CLOSE = "alerts.close"
ALERTS_EDIT = "alerts.edit"
ALERTS_PAUSE = "alerts.pause"
ALERTS_DELETE = "alerts.delete"
ALERTS_NEW_FILL = "alerts.new_fill"
ALERTS_DOWN = "alerts.cursor_down"
ALERTS_UP = "alerts.cursor_up"
ALERT_DIALOG_CANCEL = "alert_dialog.cancel"
ALERT_DIALOG_SAVE = "alert_dialog.save"


@dataclass(frozen=True, slots=True)
class KeymapProblem:
    """A ``[keymap]`` entry that was not applied, and why."""

    binding_id: str
    reason: str

    def __str__(self) -> str:
        return f"[keymap] {self.binding_id}: {self.reason}"


@dataclass(frozen=True, slots=True)
class BindingInfo:
    """One binding as the help screen and the command palette show it."""

    keys: str  # as displayed, e.g. "j"
    description: str
    binding_id: str | None
    action: str
    namespace: DOMNode | None = None


def bindings_of(classes: Iterable[type[DOMNode]]) -> list[Binding]:
    """The ``Binding`` objects declared by these classes (and their bases)."""
    found: list[Binding] = []
    for cls in classes:
        for klass in cls.__mro__:
            declared: list[BindingType] = list(getattr(klass, "BINDINGS", []) or [])
            found.extend(item for item in declared if isinstance(item, Binding))
    return found


def binding_classes() -> tuple[type, ...]:
    """Every class but the app's whose bindings the keymap may remap (imports every screen)."""
    from ibtui.tui.screens.account import AccountScreen
    from ibtui.tui.screens.accounts import AccountsScreen, AccountTable
    from ibtui.tui.screens.alerts import AlertDialog, AlertsScreen
    from ibtui.tui.screens.chart import ChartScreen
    from ibtui.tui.screens.competing import CompetingSessionScreen
    from ibtui.tui.screens.help import HelpScreen
    from ibtui.tui.screens.lock import LockScreen
    from ibtui.tui.screens.login import LoginScreen
    from ibtui.tui.screens.modify import ModifyScreen
    from ibtui.tui.screens.orders import OrdersScreen
    from ibtui.tui.screens.positions import PositionsScreen
    from ibtui.tui.screens.question import QuestionScreen
    from ibtui.tui.screens.search import SearchScreen
    from ibtui.tui.screens.ticket import TicketScreen
    from ibtui.tui.screens.watchlist import WatchlistScreen
    from ibtui.tui.widgets.blotter import BlotterTable
    from ibtui.tui.widgets.positions_grid import PositionsGrid
    from ibtui.tui.widgets.positions_table import PositionsTable

    return (
        LoginScreen,
        AccountsScreen,
        AccountTable,
        PositionsTable,
        PositionsGrid,
        PositionsScreen,
        TicketScreen,
        OrdersScreen,
        BlotterTable,
        ModifyScreen,
        QuestionScreen,
        ChartScreen,
        SearchScreen,
        WatchlistScreen,
        AccountScreen,
        LockScreen,
        CompetingSessionScreen,
        HelpScreen,
        AlertsScreen,
        AlertDialog,
    )


def binding_ids(classes: Iterable[type[DOMNode]]) -> set[str]:
    """Every binding id the given classes declare."""
    return {b.id for b in bindings_of(classes) if b.id}


def _valid_keys(keys: str) -> bool:
    parts = [part.strip() for part in keys.split(",")]
    return bool(parts) and all(parts) and not any(" " in part for part in parts)


def apply_keymap(
    app: App[Any], keymap: Mapping[str, str], known_ids: set[str]
) -> list[KeymapProblem]:
    """Apply ``{binding_id: "key1,key2"}`` to ``app``; unknown ids and empty keys are reported.

    The valid entries replace any earlier keymap; the defaults of unmapped bindings stay.
    """
    problems: list[KeymapProblem] = []
    accepted: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        if binding_id not in known_ids:
            problems.append(KeymapProblem(binding_id, "no binding has this id"))
        elif not isinstance(keys, str) or not _valid_keys(keys):
            problems.append(KeymapProblem(binding_id, f"not a key list: {keys!r}"))
        else:
            accepted[binding_id] = ",".join(part.strip() for part in keys.split(","))
    app.set_keymap(accepted)
    return problems


def describe_active_bindings(screen: Screen[Any]) -> list[BindingInfo]:
    """The bindings in force on ``screen`` (keymap applied), one entry per action.

    Keys bound to the same binding id are shown together (``j, down``).
    """
    app = screen.app
    entries: dict[tuple[str, str], BindingInfo] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description:
            continue
        display = app.get_key_display(binding.with_key(key))
        group = (binding.id or binding.action, binding.description)
        if group in entries:
            previous = entries[group]
            if display not in previous.keys.split(", "):
                entries[group] = BindingInfo(
                    f"{previous.keys}, {display}",
                    previous.description,
                    previous.binding_id,
                    previous.action,
                    previous.namespace,
                )
        else:
            entries[group] = BindingInfo(
                display, binding.description, binding.id, binding.action, active.node
            )
    # ibtui's own (remappable) bindings first, then the ones Textual's widgets bring
    return sorted(entries.values(), key=lambda info: info.binding_id is None)
