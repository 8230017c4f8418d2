"""Accounts, positions and the average-cost P&L rule (Decimal arithmetic throughout).

The rule, per position (``q`` signed quantity, ``avg`` average cost per share, commissions ``c``):

* A fill that opens or adds to a position (same sign, or from flat) folds price and commission
  into the average: long ``avg' = (|q|·avg + n·p + c) / |q+n|``; short ``avg' = (|q|·avg + n·p − c)
  / |q+n|`` (for a short ``avg`` is the net sale price per share).
* A fill that reduces a position realizes ``closed · (p − avg) · sign(q)`` minus the commission
  share of the closed quantity; ``avg`` does not change. A fill that crosses zero closes the old
  position that way and opens the rest at ``p`` with the remaining commission share.
* Cash moves by ``−n·p − c`` for a buy and ``+n·p − c`` for a sell.

Consequence (checked by the tests): for each currency
``cash + Σ q·mark = starting cash + realized + Σ q·(mark − avg)``, i.e. net liquidation equals
starting cash plus realized plus unrealized P&L.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["Account", "Position", "apply_fill", "cents", "commission"]

ZERO = Decimal(0)
CENT = Decimal("0.01")


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def commission(currency: str, quantity: Decimal, price: Decimal) -> Decimal:
    """IBKR-fixed style: US $0.005/share (min $1, max 1% of value); elsewhere 0.05% (min 1.25,
    max 29) of value."""
    value = abs(quantity) * price
    if currency == "USD":
        fee = max(Decimal("0.005") * abs(quantity), Decimal(1))
        fee = min(fee, value * Decimal("0.01")) if value > 0 else fee
    else:
        fee = min(max(value * Decimal("0.0005"), Decimal("1.25")), Decimal(29))
    return cents(fee)


@dataclass
class Position:
    conid: int
    currency: str
    quantity: Decimal = ZERO
    avg_cost: Decimal = ZERO
    realized: Decimal = ZERO


@dataclass
class Account:
    account_id: str
    title: str
    base_currency: str
    paper: bool
    opened_ms: int
    starting_cash: dict[str, Decimal]
    cash: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    realized: dict[str, Decimal] = field(default_factory=dict)  # per currency, since start

    def __post_init__(self) -> None:
        if not self.cash:
            self.cash = dict(self.starting_cash)

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.quantity != 0]

    def currencies(self) -> list[str]:
        seen = {self.base_currency, *self.cash, *(p.currency for p in self.positions.values())}
        return sorted(seen, key=lambda c: (c != self.base_currency, c))


def apply_fill(
    account: Account,
    conid: int,
    currency: str,
    signed_qty: Decimal,
    price: Decimal,
    fee: Decimal,
) -> Decimal:
    """Book a fill; returns the realized P&L it produced."""
    if signed_qty == 0:
        raise ValueError("empty fill")
    pos = account.positions.get(conid)
    if pos is None:
        pos = account.positions[conid] = Position(conid, currency)
    n = abs(signed_qty)
    sign = 1 if signed_qty > 0 else -1
    q = pos.quantity
    realized = ZERO
    if q == 0 or (q > 0) == (sign > 0):
        basis = abs(q) * pos.avg_cost + n * price + (fee if sign > 0 else -fee)
        pos.quantity = q + signed_qty
        pos.avg_cost = basis / abs(pos.quantity)
    else:
        closed = min(n, abs(q))
        fee_closed = fee * closed / n
        direction = 1 if q > 0 else -1
        realized = closed * (price - pos.avg_cost) * direction - fee_closed
        rest = n - closed
        if rest == 0:
            pos.quantity = q + signed_qty
            if pos.quantity == 0:
                pos.avg_cost = ZERO
        else:
            fee_rest = fee - fee_closed
            pos.quantity = sign * rest
            pos.avg_cost = (rest * price + (fee_rest if sign > 0 else -fee_rest)) / rest
    pos.realized += realized
    account.realized[currency] = account.realized.get(currency, ZERO) + realized
    account.cash[currency] = account.cash.get(currency, ZERO) - signed_qty * price - fee
    return realized
