"""The status bar: which account (PAPER or LIVE), token life, session, quote age, last error.

It tells the truth from a :class:`~ibtui.tui.viewmodels.StatusView` and the app's clock: ages are
recomputed every second, quotes older than three poll intervals (three rounds, when IBKR's pace
makes a round longer: :attr:`~ibtui.tui.viewmodels.StatusView.stale_after`) are marked STALE, and
the LIVE badge is drawn in the warning colour so it is never mistaken for paper. While IBKR's
pacing keeps the poller from asking every quote every round, the line ends with how fresh it keeps
them (``every 2 s for 40 rows in view, all 5,000 every 14 s``; where that does not fit, ``in view
every 2 s, all 5,000 every 14 s``, ``all 5,000 every 14 s`` or ``all in 14 s``). With a stream
it says which feed brings the prices (``quotes stream 0s`` while the stream is live and covers
some of them, quiet or not; ``quotes poll 1s`` otherwise, with ``(stream down)`` when the stream
is not up); a live stream's quotes are current however old, so the line is not marked STALE then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ibtui.tui.format import fmt_age, fmt_duration
from ibtui.tui.viewmodels import SessionState, StatusView

__all__ = ["StatusBar"]

_LST_WARN_SECONDS = 600.0
_SEP = " │ "
_WIDE = 100  # narrower: the account id without alias, no "session" label


class StatusBar(Widget):
    """One line; give it a new ``status`` whenever anything changes."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $foreground;
        & > .status-bar--paper { background: $primary; color: $text; text-style: bold; }
        & > .status-bar--live { background: $error; color: $text; text-style: bold; }
        & > .status-bar--ok { color: $text-success; }
        & > .status-bar--warn { color: $text-warning; text-style: bold; }
        & > .status-bar--bad { color: $text-error; text-style: bold; }
        & > .status-bar--dim { color: $text-muted; }
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--paper",
        "status-bar--live",
        "status-bar--ok",
        "status-bar--warn",
        "status-bar--bad",
        "status-bar--dim",
    }

    # Repainted only when what it shows changes (see ``_repaint_if_changed``): a new quote
    # every second that leaves "quotes 0s" as it was costs no frame and no bytes.
    status: reactive[StatusView] = reactive(StatusView, layout=False, repaint=False)

    def __init__(
        self,
        status: StatusView | None = None,
        *,
        clock: Callable[[], float] = time.time,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.clock = clock
        self._shown: Text | None = None  # the line last rendered
        if status is not None:
            self.set_reactive(StatusBar.status, status)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._repaint_if_changed)

    def watch_status(self, old: StatusView, new: StatusView) -> None:
        if (
            self._shown is not None
            and replace(old, newest_quote_at=new.newest_quote_at) == new
            and self._quote_age(old) == self._quote_age(new)
        ):
            return  # a newer quote (a batch of them comes several times a second): no change
        self._repaint_if_changed()

    def _quote_age(self, status: StatusView) -> tuple[str | None, str, bool] | None:
        """What the line says of the newest quote: the feed, its age and whether it is stale."""
        if status.newest_quote_at is None:
            return None
        now = self.clock()
        age = now - status.newest_quote_at
        return status.feed, fmt_age(age), self._stale(status, age)

    def _repaint_if_changed(self) -> None:
        if self._line() != self._shown:
            self.refresh()

    @property
    def quotes_stale(self) -> bool:
        """True when the newest quote is older than ``stale_after``, with no live stream
        covering any quote (a quiet stream pushes nothing: its prices are current)."""
        status = self.status
        if status.newest_quote_at is None:
            return False
        return self._stale(status, self.clock() - status.newest_quote_at)

    @staticmethod
    def _stale(status: StatusView, age: float) -> bool:
        return age > status.stale_after and status.feed != "stream"

    def render(self) -> Text:
        self._shown = self._line()
        return self._shown

    def _line(self) -> Text:
        status = self.status
        now = self.clock()
        style = self.get_component_rich_style
        line = Text(no_wrap=True, overflow="ellipsis")
        wide = self.size.width >= _WIDE
        account = status.account
        if account is None:
            line.append(" no account ", style=style("status-bar--dim"))
        else:
            badge = "status-bar--paper" if account.paper else "status-bar--live"
            line.append(f" {account.mode} ", style=style(badge))
            line.append(f" {account.label if wide else account.account_id}")
            if account.base_currency:
                line.append(f" {account.base_currency}", style=style("status-bar--dim"))
        line.append(_SEP)

        left = None if status.lst_expires_at is None else status.lst_expires_at - now
        lst_style = "status-bar--dim"
        if left is not None:
            lst_style = (
                "status-bar--bad"
                if left <= 0
                else ("status-bar--warn" if left < _LST_WARN_SECONDS else "status-bar--ok")
            )
        line.append("LST ")
        line.append(fmt_duration(left), style=style(lst_style))
        line.append(_SEP)

        session = status.session
        session_style = (
            "status-bar--ok"
            if session.healthy
            else "status-bar--warn"
            if session in (SessionState.CONNECTING, SessionState.RECONNECTING)
            else "status-bar--bad"
        )
        if wide:
            line.append("session ")
        shown = f"{session.value}…" if session is SessionState.RECONNECTING else session.value
        line.append(shown, style=style(session_style))
        line.append(_SEP)

        line.append("quotes ")
        feed = status.feed
        if feed is not None:
            if feed == "stream":
                line.append("stream", style=style("status-bar--ok"))
                line.append(" ")
            else:
                line.append("poll ")
        if status.newest_quote_at is None:
            line.append("none yet", style=style("status-bar--dim"))
        else:
            line.append(fmt_age(now - status.newest_quote_at))
            if self.quotes_stale:
                line.append(" STALE", style=style("status-bar--warn"))
        if status.stream is not None and status.stream != "live":
            line.append(f" (stream {status.stream})", style=style("status-bar--warn"))
        if status.error:
            line.append(_SEP)
            again = ""
            if status.retry_at is not None:
                left = status.retry_at - now
                again = f" (retrying in {fmt_duration(left)})" if left > 0 else " (retrying…)"
            error = status.error
            room = self.size.width - line.cell_len - cell_len(again)
            if again and 1 < room < cell_len(error):  # the error is cut, never the countdown
                error = set_cell_size(error, room - 1) + "…"
            line.append(error + again, style=style("status-bar--bad"))
        if status.quote_plan is not None:
            line.append(_SEP)
            # after "quotes 2s": the plan alone ("every 2 s for 40 rows in view, all 5,000 …"),
            # shorter where it does not fit: the bound of the whole book is never cut off
            plan = status.quote_plan
            room = self.size.width - line.cell_len
            forms = (plan.describe(), *plan.shorter())
            said = next((form for form in forms if cell_len(form) <= room), forms[-1])
            line.append(said, style=style("status-bar--dim"))
        return line
