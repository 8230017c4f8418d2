"""IBKR's summary, ledger and partitioned P&L (the documented example bodies) as the one
BalancesView the console shows."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from ibtui.adapters.balances import balances_view
from ibtui.ibkr.models import AccountSummary, parse_ledger, parse_pnl
from ibtui.tui.balances import BalancesView

EXAMPLES = Path(__file__).parent.parent / "data" / "examples"


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def examples_view(pnl: str) -> BalancesView:
    """The paper account's balances from the summary and ledger examples, with the partitioned
    P&L of the example ``pnl``."""
    return balances_view(
        "DU4820311",
        "USD",
        AccountSummary.from_json(load("portfolio_summary.json")),
        parse_ledger(load("portfolio_ledger.json")),
        parse_pnl(load(pnl)),
    )


def test_the_examples_as_the_account_screen_shows_them() -> None:
    view = examples_view("pnl_partitioned.json")
    assert view.currency == "USD"
    assert view.net_liquidation == Decimal("118276.94")
    assert view.total_cash == Decimal("93512.44")
    assert [(c.currency, c.cash, c.base_value) for c in view.cash] == [
        ("USD", Decimal("93512.44"), Decimal("93512.44"))
    ]  # the BASE roll-up is not a currency
    assert view.buying_power == Decimal("447691.36")
    assert view.available_funds == Decimal("111922.84")
    assert view.excess_liquidity == Decimal("112500.49")
    assert (view.init_margin, view.maint_margin) == (Decimal("6354.1"), Decimal("5776.45"))
    assert view.sma == Decimal("97210.3")
    assert view.gross_position_value == Decimal("24777.5")
    assert view.daily_pnl == Decimal("-215.4")  # the partitioned P&L's
    assert view.unrealized_pnl == Decimal("1205.81") and view.market_value == Decimal("24764.5")
    assert view.cushion is not None and round(view.cushion, 4) == Decimal("0.9512")


def test_an_empty_first_pnl_leaves_the_day_unknown_not_zero() -> None:
    view = examples_view("pnl_partitioned_first_call.json")
    assert view.daily_pnl is None
    assert view.net_liquidation == Decimal("118276.94")  # the summary's, still
    assert view.market_value is not None  # the ledger's roll-up stands in
