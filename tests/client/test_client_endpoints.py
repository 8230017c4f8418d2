"""Every typed endpoint of IbkrClient against the in-process simulator, values cross-checked."""

from __future__ import annotations

from decimal import Decimal

from ibtui.ibkr.connect import Connection
from ibtui.ibkr.models import (
    Accepted,
    OrderRequest,
    OrderState,
    OrderType,
    PlaceResult,
    ReplyRequired,
    Side,
    make_coid,
)
from ibtui.sim import LIVE_ACCOUNT, PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment

AAPL = 265598


async def _last(conn: Connection, conid: int) -> Decimal:
    await conn.client.snapshot([conid])  # the first snapshot only opens the stream
    (quote,) = await conn.client.snapshot([conid])
    assert quote.last is not None
    return quote.last


async def _confirm_all(conn: Connection, result: PlaceResult) -> tuple[Accepted, list[str]]:
    asked: list[str] = []
    for _ in range(6):
        if not isinstance(result, ReplyRequired):
            break
        asked.extend(result.message_ids)
        result = await conn.client.reply(result.reply_id, confirmed=True)
    assert isinstance(result, Accepted), result
    return result, asked


def _limit(price: Decimal, qty: int = 3, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        AAPL,
        side,
        Decimal(qty),
        OrderType.LIMIT,
        make_coid(),
        price=price.quantize(Decimal("0.01")),
    )


async def test_summary_ledger_and_pnl_agree_with_the_positions(conn: Connection) -> None:
    await conn.start()
    positions = await conn.client.positions(PAPER_ACCOUNT)
    summary = await conn.client.summary(PAPER_ACCOUNT)
    ledger = await conn.client.ledger(PAPER_ACCOUNT)
    assert await conn.client.pnl() == {}  # IBKR's first answer only subscribes
    pnl = await conn.client.pnl()

    assert summary.currency == "USD" and summary.net_liquidation is not None
    base = ledger["BASE"]
    assert base.net_liquidation == summary.net_liquidation
    market_value = sum((p.market_value or Decimal(0)) for p in positions)
    assert base.stock_market_value is not None
    assert abs(base.stock_market_value - market_value) <= market_value * Decimal("0.01")
    row = next(r for r in pnl.values() if r.account_id == PAPER_ACCOUNT)
    assert row.net_liquidation is not None
    assert abs(row.net_liquidation - summary.net_liquidation) <= summary.net_liquidation / 100


async def test_switch_account_and_the_live_accounts_own_currency(conn: Connection) -> None:
    await conn.start()
    switched = await conn.client.switch_account(LIVE_ACCOUNT)
    assert switched.account_id == LIVE_ACCOUNT
    assert (await conn.client.summary(LIVE_ACCOUNT)).currency == "EUR"


async def test_contract_info(conn: Connection) -> None:
    await conn.start()
    info = await conn.client.contract_info(AAPL)
    assert info.conid == AAPL and info.symbol == "AAPL"
    assert info.currency == "USD" and info.sec_type == "STK"


async def test_whatif_previews_commission_and_margin_without_placing(conn: Connection) -> None:
    await conn.start()
    last = await _last(conn, AAPL)
    before = await conn.client.live_orders(force=True)
    preview = await conn.client.whatif(PAPER_ACCOUNT, _limit(last, qty=10))
    assert preview.error is None
    assert preview.commission is not None and preview.commission.value is not None
    assert preview.commission.value > 0
    assert preview.initial_margin is not None and preview.equity is not None
    after = await conn.client.live_orders()
    assert len(after.orders) == len(before.orders)  # a preview places nothing


async def test_order_status_modify_and_cancel(conn: Connection) -> None:
    await conn.start()
    last = await _last(conn, AAPL)
    order = _limit(last * Decimal("0.98"), qty=4)
    accepted, _ = await _confirm_all(conn, await conn.client.place_order(PAPER_ACCOUNT, order))

    status = await conn.client.order_status(accepted.order_id)
    assert status.order_id == accepted.order_id and status.conid == AAPL
    assert status.side is Side.BUY and status.limit_price == order.price
    assert status.remaining == 4

    new_price = (last * Decimal("0.97")).quantize(Decimal("0.01"))
    changed = OrderRequest(
        order.conid, order.side, Decimal(6), order.order_type, order.coid, price=new_price
    )
    modified, _ = await _confirm_all(
        conn, await conn.client.modify_order(PAPER_ACCOUNT, accepted.order_id, changed)
    )
    assert modified.order_id == accepted.order_id
    status = await conn.client.order_status(accepted.order_id)
    assert status.limit_price == new_price and status.total_size == 6

    await conn.client.cancel_order(PAPER_ACCOUNT, accepted.order_id)
    live = await conn.client.live_orders(force=True)
    live = await conn.client.live_orders()
    mine = [o for o in live.orders if o.order_id == accepted.order_id]
    assert all(o.status in (OrderState.PENDING_CANCEL, OrderState.CANCELLED) for o in mine)


async def test_a_suppressed_question_is_not_asked_again(conn: Connection) -> None:
    await conn.start()
    last = await _last(conn, AAPL)
    far = last * Decimal("0.80")  # beyond the 3 % price constraint: IBKR asks o163
    _, asked = await _confirm_all(conn, await conn.client.place_order(PAPER_ACCOUNT, _limit(far)))
    assert "o163" in asked

    await conn.client.suppress_questions(["o163"])
    result = await conn.client.place_order(PAPER_ACCOUNT, _limit(far))
    _, asked_again = await _confirm_all(conn, result)
    assert "o163" not in asked_again

    await conn.client.reset_suppressed_questions()
    _, asked_after_reset = await _confirm_all(
        conn, await conn.client.place_order(PAPER_ACCOUNT, _limit(far))
    )
    assert "o163" in asked_after_reset


async def test_a_marketable_order_fills_and_shows_in_trades(
    demo: DemoEnvironment, conn: Connection
) -> None:
    await conn.start()
    last = await _last(conn, AAPL)
    order = _limit(last * Decimal("1.02"), qty=2)  # above the market: fills at once
    accepted, _ = await _confirm_all(conn, await conn.client.place_order(PAPER_ACCOUNT, order))
    status = await conn.client.order_status(accepted.order_id)
    assert status.status is OrderState.FILLED and status.filled == 2
    trades = await conn.client.trades()
    mine = [t for t in trades if t.order_ref == order.coid]
    assert mine and sum(t.quantity for t in mine) == 2
    assert all(t.side is Side.BUY and t.price > 0 for t in mine)


async def test_positions_are_read_page_by_page() -> None:
    import time

    from ibtui.ibkr.connect import connect
    from ibtui.ibkr.pacing import Pacer
    from ibtui.ibkr.session import AccessCredentials
    from ibtui.sim import ShiftedClock, SimConfig, SystemClock
    from ibtui.sim.demo import build_demo, trading_offset

    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    config = SimConfig(seed=4, clock=clock, pacing_enabled=False, portfolio_size=250)
    demo = build_demo(key_bits=1024, config=config)
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url, demo.consumer, access, transport=demo.transport, pacer=unpaced
    ) as conn:
        await conn.start()
        positions = await conn.client.positions(PAPER_ACCOUNT)
    assert len(positions) == 250  # pages 0, 1 (100 each) and 2 (50)
    assert len({p.conid for p in positions}) == 250
