"""The question before quitting while orders are still working (they stay working at IBKR)."""

from __future__ import annotations

from collections.abc import Sequence

from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.trading import OrderView, QuestionView
from ibtui.tui.viewmodels import AccountView
from ibtui.tui.widgets.blotter import describe_order

__all__ = ["QuitQuestion"]

SHOWN = 8  # working orders listed by name; the rest are counted


class QuitQuestion(QuestionScreen):
    """``Quit`` (True) or ``Stay`` (False), naming each account with orders working and them.

    ``working`` is each account's working orders as its order watch last listed them, the one
    shown included (IBKR lists only the selected account's orders). A LIVE account's are real:
    the question is then a danger one, and says LIVE in capitals.
    """

    def __init__(
        self, working: Sequence[tuple[AccountView, Sequence[OrderView]]], shown: str | None = None
    ) -> None:
        lines: list[str] = []
        listed = 0
        live = [account for account, _ in working if not account.paper]
        if live:
            names = ", ".join(account.label for account in live)
            lines += [f"REAL ORDERS are working on LIVE {names}.", ""]
        for account, orders in working:
            count = f"{len(orders)} order{'s' if len(orders) != 1 else ''}"
            where = "" if account.account_id == shown else " (as last listed)"
            lines.append(f"{account.mode} {account.label}: {count} working{where}")
            for order in orders:
                if listed < SHOWN:
                    lines.append(f"  {describe_order(order)}")
                listed += 1
        if listed > SHOWN:
            lines.append(f"  … and {listed - SHOWN} more")
        lines.append("They stay working at IBKR after ibtui quits. Quit anyway?")
        super().__init__(
            QuestionView("\n".join(lines)),
            title="LIVE orders are working" if live else "Orders are working",
            confirm_label="Quit",
            reject_label="Stay",
            danger=bool(live),
        )
