"""IbkrClient against the in-process simulator with real OAuth verification."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from ibtui.adapters.market import ClientMarketData, rank_search
from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.connect import Connection
from ibtui.ibkr.errors import OrderOutcomeUnknownError
from ibtui.ibkr.models import (
    Accepted,
    OrderRequest,
    OrderType,
    ReplyRequired,
    Side,
    make_coid,
)
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment
from ibtui.tui.market_views import SearchResultView

AAPL = 265598


async def test_start_up_accounts_positions_and_quotes(conn: Connection) -> None:
    status, _iserver = await conn.start()
    assert status.authenticated and status.connected
    accounts = await conn.client.accounts()
    paper = next(a for a in accounts if a.id == PAPER_ACCOUNT)
    assert paper.paper and paper.currency == "USD"
    assert any(not a.paper for a in accounts)
    positions = await conn.client.positions(PAPER_ACCOUNT)
    assert positions and all(p.account == PAPER_ACCOUNT for p in positions)
    conids = [p.conid for p in positions]
    warmup = await conn.client.snapshot(conids)
    assert all(q.is_warmup for q in warmup)
    quotes = await conn.client.snapshot(conids)
    assert {q.conid for q in quotes} == set(conids)
    assert all(q.last is not None and q.last > 0 for q in quotes)


async def test_history_and_search(conn: Connection) -> None:
    await conn.start()
    history = await conn.client.history(AAPL, "1d", "5min")
    assert history.bars and all(b.high >= b.low for b in history.bars)
    results = await conn.client.search("AAPL")
    assert results[0].conid == AAPL


async def test_search_finds_company_names_and_symbol_prefixes_ranked(conn: Connection) -> None:
    await conn.start()

    async def client() -> IbkrClient:
        return conn.client

    market = ClientMarketData(client)

    async def symbols(text: str) -> list[str]:
        return [view.symbol for view in await market.search(text)]

    assert (await symbols("microsoft"))[0] == "MSFT"  # by company name (IBKR's name=true)
    assert (await symbols("apple"))[0] == "AAPL"
    assert (await symbols("tesla"))[0] == "TSLA"
    assert (await symbols("goo"))[:2] == ["GOOG", "GOOGL"]  # symbols starting with it
    views = await market.search("aapl")
    assert len({v.conid for v in views}) == len(views)  # each listing once
    assert views[0].conid == AAPL


def test_search_ranks_symbol_then_prefix_then_name() -> None:
    def view(conid: int, symbol: str, name: str) -> SearchResultView:
        return SearchResultView(conid, symbol, name, ("STK",), "NASDAQ")

    answers = [
        view(1, "GOOPX", "SOME FUND"),
        view(2, "XYZ", "GOOD TIMES INC"),
        view(3, "GOO", "GOO CORP"),
        view(4, "ABC", "THE GOOSE CO"),
        view(3, "GOO", "GOO CORP"),  # in both answers
        view(5, "QQQ", "NOTHING LIKE IT"),
    ]
    assert [v.conid for v in rank_search("goo", answers)] == [3, 1, 2, 4, 5]


async def test_an_order_through_its_question_to_the_blotter_and_cancel(conn: Connection) -> None:
    await conn.start()
    (quote,) = await conn.client.snapshot([AAPL])
    (quote,) = await conn.client.snapshot([AAPL])
    assert quote.last is not None
    far_below = (quote.last * Decimal("0.90")).quantize(Decimal("0.01"))
    coid = make_coid()
    order = OrderRequest(AAPL, Side.BUY, Decimal(5), OrderType.LIMIT, coid, price=far_below)
    result = await conn.client.place_order(PAPER_ACCOUNT, order)
    for _ in range(5):
        if not isinstance(result, ReplyRequired):
            break
        assert result.messages
        result = await conn.client.reply(result.reply_id, confirmed=True)
    assert isinstance(result, Accepted)
    await conn.client.live_orders()
    live = await conn.client.live_orders()
    mine = [o for o in live.orders if o.order_ref == coid]
    assert len(mine) == 1 and mine[0].order_id == result.order_id
    cancelled = await conn.client.cancel_order(PAPER_ACCOUNT, result.order_id)
    assert "submitted" in str(cancelled).lower()


async def test_concurrent_requests_after_the_lst_expired_renew_once(
    demo: DemoEnvironment, conn: Connection
) -> None:
    await conn.start()
    assert conn.session.renewals == 1
    demo.sim.faults.expire_lsts()
    results = await asyncio.gather(*(conn.client.portfolio_accounts() for _ in range(20)))
    assert all(r for r in results)
    assert conn.session.renewals == 2


async def test_get_retries_a_500_but_an_order_post_is_never_resent(
    demo: DemoEnvironment, conn: Connection
) -> None:
    await conn.start()
    rule = demo.sim.faults.errors(500, path="/v1/api/portfolio/accounts", count=1)
    assert await conn.client.portfolio_accounts()
    assert rule.hits == 1

    await conn.client.snapshot([AAPL])
    (quote,) = await conn.client.snapshot([AAPL])
    assert quote.last is not None
    coid = make_coid()
    price = (quote.last * Decimal("0.99")).quantize(Decimal("0.01"))
    order = OrderRequest(AAPL, Side.BUY, Decimal(1), OrderType.LIMIT, coid, price=price)
    demo.sim.faults.drop_responses(count=1)
    with pytest.raises(OrderOutcomeUnknownError) as caught:
        await conn.client.place_order(PAPER_ACCOUNT, order)
    assert caught.value.coid == coid
    await conn.client.live_orders()
    live = await conn.client.live_orders()
    assert len([o for o in live.orders if o.order_ref == coid]) == 1  # placed once, not resent


async def test_chart_volumes_agree_with_the_snapshots_day_volume(conn: Connection) -> None:
    """The day's 1-minute bars add up to the snapshot's day volume (in shares, like the
    watchlist shows it), today's daily bar is that volume, a month's bar is many days of it."""
    await conn.start()

    async def client() -> IbkrClient:
        return conn.client

    market = ClientMarketData(client)
    await conn.client.snapshot([AAPL])
    (quote,) = await conn.client.snapshot([AAPL])
    assert quote.volume is not None and quote.volume > 0
    day = quote.volume
    minutes = await market.history(AAPL, "1d", "1min")
    total = sum(b.volume or 0 for b in minutes.bars)
    assert abs(total - day) / day < Decimal("0.15"), (total, day)
    daily = await market.history(AAPL, "3m", "1d")
    today = daily.bars[-1].volume
    assert today is not None and abs(today - day) / day < Decimal("0.01"), (today, day)
    monthly = await market.history(AAPL, "15y", "1m")
    assert max(b.volume or 0 for b in monthly.bars[:-1]) > 10 * day  # whole months of trading
