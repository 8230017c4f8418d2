"""The account's P&L pushed over the stream (IBKR's ``spl``) in the summary strip and the account
screen: a pushed row moves net liquidation, excess liquidity and the day's P&L at once, marked
only when it moved since the last full refresh; when nothing comes (the stream down, no refresh)
or a refresh fails, the strip keeps its figures and says they are not fresh."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ibtui.tui.balances import PnlPush
from ibtui.tui.widgets.summary_strip import SummaryStrip, as_of
from tests.tui.conftest import PAPER
from tests.tui.test_tui_balances import SIZES, broker_and_app, refresh, shown, strip_text
from tests.tui.test_tui_streaming import FakeStream, until


def push(**figures: str) -> list[PnlPush]:
    return [PnlPush(PAPER.account_id, **{k: Decimal(v) for k, v in figures.items()})]


async def pushed(pilot: Any, strip: SummaryStrip, stream: FakeStream, **figures: str) -> str:
    stream.push_pnl(push(**figures))
    await pilot.pause()
    return strip_text(strip)


async def test_a_pushed_row_moves_the_strip_at_once_marked_against_the_last_refresh() -> None:
    stream = FakeStream()
    broker, app, rounds = broker_and_app(stream=stream)
    async with app.run_test(size=(80, 24)) as pilot:
        strip = await shown(pilot, app, rounds)
        await until(pilot, lambda: stream.sink is not None, "the stream running")
        assert stream.pnl_wanted == [True]  # a broker that reads balances: spl subscribed
        stream.state("live")
        reads = broker.balance_reads
        text = await pushed(
            pilot,
            strip,
            stream,
            daily_pnl="-100.00",
            net_liquidation="319000.00",
            excess_liquidity="262110.30",
        )
        assert "NLV 319,000.00▲" in text and "Day -100.00▲" in text
        assert "ExLiq 262,110.30 (82.17%)" in text  # the cushion follows net liquidation
        assert broker.balance_reads == reads  # no refresh: the push itself
        # noise below a cent is no move; the mark stays while it differs from the refresh
        text = await pushed(pilot, strip, stream, daily_pnl="-100.004", net_liquidation="319000")
        assert "NLV 319,000.00▲" in text and "Day -100.00▲" in text
        # back at the last refresh's figure: no mark, though it moved since the push before
        text = await pushed(pilot, strip, stream, daily_pnl="-215.40")
        assert "Day -215.40" in text and "Day -215.40▲" not in text and "Day -215.40▼" not in text
        assert "NLV 319,000.00▲" in text  # not in this push: kept
        assert not strip.stale

        await pilot.press("dollar_sign")  # the account screen follows the pushes too
        await pilot.pause()
        screen = app.screen
        text = await pushed(pilot, strip, stream, daily_pnl="50.00", unrealized_pnl="30000.00")
        figures = screen.figures_text()  # type: ignore[attr-defined]
        assert "50.00 ▲" in figures and "30,000.00 ▲" in figures and "319,000.00 ▲" in figures


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
async def test_with_the_stream_down_the_strip_keeps_its_figures_and_ages(
    size: tuple[int, int],
) -> None:
    stream = FakeStream()
    _, app, rounds = broker_and_app(stream=stream)
    clock = app.clock
    async with app.run_test(size=size) as pilot:
        strip = await shown(pilot, app, rounds)
        await until(pilot, lambda: stream.sink is not None, "the stream running")
        stream.state("live")
        clock.advance(10)  # type: ignore[attr-defined]
        pushed_at = clock()
        await pushed(pilot, strip, stream, daily_pnl="-100.00", net_liquidation="319000.00")
        stream.state("down", "the stream ended")
        clock.advance(39)  # type: ignore[attr-defined]  # within two refresh intervals (40 s)
        await pilot.pause(1.2)  # the strip looks at its age every second
        text = strip_text(strip)
        assert "as of" not in text and not strip.has_class("-stale")
        clock.advance(2)  # type: ignore[attr-defined]  # past them: no push, no refresh
        await until(pilot, lambda: strip.has_class("-stale"), "the strip aged", tries=150)
        text = strip_text(strip)
        if size[0] < 110:
            assert (
                text
                == f"NLV 319,000.00▲  ExLiq 262,110.30 (82.17%)  Day -100.00▲  {as_of(pushed_at)}"
            )
        else:
            assert "Net liq 319,000.00▲" in text and "Day P&L -100.00▲" in text  # kept
            assert f"Day P&L -100.00▲   {as_of(pushed_at)}   Buying power" in text
        assert len(text) <= strip.content_size.width  # nothing cut off


async def test_a_failed_refresh_marks_the_strip_stale_until_one_succeeds() -> None:
    broker, app, rounds = broker_and_app()
    clock = app.clock
    async with app.run_test(size=(120, 40)) as pilot:
        strip = await shown(pilot, app, rounds)
        assert app.session.balances is not None
        refreshed_at = app.session.balances.received_at
        assert refreshed_at is not None
        assert not strip.stale and "as of" not in strip_text(strip)
        good = broker.balances

        async def failing(account_id: str) -> Any:
            raise RuntimeError("summary: 503 Service Unavailable")

        broker.balances = failing  # type: ignore[method-assign]
        clock.advance(5)  # type: ignore[attr-defined]
        await refresh(pilot, app)
        text = strip_text(strip)
        assert f"{as_of(refreshed_at)} (refresh failed)" in text
        assert "Net liq 318,930.52" in text  # the figures stay
        assert strip.has_class("-stale") and strip.rich_style.dim  # dimmed
        broker.balances = good  # type: ignore[method-assign]
        await refresh(pilot, app)
        assert "as of" not in strip_text(strip) and not strip.has_class("-stale")
        assert not strip.rich_style.dim
