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
    stream: StreamFeed | None = None  # the account's stream (when streaming is on)

    def held(self, conid: int) -> list[PositionView]:
        """The account's positions in ``conid`` (none or one; a row closed today holds nothing)."""
        return [view for view in self.positions if view.conid == conid and not view.closed]

    @property
    def working_orders(self) -> list[OrderView]:
        """The account's working orders as the order watch last saw them."""
        return [] if self.orders is None else self.orders.working
