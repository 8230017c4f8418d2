"""One valuation of an account at one instant: the single source for positions, ledger, summary
and P&L, so that every endpoint reports the same numbers to the cent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ibtui.sim.market import Market
from ibtui.sim.portfolio import ZERO, Account, Position, cents
from ibtui.sim.universe import Instrument

__all__ = [
    "AccountValue",
    "CurrencyValue",
    "Fill",
    "PositionValue",
    "fills_today",
    "value_account",
    "value_position",
]

INIT_LONG, INIT_SHORT = Decimal("0.25"), Decimal("0.30")
MAINT_FACTOR = Decimal("0.9")


@dataclass(frozen=True)
class Fill:
    """What valuation needs to know about one execution."""

    account_id: str
    conid: int
    signed_qty: Decimal
    price: Decimal
    commission: Decimal
    time: float


@dataclass(frozen=True)
class PositionValue:
    position: Position
    instrument: Instrument
    mark: Decimal
    market_value: Decimal  # cents, instrument currency
    unrealized: Decimal  # cents
    rate: Decimal  # instrument currency → base
    # The day's P&L (instrument currency, exact): the quantity held against the prior close,
    # plus each of today's fills against the prior close, less its commission.
    daily: Decimal = ZERO

    @property
    def closed(self) -> bool:
        """Closed today: no quantity left, kept (as IBKR keeps it) for the day's figures."""
        return self.position.quantity == 0


@dataclass(frozen=True)
class CurrencyValue:
    currency: str  # or "BASE"
    cash: Decimal
    stock_value: Decimal
    unrealized: Decimal
    realized: Decimal
    rate: Decimal

    @property
    def net_liquidation(self) -> Decimal:
        return self.cash + self.stock_value


@dataclass(frozen=True)
class AccountValue:
    account: Account
    time: float
    positions: list[PositionValue]
    currencies: dict[str, CurrencyValue]
    base: CurrencyValue
    daily_pnl: Decimal
    long_value: Decimal  # base
    short_value: Decimal  # base, positive number

    @property
    def net_liquidation(self) -> Decimal:
        return self.base.net_liquidation

    @property
    def gross_position_value(self) -> Decimal:
        return self.long_value + self.short_value

    @property
    def init_margin(self) -> Decimal:
        return cents(self.long_value * INIT_LONG + self.short_value * INIT_SHORT)

    @property
    def maint_margin(self) -> Decimal:
        return cents(self.init_margin * MAINT_FACTOR)

    @property
    def available_funds(self) -> Decimal:
        return self.net_liquidation - self.init_margin

    @property
    def excess_liquidity(self) -> Decimal:
        return self.net_liquidation - self.maint_margin

    @property
    def buying_power(self) -> Decimal:
        return max(ZERO, self.available_funds * 4)


def fills_today(market: Market, inst: Instrument, t: float, fills: Iterable[Fill]) -> list[Fill]:
    """The fills of ``inst`` since its venue's latest session opened (the trading day)."""
    opened = market.venue(inst).last_opened(t).open
    return [f for f in fills if f.conid == inst.conid and f.time >= opened]


def value_position(
    pos: Position,
    inst: Instrument,
    market: Market,
    t: float,
    rate: Decimal,
    today: Iterable[Fill] = (),
) -> PositionValue:
    """One position valued at ``t``; ``today``: its fills of the trading day (see
    :func:`fills_today`), for the day's P&L."""
    mark = market.last(pos.conid, t)
    exact = pos.quantity * mark
    prior_close = market.prior_close(inst, t)
    daily = pos.quantity * (mark - prior_close)
    for f in today:
        daily += f.signed_qty * (prior_close - f.price) - f.commission
    return PositionValue(
        pos, inst, mark, cents(exact), cents(exact - pos.quantity * pos.avg_cost), rate, daily
    )


def value_account(
    account: Account,
    market: Market,
    t: float,
    fx_usd_per_unit: dict[str, Decimal],
    fills: Iterable[Fill] = (),
) -> AccountValue:
    def rate(ccy: str) -> Decimal:
        return fx_usd_per_unit[ccy] / fx_usd_per_unit[account.base_currency]

    positions: list[PositionValue] = []
    stock: dict[str, Decimal] = {}
    unreal: dict[str, Decimal] = {}
    daily = ZERO
    long_v = short_v = ZERO
    by_conid: dict[int, list[Fill]] = {}
    for f in fills:
        if f.account_id == account.account_id:
            by_conid.setdefault(f.conid, []).append(f)
    for pos in account.positions.values():
        inst = market.universe.get(pos.conid)
        if inst is None:
            continue
        today = fills_today(market, inst, t, by_conid.get(pos.conid, ()))
        if pos.quantity == 0 and not today:
            continue  # closed before today: IBKR drops it at the next trading day
        r = rate(pos.currency)
        pv = value_position(pos, inst, market, t, r, today)
        mv, upl = pv.market_value, pv.unrealized
        positions.append(pv)
        stock[pos.currency] = stock.get(pos.currency, ZERO) + mv
        unreal[pos.currency] = unreal.get(pos.currency, ZERO) + upl
        daily += pv.daily * r
        if mv >= 0:
            long_v += mv * r
        else:
            short_v -= mv * r

    currencies: dict[str, CurrencyValue] = {}
    for ccy in account.currencies():
        currencies[ccy] = CurrencyValue(
            currency=ccy,
            cash=cents(account.cash.get(ccy, ZERO)),
            stock_value=stock.get(ccy, ZERO),
            unrealized=unreal.get(ccy, ZERO),
            realized=cents(account.realized.get(ccy, ZERO)),
            rate=rate(ccy),
        )
    base = CurrencyValue(
        currency="BASE",
        cash=sum((cents(c.cash * c.rate) for c in currencies.values()), ZERO),
        stock_value=sum((cents(c.stock_value * c.rate) for c in currencies.values()), ZERO),
        unrealized=sum((cents(c.unrealized * c.rate) for c in currencies.values()), ZERO),
        realized=sum((cents(c.realized * c.rate) for c in currencies.values()), ZERO),
        rate=Decimal(1),
    )
    return AccountValue(
        account=account,
        time=t,
        positions=positions,
        currencies=currencies,
        base=base,
        daily_pnl=cents(daily),
        long_value=cents(long_v),
        short_value=cents(short_v),
    )
