"""The starting book: a paper ``DU`` account in USD and a live ``U`` account in EUR."""

from __future__ import annotations

import random
from decimal import Decimal

from ibtui.sim.portfolio import Account, Position
from ibtui.sim.universe import Universe

__all__ = ["LIVE_ACCOUNT", "PAPER_ACCOUNT", "starting_accounts"]

PAPER_ACCOUNT = "DU4820311"
LIVE_ACCOUNT = "U7654321"

# (symbol, quantity, average cost) — one short in each account.
_PAPER = (
    ("AAPL", "60", "207.4215"),
    ("SPY", "20", "561.27"),
    ("MSFT", "15", "395.104"),
    ("TSLA", "-12", "258.3975"),
    ("NVDA", "40", "118.7525"),
    ("JPM", "25", "198.604"),
    ("GLD", "10", "231.15"),
)
_LIVE = (
    ("SAP", "40", "178.2031"),
    ("ASML", "6", "655.40"),
    ("SIE", "25", "161.0512"),
    ("NVDA", "30", "104.2033"),
    ("SPY", "8", "512.1025"),
    ("INTC", "-100", "24.0945"),
)


def _book(
    account: Account,
    universe: Universe,
    rows: tuple[tuple[str, str, str], ...],
    size: int | None,
    seed: int,
) -> None:
    chosen = rows if size is None else rows[:size]
    for symbol, qty, avg in chosen:
        inst = universe.by_symbol(symbol)[0]
        account.positions[inst.conid] = Position(
            inst.conid, inst.currency, Decimal(qty), Decimal(avg)
        )
    if size is None or size <= len(chosen):
        return
    rng = random.Random(f"book-{seed}-{account.account_id}")  # noqa: S311 (simulation)
    for inst in universe.fillers(size - len(chosen)):
        n = Decimal(rng.randint(1, 500)) * (-1 if rng.random() < 0.1 else 1)
        cost = (inst.price * Decimal(str(round(rng.uniform(0.85, 1.15), 4)))).quantize(
            Decimal("0.0001")
        )
        account.positions[inst.conid] = Position(inst.conid, inst.currency, n, cost)


def starting_accounts(universe: Universe, seed: int, size: int | None) -> list[Account]:
    paper = Account(
        account_id=PAPER_ACCOUNT,
        title="Jane Q Trader",
        base_currency="USD",
        paper=True,
        opened_ms=1678852800000,
        starting_cash={"USD": Decimal("93512.44")},
    )
    live = Account(
        account_id=LIVE_ACCOUNT,
        title="Jane Q Trader",
        base_currency="EUR",
        paper=False,
        opened_ms=1612137600000,
        starting_cash={"EUR": Decimal("48250.00"), "USD": Decimal("12400.00")},
    )
    _book(paper, universe, _PAPER, size, seed)
    _book(live, universe, _LIVE, size, seed)
    return [paper, live]
