"""The account's P&L pushed by the real in-process simulator's WebSocket (``spl``) in the summary
strip: with the balances refreshed a minute apart, the strip's day's P&L and net liquidation move
with the pushes."""

from __future__ import annotations

import re

from ibtui.sim import PAPER_ACCOUNT
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.widgets.summary_strip import SummaryStrip
from tests.simulated import signed_in, trading_demo
from tests.tui.test_tui_demo_flow import wait_for


async def test_the_strip_moves_with_the_pushed_pnl_between_refreshes_a_minute_apart() -> None:
    demo = trading_demo(5)
    backend, _secret = signed_in(demo)
    app = IbtuiApp(
        backend,
        poll=PollSettings(interval=60.0),
        last_account=PAPER_ACCOUNT,
        cursor_blink=False,
        balances_seconds=60.0,
        stream=backend.stream(100, None, stream_http=demo.stream_http),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen), 30)
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        strip = screen.query_one(SummaryStrip)
        watch = app.session.balances_watch
        assert watch is not None

        def figures() -> tuple[str, str]:
            text = strip.render().plain
            found = re.search(r"NLV (\S+?)[▲▼]?  .* Day (\S+?)[▲▼]?(  |$)", text)
            return (found.group(1), found.group(2)) if found else ("", "")

        await wait_for(pilot, lambda: watch.refreshes >= 1 and figures() != ("", ""), 30)
        refreshes = watch.refreshes
        seen = {figures()}
        await wait_for(pilot, lambda: bool(seen.add(figures())) or len(seen) >= 3, 30)
        assert len({nlv for nlv, _ in seen}) >= 2 and len({day for _, day in seen}) >= 2
        assert watch.refreshes == refreshes  # moved by the pushes, the next refresh a minute away
        assert not strip.stale
    await backend.aclose()
