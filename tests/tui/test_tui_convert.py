"""IBKR's example bodies (parsed by the client's models) as the console shows them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from ibtui.ibkr.models import parse_ledger, parse_portfolio_accounts, parse_snapshot
from ibtui.ibkr.models.position import parse_positions
from ibtui.tui.convert import account_view, fx_rates, position_view, quote_view
from ibtui.tui.viewmodels import QuoteView
from ibtui.tui.widgets.columns import render_row

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def load(name: str) -> object:
    return json.loads((EXAMPLES / name).read_text())


def test_accounts() -> None:
    views = [account_view(a) for a in parse_portfolio_accounts(load("portfolio_accounts.json"))]
    first = views[0]
    assert first.account_id == "DU4820311"
    assert first.paper and first.mode == "PAPER"
    assert first.base_currency == "USD"
    assert first.account_type == "DEMO"


def test_positions_rows_read_like_ibkr() -> None:
    rates = fx_rates(parse_ledger(load("portfolio_ledger.json")))
    rows = [
        position_view(p, "USD", rates)
        for p in parse_positions(load("portfolio_positions_page0.json"))
    ]
    aapl = next(r for r in rows if r.symbol == "AAPL")
    assert aapl.description == "APPLE INC"
    assert aapl.multiplier == 1 and aapl.fx_rate == 1
    assert aapl.price_at is None  # not a live price
    cells = render_row(aapl, stale=False, styles=None)
    assert cells["last"].text == "222.91"
    assert cells["market_value"].text == "13,374.60"
    assert cells["avg_cost"].text == "207.42"
    assert cells["unrealized_pnl"].text == "+929.31"
    option = next(r for r in rows if r.asset_class == "OPT")
    assert option.multiplier == 100
    assert option.avg_cost is not None and option.avg_cost < 1000  # per-unit price, not avgCost
    # repricing the option by a quote uses the multiplier
    assert option.last is not None and option.cost_basis is not None
    moved = option.with_quote(
        QuoteView(option.conid, option.last + Decimal("0.10"), updated_at=1.0)
    )
    assert moved.market_value == option.quantity * (option.last + Decimal("0.10")) * 100


def test_snapshot_rows_and_warmup() -> None:
    quotes = [quote_view(q) for q in parse_snapshot(load("snapshot.json"))]
    aapl = next(q for q in quotes if q.conid == 265598)
    assert (aapl.last, aapl.change, aapl.change_pct) == (
        Decimal("222.91"),
        Decimal("-0.54"),
        Decimal("-0.24"),
    )
    warm = [quote_view(q) for q in parse_snapshot(load("snapshot_preflight.json"))]
    assert warm and all(q.last is None for q in warm)
    closed = [quote_view(q) for q in parse_snapshot(load("snapshot_closed_market.json"))]
    assert any(q.is_close for q in closed)
    assert aapl.updated_at is None  # stamped by the poller
    stamped = [quote_view(q, 1_700_000_000.5) for q in parse_snapshot(load("snapshot.json"))]
    assert {q.updated_at for q in stamped} == {1_700_000_000.5}  # received then
