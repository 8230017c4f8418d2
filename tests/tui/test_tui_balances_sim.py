"""The balances against the positions on the simulator, end to end through the client and the
adapters: after a fill, the positions' totals (as the grid sums them) add up to the account
summary, the ledger and the partitioned P&L (to the cent per position)."""

from __future__ import annotations

import time
from decimal import Decimal

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr.models import OrderRequest, OrderType, Side
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.clock import ManualClock
from ibtui.sim.demo import trading_offset
from ibtui.tui.balances import BalancesView
from ibtui.tui.viewmodels import Tally, Totals
from tests.simulated import signed_in, trading_demo

AAPL = 265598
CENT = Decimal("0.01")


async def _read(backend: ClientBackend) -> tuple[Totals, BalancesView]:
    """The positions repriced by a snapshot (as the grid shows them), summed as the totals
    line sums them; and the balances at the same instant."""
    rows = await backend.positions(PAPER_ACCOUNT)
    quotes = {q.conid: q for q in await backend.quotes([r.conid for r in rows])}
    shown = {r.key: r.with_quote(quotes[r.conid]) if r.conid in quotes else r for r in rows}
    return Tally("USD", shown).totals(), await backend.balances(PAPER_ACCOUNT)


def _agree(totals: Totals, balances: BalancesView, rows: int) -> None:
    slack = CENT * rows  # each position's figures are rounded to the cent on their own
    assert balances.market_value is not None and balances.net_liquidation is not None
    assert balances.total_cash is not None and balances.daily_pnl is not None
    assert abs(totals.market_value - balances.market_value) <= slack
    assert abs(totals.unrealized_pnl - (balances.unrealized_pnl or 0)) <= slack
    assert abs(totals.daily_pnl - balances.daily_pnl) <= slack
    assert abs(totals.realized_pnl - (balances.realized_pnl or 0)) <= slack
    assert balances.net_liquidation == balances.total_cash + balances.market_value


async def test_the_positions_totals_and_the_account_summary_agree_after_a_fill() -> None:
    start = time.time() + trading_offset(time.time())
    clock = ManualClock(start)  # the market stands still between the reads
    demo = trading_demo(11, clock)
    backend, _secret = signed_in(demo)
    try:
        await backend.accounts()
        await backend.balances(PAPER_ACCOUNT)  # IBKR's first partitioned P&L is empty
        held = [r.conid for r in await backend.positions(PAPER_ACCOUNT)]
        await backend.quotes([*held, AAPL])  # and its first snapshot of a conid
        before_totals, before = await _read(backend)
        rows = len(await backend.positions(PAPER_ACCOUNT))
        _agree(before_totals, before, rows)

        client = await backend.client()
        order = OrderRequest(AAPL, Side.BUY, Decimal(50), OrderType.MARKET, "acct-buy-1")
        result = await client.place_order(PAPER_ACCOUNT, order)
        while getattr(result, "reply_id", None):
            result = await client.reply(result.reply_id, confirmed=True)  # type: ignore[attr-defined]
        clock.advance(1.0)
        await client.positions(PAPER_ACCOUNT, invalidate=True)

        totals, after = await _read(backend)
        _agree(totals, after, rows + 1)
        # buying lowered the cash by about the cost and raised the gross position value
        assert after.total_cash is not None and before.total_cash is not None
        assert after.gross_position_value is not None and before.gross_position_value is not None
        spent = before.total_cash - after.total_cash
        price = next(r for r in await backend.positions(PAPER_ACCOUNT) if r.conid == AAPL).last
        assert price is not None and abs(spent - 50 * price) < price  # the price, commission
        assert after.gross_position_value > before.gross_position_value
        assert totals.count == before_totals.count or totals.count == before_totals.count + 1
    finally:
        await backend.aclose()
