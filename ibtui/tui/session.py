"""What the console knows of the IBKR session, as the workers last reported it.

The app keeps one :class:`Session`; the workers feed it (the accounts' loader, the poller's
messages on their way to the positions screen, the order watch, the stream) and the app's
actions read it (which account is shown, whether a position is held, which orders are still
working), so that the app never reads a screen's widgets. The screens render from the
workers' messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ibtui.tui.viewmodels import AccountView, PositionView, SessionState

if TYPE_CHECKING:
    from ibtui.tui.balances import BalancesView, BalancesWatch
    from ibtui.tui.order_watch import OrderWatch
    from ibtui.tui.poller import Poller
    from ibtui.tui.streaming import StreamFeed
    from ibtui.tui.trading import OrderView

__all__ = ["Session"]


@dataclass
class Session:
    accounts: list[AccountView] = field(default_factory=list)
    account: AccountView | None = None  # the account shown
    state: SessionState = SessionState.CONNECTING  # as the poller last reported it
    positions: Sequence[PositionView] = ()  # the account's, as the poller last listed them
    poller: Poller | None = None  # the account's
    orders: OrderWatch | None = None  # the account's order watch (with a trader)
    balances: BalancesView | None = None  # the account's, as last read
    balances_changed: dict[str, int] = field(default_factory=dict)  # moved at that read
    balances_watch: BalancesWatch | None = None  # the account's (a broker that reads them)
    # Every account's working orders as its order watch last listed them this run: IBKR lists
    # only the selected account's, so an account left for another is known from its last list.
    working_seen: dict[str, list[OrderView]] = field(default_factory=dict)
    stream: StreamFeed | None = None  # the account's stream (when streaming is on)

    def held(self, conid: int) -> list[PositionView]:
        """The account's positions in ``conid`` (none or one; a row closed today holds nothing)."""
        return [view for view in self.positions if view.conid == conid and not view.closed]

    @property
    def working_orders(self) -> list[OrderView]:
        """The account's working orders as the order watch last saw them."""
        return [] if self.orders is None else self.orders.working

    def saw_orders(self, account_id: str, orders: Sequence[OrderView]) -> None:
        """``account_id``'s order watch listed ``orders``."""
        self.working_seen[account_id] = [order for order in orders if order.working]

    def working_by_account(self) -> list[tuple[AccountView, list[OrderView]]]:
        """The accounts with orders working, as last seen: LIVE ones first, then the one shown."""
        known = {account.account_id: account for account in self.accounts}
        shown = self.account.account_id if self.account else None
        found = [
            (known.get(account_id, AccountView(account_id, paper=False)), list(working))
            for account_id, working in self.working_seen.items()
            if working
        ]
        found.sort(key=lambda item: (item[0].paper, item[0].account_id != shown))
        return found
