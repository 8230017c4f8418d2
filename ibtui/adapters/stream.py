"""The console's :class:`~ibtui.tui.streaming.Stream` over the client's
:class:`~ibtui.ibkr.stream.MarketStream`: IBKR's quotes, orders and P&L, pushed, as view-models.

Each :meth:`ClientStream.run` opens a ``MarketStream`` on the connected client (so an account
opened again gets a socket of its own) and hands it what was wanted before it started. Quotes
become :class:`~ibtui.tui.viewmodels.QuoteView` by the snapshot's conversion, stamped with when
they arrived; orders become :class:`~ibtui.tui.trading.OrderView` through ``order_view`` (the
trader's: it marks an order sent from this console, and a fill makes it read the positions
afresh); ``spl`` P&L rows become :class:`~ibtui.tui.balances.PnlPush` (the balances' figures).
The stream module (and httpx-ws) is imported when the stream first runs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from ibtui.tui.balances import PnlPush
from ibtui.tui.convert import quote_view
from ibtui.tui.streaming import StreamSink, StreamView

if TYPE_CHECKING:
    import httpx

    from ibtui.ibkr.client import IbkrClient
    from ibtui.ibkr.models import LiveOrder, PnlRow, Quote
    from ibtui.ibkr.stream import MarketStream, StreamState
    from ibtui.tui.trading import OrderView

__all__ = ["ClientStream"]


class NotLoggedIn(Exception):
    """No access token yet: the stream waits for the login."""


class ClientStream:
    """:class:`~ibtui.tui.streaming.Stream` over ``MarketStream`` on the client ``client()``
    gives, with the access token ``access_token()`` gives (IBKR's socket names it). The socket
    rides on the client's HTTP client, or on one ``stream_http()`` opens for each connection
    (the in-process simulator's)."""

    def __init__(
        self,
        client: Callable[[], Awaitable[IbkrClient]],
        access_token: Callable[[], str | None],
        *,
        line_allowance: int = 100,
        order_view: Callable[[LiveOrder], OrderView] | None = None,
        clock: Callable[[], float] = time.time,
        stream_http: Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]] | None = None,
    ) -> None:
        self._client = client
        self._stream_http = stream_http  # the in-process simulator's WebSocket (the demo)
        self._access_token = access_token
        self.line_allowance = line_allowance
        self._order_view = order_view
        self._clock = clock
        self._quotes: tuple[int, ...] = ()
        self._orders = False
        self._pnl = False
        self.market_stream: MarketStream | None = None  # while :meth:`run` runs

    async def run(self, sink: StreamSink) -> None:
        from ibtui.ibkr.stream import MarketStream, connect_httpx_ws

        client = await self._client()
        token = self._access_token()
        if token is None:
            raise NotLoggedIn("not logged in")
        stream = MarketStream(
            client,
            _Events(sink, self),
            access_token=token,
            line_allowance=self.line_allowance,
            connect=None if self._stream_http is None else connect_httpx_ws(self._stream_http),
        )
        stream.want_quotes(self._quotes)
        stream.want_orders(self._orders and self._order_view is not None)
        stream.want_pnl(self._pnl)
        self.market_stream = stream
        try:
            await stream.run()
        finally:
            if self.market_stream is stream:
                self.market_stream = None

    def want_quotes(self, conids: Sequence[int]) -> None:
        self._quotes = tuple(conids)
        if self.market_stream is not None:
            self.market_stream.want_quotes(self._quotes)

    def want_orders(self, on: bool) -> None:
        self._orders = on
        if self.market_stream is not None:
            self.market_stream.want_orders(on and self._order_view is not None)

    def want_pnl(self, on: bool) -> None:
        self._pnl = on
        if self.market_stream is not None:
            self.market_stream.want_pnl(on)

    def streamed(self) -> frozenset[int]:
        stream = self.market_stream
        return frozenset() if stream is None else stream.streamed()


class _Events:
    """The ``MarketStream``'s events as view-models for the console's sink."""

    def __init__(self, sink: StreamSink, owner: ClientStream) -> None:
        self.sink = sink
        self.owner = owner

    def quotes(self, quotes: Sequence[Quote]) -> None:
        received = self.owner._clock()
        self.sink.quotes([quote_view(q, received) for q in quotes if not q.is_warmup])

    def orders(self, orders: Sequence[LiveOrder]) -> None:
        view = self.owner._order_view
        if view is not None:
            self.sink.orders([view(order) for order in orders])

    def pnl(self, rows: Mapping[str, PnlRow]) -> None:
        self.sink.pnl(
            [
                PnlPush(
                    account_id=row.account_id,
                    daily_pnl=row.daily_pnl,
                    unrealized_pnl=row.unrealized_pnl,
                    net_liquidation=row.net_liquidation,
                    excess_liquidity=row.excess_liquidity,
                    market_value=row.market_value,
                )
                for row in rows.values()
            ]
        )

    def state(self, state: StreamState) -> None:
        self.sink.state(StreamView(state.status, self.owner._clock(), state.reason))
