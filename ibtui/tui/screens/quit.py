"""The question before quitting while orders are still working (they stay working at IBKR)."""

from __future__ import annotations

from collections.abc import Sequence

from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.trading import OrderView, QuestionView
from ibtui.tui.widgets.blotter import describe_order

__all__ = ["QuitQuestion"]

SHOWN = 8  # working orders listed by name; the rest are counted


class QuitQuestion(QuestionScreen):
    """``Quit`` (True) or ``Stay`` (False), naming the working orders on ``account``."""

    def __init__(self, working: Sequence[OrderView], account: str) -> None:
        lines = [f"{len(working)} order(s) are still working on {account}:"]
        lines += [f"  {describe_order(o)}" for o in working[:SHOWN]]
        if len(working) > SHOWN:
            lines.append(f"  … and {len(working) - SHOWN} more")
        lines.append("They stay working at IBKR after ibtui quits. Quit anyway?")
        super().__init__(
            QuestionView("\n".join(lines)),
            title="Orders are working",
            confirm_label="Quit",
            reject_label="Stay",
        )
