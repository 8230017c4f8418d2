"""A fake :class:`~ibtui.tui.protocols.Broker` for the console benchmarks (like the tests'
``ViewBroker``): ``size`` positions built here as view-models, and snapshots in which every price
moves on every polling round.

A round starts when the first held conid is asked for; in round ``r`` a conid's last price is its
base plus ``(r % 7 + 1)`` cents (never the same twice in a row), its change and change % move with
it. ``latency`` seconds are awaited in each ``quotes`` call, as a network round trip would (the
poller then yields between its batches of 100, as it does on a real connection). ``on_response``
is called with each batch and the ``perf_counter`` instant its answer is handed back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

from ibtui.trading import Check, OrderDraft
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, SessionState

__all__ = ["PAPER", "FakeBroker", "ShownTicketTrader", "make_positions"]

PAPER = AccountView(
    "DU4820311",
    alias="Benchmark paper",
    account_type="DEMO",
    base_currency="USD",
    paper=True,
    title="Jane Q Trader",
)
_CENT = Decimal("0.01")


def make_positions(size: int, account_id: str = PAPER.account_id) -> list[PositionView]:
    """``size`` US stock positions with distinct conids, quantities and costs."""
    views = []
    for i in range(size):
        base = Decimal(20 + (i * 37) % 480) + Decimal(i % 100) / 100
        quantity = Decimal((i * 13) % 900 + 1) * (-1 if i % 10 == 9 else 1)
        avg = (base * Decimal("0.97")).quantize(Decimal("0.0001"))
        views.append(
            PositionView(
                account_id=account_id,
                conid=1_000_000 + i,
                symbol=f"S{i:04d}",
                quantity=quantity,
                currency="USD",
                description=f"SYNTHETIC CORP {i:04d}",
                asset_class="STK",
                last=base,
                market_value=quantity * base,
                avg_cost=avg,
                unrealized_pnl=quantity * (base - avg),
                realized_pnl=Decimal(0),
            )
        )
    return views


class FakeBroker:
    """A Broker whose every quoted price changes each polling round (while ``moving``)."""

    def __init__(
        self,
        positions: list[PositionView],
        *,
        latency: float = 0.0,
        on_response: Callable[[Sequence[int], float], None] | None = None,
    ) -> None:
        self._positions = positions
        self._base = {p.conid: p.last or Decimal(100) for p in positions}
        self._first = positions[0].conid if positions else None
        self.latency = latency
        self.on_response = on_response
        self.moving = True
        self.round = 0
        self.quote_calls = 0
        self.cpu = 0.0  # process time spent building answers (the fake's own cost)
        self.gate = asyncio.Event()  # cleared: answers wait (no quotes reach the screens)
        self.gate.set()
        self._advanced = asyncio.Event()  # set when a round starts

    async def wait_round(self, target: int, limit: float) -> None:
        """Wait (without polling: the benchmark's own wake-ups are not the app's) until round
        ``target`` has started; TimeoutError after ``limit`` seconds."""
        async with asyncio.timeout(limit):
            while self.round < target:
                self._advanced.clear()
                await self._advanced.wait()

    def add_instruments(self, conids: Sequence[int]) -> None:
        """Quote these too (watchlist rows that are not held)."""
        for conid in conids:
            self._base.setdefault(conid, Decimal(50) + Decimal(conid % 100))

    async def accounts(self) -> Sequence[AccountView]:
        return [PAPER]

    async def select_account(self, account_id: str) -> None:
        return None

    async def positions(self, account_id: str) -> Sequence[PositionView]:
        return [p for p in self._positions if p.account_id == account_id]

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        if self.latency:
            await asyncio.sleep(self.latency)
        await self.gate.wait()
        cpu = time.process_time()
        self.quote_calls += 1
        if self.moving and self._first in conids:
            self.round += 1
            self._advanced.set()
        step = Decimal(self.round % 7 + 1) * _CENT
        answer = []
        received = time.time()  # stamped as built, as ibtui's client backend stamps them
        for conid in conids:
            base = self._base.get(conid)
            if base is None:
                continue
            last = base + step
            change_pct = (step / base * 100).quantize(_CENT)
            answer.append(QuoteView(conid, last, step, change_pct, updated_at=received))
        self.cpu += time.process_time() - cpu
        if self.on_response is not None:
            self.on_response(conids, time.perf_counter())
        return answer

    async def keep_alive(self, *, take_back: bool = False) -> SessionState:
        return SessionState.CONNECTED

    def lst_expires_at(self) -> float | None:
        return time.time() + 86_400


class ShownTicketTrader:
    """A trader for a ticket that is only shown (benchmark 4's ticket phase): it checks drafts
    as the console does and sends nothing."""

    def check(self, draft: OrderDraft, quote: QuoteView | None) -> Check:
        from ibtui.adapters.trader import market_quote
        from ibtui.trading.safety import check
        from ibtui.trading.settings import OrderSettings

        return check(draft, market_quote(quote), OrderSettings())

    def __getattr__(self, name: str) -> object:
        raise NotImplementedError(f"the benchmark's ticket does not {name}")
