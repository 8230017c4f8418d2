"""The start screen's line while the accounts load, and the worker that loads them.

A failure is shown and retried on a visible countdown that doubles up to a minute (``r`` tries
at once, :meth:`ConnectingStatus.retry_now`); a problem retrying cannot cure (an exception with a
true ``needs_attention``: wrong keys, an unknown consumer) waits for ``r``. Once the accounts are
in, they are handed to ``loaded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual import work
from textual.widgets import Static

from ibtui.text import clean_text
from ibtui.tui.protocols import Broker
from ibtui.tui.viewmodels import AccountView

__all__ = ["ACCOUNTS_RETRY_MAX", "ACCOUNTS_RETRY_SECONDS", "ConnectingStatus"]

ACCOUNTS_RETRY_SECONDS = 5.0
ACCOUNTS_RETRY_MAX = 60.0


class ConnectingStatus(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Connecting to IBKR…", id=id, markup=False)  # shows server text
        self._retry_now = asyncio.Event()

    def retry_now(self) -> None:
        """Try again at once (the ``r`` key), not at the end of the countdown."""
        self._retry_now.set()

    @work(exclusive=True, group="accounts")
    async def load(self, broker: Broker, loaded: Callable[[list[AccountView]], None]) -> None:
        delay = ACCOUNTS_RETRY_SECONDS
        while True:
            self._retry_now.clear()
            try:
                accounts = list(await broker.accounts())
                break
            except Exception as exc:  # shown; retried until it works or the user quits
                problem = f"Could not connect to IBKR: {clean_text(str(exc))}"
                if getattr(exc, "needs_attention", False):  # retrying cannot cure it
                    self.update(f"{problem}\n\nFix that, then press r to try again.")
                    await self._retry_now.wait()
                    continue
                for left in range(max(1, round(delay)), 0, -1):  # a visible countdown
                    self.update(f"{problem}\n\nRetrying in {left} s (r: now).")
                    try:
                        await asyncio.wait_for(self._retry_now.wait(), 1.0)
                        break
                    except TimeoutError:
                        pass
                delay = min(delay * 2, ACCOUNTS_RETRY_MAX)
            self.update("Connecting to IBKR…")
        self.update("Connected.")
        loaded(accounts)
