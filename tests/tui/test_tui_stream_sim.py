"""The console with the stream (``adapters/stream.py`` over ``MarketStream``) on the real in-process
simulator's WebSocket: with polls a minute apart, prices on screen move and a fill is notified,
pushed."""

from __future__ import annotations

from pathlib import Path

from ibtui.ibkr.models import Side
from ibtui.sim import PAPER_ACCOUNT
from ibtui.trading import OrderDraft, SubmitStatus, TicketType
from ibtui.trading.settings import OrderSettings
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.trading import QuestionView
from tests.simulated import signed_in, trading_demo
from tests.tui.conftest import told
from tests.tui.test_tui_demo_flow import wait_for

AAPL = 265598


async def yes(question: QuestionView) -> bool:
    return True


async def test_streamed_prices_and_a_pushed_fill_with_polls_a_minute_apart(
    tmp_path: Path,
) -> None:
    demo = trading_demo(5)
    backend, _secret = signed_in(demo)
    trader = backend.trader(OrderSettings(), tmp_path)
    app = IbtuiApp(
        backend,
        trader=trader,
        poll=PollSettings(interval=60.0),
        last_account=PAPER_ACCOUNT,
        cursor_blink=False,
        stream=backend.stream(100, trader, stream_http=demo.stream_http),
    )
    app.order_watch_seconds = 60.0
    notices = told(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen), 30)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        key = f"{PAPER_ACCOUNT}:{AAPL}"
        await wait_for(pilot, lambda: key in screen.table.views and bool(screen.quotes), 30)
        await wait_for(pilot, lambda: "quotes stream" in screen.status_bar.render().plain, 30)
        seen = {screen.table.cell(key, "last").text}
        await wait_for(
            pilot, lambda: bool(seen.add(screen.table.cell(key, "last").text)) or len(seen) >= 3, 30
        )  # two changes, with the next poll a minute away

        watch = app.session.orders
        assert watch is not None
        await wait_for(pilot, lambda: watch.last is not None and watch.pushing, 30)
        calls = len(notices)
        draft = OrderDraft(PAPER_ACCOUNT, AAPL, "AAPL", Side.BUY, "2", TicketType.MKT)
        result = await trader.submit(draft, yes)
        assert result.status is SubmitStatus.ACCEPTED
        assert len(notices) == calls  # the watch's poll is a minute away: pushed, if at all
        await wait_for(
            pilot, lambda: any(n.message.startswith("Filled: BUY 2 AAPL") for n in notices), 30
        )
    await backend.aclose()
