"""Fills move positions, cash, average cost and P&L consistently across every endpoint.

The expected numbers are recomputed here from the executions reported by /iserver/account/trades,
with the average-cost rule documented in ibtui/sim/portfolio.py: buys into a long (sells into a
short) fold price and commission into the average; reducing trades realize
``closed·(price − avg)·sign − commission share``; crossing zero closes, then opens the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from ibtui.sim import ManualClock, Simulator

from .conftest import brokerage, snapshot_twice

ACCT = "DU4820311"
LIVE = "U7654321"
AAPL, TSLA, IBM, SPY, SAP, NVDA = 265598, 76792991, 8314, 756733, 40565311, 4815747
CENT = Decimal("0.01")


def c2(x: Decimal | float | str) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Book:
    qty: Decimal
    avg: Decimal
    realized: Decimal = Decimal(0)

    def fill(self, signed: Decimal, price: Decimal, fee: Decimal) -> None:
        n = abs(signed)
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            basis = abs(self.qty) * self.avg + n * price + (fee if signed > 0 else -fee)
            self.qty += signed
            self.avg = basis / abs(self.qty)
            return
        closed = min(n, abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized += closed * (price - self.avg) * direction - fee * closed / n
        rest = n - closed
        if rest:
            fee_rest = fee * rest / n
            self.qty = rest if signed > 0 else -rest
            self.avg = (rest * price + (fee_rest if signed > 0 else -fee_rest)) / rest
        else:
            self.qty += signed


async def mkt(client: httpx.AsyncClient, acct: str, conid: int, side: str, qty: int) -> None:
    order = {"conid": conid, "orderType": "MKT", "side": side, "quantity": qty, "tif": "DAY"}
    r = (await client.post(f"/iserver/account/{acct}/orders", json={"orders": [order]})).json()
    assert r[0]["order_status"] == "Filled", r


async def positions(client: httpx.AsyncClient, acct: str) -> dict[int, dict[str, Any]]:
    await client.post(f"/portfolio/{acct}/positions/invalidate")
    rows: list[dict[str, Any]] = []
    page = 0
    while True:
        batch = (await client.get(f"/portfolio/{acct}/positions/{page}")).json()
        rows += batch
        if len(batch) < 100:
            return {r["conid"]: r for r in rows}
        page += 1


async def test_scripted_trading_day_agrees_to_the_cent(
    client: httpx.AsyncClient, sim: Simulator, clock: ManualClock
) -> None:
    await brokerage(client)
    await snapshot_twice(client, [AAPL, TSLA, IBM])
    await client.post("/iserver/questions/suppress", json={"messageIds": ["o451"]})
    start = await positions(client, ACCT)
    ledger0 = (await client.get(f"/portfolio/{ACCT}/ledger")).json()["USD"]
    books = {
        c: Book(Decimal(str(r["position"])), Decimal(str(r["avgCost"]))) for c, r in start.items()
    }
    assert books[TSLA].qty < 0  # the starting book has a short

    await mkt(client, ACCT, AAPL, "BUY", 40)  # add to a long
    clock.advance(600)
    await mkt(client, ACCT, AAPL, "SELL", 70)  # partial close: 100 → 30
    await mkt(client, ACCT, IBM, "SELL", 25)  # open a short
    clock.advance(900)
    await mkt(client, ACCT, IBM, "BUY", 10)  # partial cover
    await mkt(client, ACCT, TSLA, "BUY", 20)  # cover the short and flip long
    clock.advance(1800)

    trades = (await client.get("/iserver/account/trades")).json()
    assert len(trades) == 5
    cash = Decimal(str(ledger0["cashbalance"]))
    for t in trades:
        signed = Decimal(str(t["size"])) * (1 if t["side"] == "B" else -1)
        price, fee = Decimal(t["price"]), Decimal(t["commission"])
        assert fee == max(Decimal(1), c2(Decimal("0.005") * abs(signed)))
        books.setdefault(t["conid"], Book(Decimal(0), Decimal(0))).fill(signed, price, fee)
        cash += -signed * price - fee

    pos = await positions(client, ACCT)
    assert (
        pos[AAPL]["position"] == 30.0
        and pos[IBM]["position"] == -15.0
        and pos[TSLA]["position"] == 8.0
    )
    for conid, book in books.items():
        if book.qty == 0:
            assert conid not in pos
            continue
        row = pos[conid]
        assert Decimal(str(row["position"])) == book.qty
        assert abs(Decimal(str(row["avgCost"])) - book.avg) < Decimal("0.000001")
        mark = Decimal(str(row["mktPrice"]))
        assert c2(row["mktValue"]) == c2(book.qty * mark)
        assert c2(row["unrealizedPnl"]) == c2(book.qty * mark - book.qty * book.avg)
        assert c2(row["realizedPnl"]) == c2(book.realized)
        assert mark == sim.market.last(conid, clock.now())
    realized = sum((b.realized for b in books.values()), Decimal(0))
    assert realized != 0

    ledger = (await client.get(f"/portfolio/{ACCT}/ledger")).json()
    usd = ledger["USD"]
    stock_value = sum((c2(r["mktValue"]) for r in pos.values()), Decimal(0))
    unrealized = sum((c2(r["unrealizedPnl"]) for r in pos.values()), Decimal(0))
    assert c2(usd["cashbalance"]) == c2(cash)
    assert c2(usd["stockmarketvalue"]) == stock_value
    assert c2(usd["netliquidationvalue"]) == c2(cash) + stock_value  # cash + value = net liq
    assert c2(usd["unrealizedpnl"]) == unrealized
    assert c2(usd["realizedpnl"]) == c2(realized)
    assert ledger["BASE"]["netliquidationvalue"] == usd["netliquidationvalue"]

    # Net liquidation = starting cash + Σ(q·avg) at start + realized + unrealized (to rounding).
    basis0 = sum(
        (Decimal(str(r["position"])) * Decimal(str(r["avgCost"])) for r in start.values()),
        Decimal(0),
    )
    rebuilt = Decimal(str(ledger0["cashbalance"])) + basis0 + realized + unrealized
    assert abs(rebuilt - c2(usd["netliquidationvalue"])) <= Decimal("0.01") * len(pos)

    summary = (await client.get(f"/portfolio/{ACCT}/summary")).json()
    assert summary["netliquidation"]["amount"] == usd["netliquidationvalue"]
    assert summary["totalcashvalue"]["amount"] == usd["cashbalance"]
    gross = sum((abs(c2(r["mktValue"])) for r in pos.values()), Decimal(0))
    assert c2(summary["grosspositionvalue"]["amount"]) == gross

    await client.get("/iserver/account/pnl/partitioned")
    pnl = (await client.get("/iserver/account/pnl/partitioned")).json()["upnl"][f"{ACCT}.Core"]
    assert pnl["nl"] == usd["netliquidationvalue"]
    assert c2(pnl["upl"]) == unrealized and c2(pnl["mv"]) == stock_value
    assert pnl["el"] == summary["excessliquidity"]["amount"]
    # Daily P&L: today's move on what is held now, corrected by today's trades.
    snap = {r["conid"]: r for r in await snapshot_twice(client, list(pos), "31,7741")}
    dpl = sum(
        (
            Decimal(str(r["position"])) * (Decimal(snap[c]["31"]) - Decimal(snap[c]["7741"]))
            for c, r in pos.items()
        ),
        Decimal(0),
    )
    for t in trades:
        signed = Decimal(str(t["size"])) * (1 if t["side"] == "B" else -1)
        dpl += signed * (Decimal(snap[t["conid"]]["7741"]) - Decimal(t["price"])) - Decimal(
            t["commission"]
        )
    assert c2(pnl["dpl"]) == c2(dpl)


async def test_foreign_currency_account_converts_to_base(client: httpx.AsyncClient) -> None:
    await brokerage(client)
    await snapshot_twice(client, [SAP, NVDA])
    await client.post("/iserver/account", json={"acctId": LIVE})
    await mkt(client, LIVE, SAP, "BUY", 10)
    await mkt(client, LIVE, NVDA, "SELL", 5)
    ledger = (await client.get(f"/portfolio/{LIVE}/ledger")).json()
    eur, usd, base = ledger["EUR"], ledger["USD"], ledger["BASE"]
    assert eur["exchangerate"] == 1 and usd["exchangerate"] != 1
    rate = Decimal(str(usd["exchangerate"]))
    assert c2(base["cashbalance"]) == c2(eur["cashbalance"]) + c2(
        Decimal(str(usd["cashbalance"])) * rate
    )
    assert c2(base["netliquidationvalue"]) == c2(base["cashbalance"]) + c2(base["stockmarketvalue"])
    for entry in (eur, usd):
        assert c2(entry["netliquidationvalue"]) == c2(entry["cashbalance"]) + c2(
            entry["stockmarketvalue"]
        )
    summary = (await client.get(f"/portfolio/{LIVE}/summary")).json()
    assert summary["netliquidation"]["currency"] == "EUR"
    assert summary["netliquidation"]["amount"] == base["netliquidationvalue"]
    pos = await positions(client, LIVE)
    nvda = pos[NVDA]
    assert nvda["currency"] == "USD" and c2(nvda["baseMktValue"]) == c2(
        Decimal(str(nvda["mktValue"])) * rate
    )
    assert "baseMktValue" not in pos[SAP]
    sap_trade = next(
        t for t in (await client.get("/iserver/account/trades")).json() if t["conid"] == SAP
    )
    assert sap_trade["exchange"] == "IBIS" and Decimal(sap_trade["commission"]) >= Decimal("1.25")
