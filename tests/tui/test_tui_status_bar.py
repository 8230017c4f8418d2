"""The status bar tells the truth: PAPER or LIVE, token life, session, quote age, errors."""

from __future__ import annotations

from dataclasses import replace

from textual.geometry import Region

from ibtui.tui.viewmodels import SessionState, StatusView
from ibtui.tui.widgets.status_bar import StatusBar
from tests.tui.conftest import LIVE, PAPER, T0, Clock, Host


def bar_host(clock: Clock, status: StatusView) -> Host:
    return Host(lambda: StatusBar(status, clock=clock))


async def test_paper_badge_and_healthy_session(clock: Clock) -> None:
    status = StatusView(
        account=PAPER,
        session=SessionState.CONNECTED,
        lst_expires_at=T0 + 9 * 3600 + 59,
        newest_quote_at=T0 - 1,
        poll_interval=2.0,
    )
    app = bar_host(clock, status)
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        text = bar.render()
        plain = text.plain
        assert plain.startswith(" PAPER ")
        assert "Swing paper (DU4820311)" in plain
        assert "LST 9h 00m" in plain
        assert "session connected" in plain
        assert "quotes 1s" in plain and "STALE" not in plain
        assert not bar.quotes_stale


async def test_live_badge_uses_the_warning_colour(clock: Clock) -> None:
    app = bar_host(clock, StatusView(account=PAPER))
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        paper_style = bar.render().spans[0].style
        bar.status = StatusView(account=LIVE)
        text = bar.render()
        assert text.plain.startswith(" LIVE ")
        live_style = text.spans[0].style
        assert live_style != paper_style
        live_bg = bar.get_component_rich_style("status-bar--live").bgcolor
        error_colour = app.theme_variables["error"]
        assert live_bg is not None and live_bg.triplet is not None
        assert live_bg.triplet.hex.lower() == error_colour.lower()


async def test_quotes_go_stale_after_three_intervals(clock: Clock) -> None:
    app = bar_host(clock, StatusView(account=PAPER, newest_quote_at=T0, poll_interval=2.0))
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        clock.advance(6)
        assert "quotes 6s" in bar.render().plain and not bar.quotes_stale
        clock.advance(1)
        assert bar.quotes_stale
        assert "quotes 7s STALE" in bar.render().plain
        bar.status = replace(bar.status, newest_quote_at=clock())
        assert "STALE" not in bar.render().plain


async def test_expiring_token_no_quotes_and_error(clock: Clock) -> None:
    status = StatusView(
        account=PAPER,
        session=SessionState.NO_BRIDGE,
        lst_expires_at=T0 + 125,
        error="IBKR has no brokerage session (no bridge)",
    )
    app = bar_host(clock, status)
    async with app.run_test(size=(160, 3)):
        plain = app.query_one(StatusBar).render().plain
        assert "LST 2m 05s" in plain
        assert "session no bridge" in plain
        assert "quotes none yet" in plain
        assert plain.endswith("IBKR has no brokerage session (no bridge)")
        clock.advance(200)
        assert "LST expired" in app.query_one(StatusBar).render().plain


async def test_narrow_terminal_keeps_the_essentials(clock: Clock) -> None:
    status = StatusView(account=LIVE, session=SessionState.CONNECTED, newest_quote_at=T0)
    app = bar_host(clock, status)
    async with app.run_test(size=(80, 3)):
        plain = app.query_one(StatusBar).render().plain
        assert plain.startswith(" LIVE  U1234567 EUR")
        assert "connected" in plain and "quotes 0s" in plain


async def test_a_failure_counts_down_to_the_next_try(clock: Clock) -> None:
    status = StatusView(account=PAPER, error="cannot reach the server", retry_at=T0 + 8)
    app = bar_host(clock, status)
    async with app.run_test(size=(160, 3)):
        bar = app.query_one(StatusBar)
        assert bar.render().plain.endswith("cannot reach the server (retrying in 8s)")
        clock.advance(5)
        assert bar.render().plain.endswith("(retrying in 3s)")
        clock.advance(4)
        assert bar.render().plain.endswith("(retrying…)")


def counting(bar: StatusBar, method: str) -> list[int]:
    """Count the calls of one of the bar's methods from now on (the count is ``[n]``)."""
    calls = [0]
    original = getattr(bar, method)

    def counted() -> object:
        calls[0] += 1
        return original()

    setattr(bar, method, counted)
    return calls


def bar_text(bar: StatusBar) -> str:
    """The bar's line as it is on the screen (its lines as last drawn: nothing is rendered)."""
    return "".join(strip.text for strip in bar.render_lines(Region(0, 0, bar.size.width, 1)))


async def test_the_bar_is_repainted_only_when_what_it_shows_changes(clock: Clock) -> None:
    """A quote a second keeps "quotes 0s" as it was: no repaint (no frame, nothing sent)."""
    status = StatusView(account=PAPER, session=SessionState.CONNECTED, newest_quote_at=T0)
    app = bar_host(clock, status)
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(StatusBar)
        await pilot.pause()
        renders = counting(bar, "render")
        for second in range(1, 4):
            clock.advance(1)
            bar.status = replace(bar.status, newest_quote_at=T0 + second)  # "quotes 0s" again
            bar._repaint_if_changed()  # the bar's one-second timer
            await pilot.pause()
        assert renders == [0]
        bar.status = replace(bar.status, session=SessionState.RECONNECTING)
        await pilot.pause()
        assert renders == [1] and "session reconnecting" in bar_text(bar)
        clock.advance(5)  # the quotes' age moves on: the timer repaints
        bar._repaint_if_changed()
        await pilot.pause()
        assert renders == [2] and "quotes 5s" in bar_text(bar)
        bar.status = replace(bar.status, newest_quote_at=clock())  # shown at once, no timer
        await pilot.pause()
        assert renders == [3] and "quotes 0s" in bar_text(bar)


async def test_a_newer_quote_that_changes_nothing_shown_costs_no_line(clock: Clock) -> None:
    """Quotes come in batches, several a second: one that leaves "quotes 0s" as it was does not
    even build the line again."""
    status = StatusView(account=PAPER, session=SessionState.CONNECTED, newest_quote_at=T0)
    app = bar_host(clock, status)
    async with app.run_test(size=(120, 3)) as pilot:
        bar = app.query_one(StatusBar)
        await pilot.pause()
        built = counting(bar, "_line")
        for batch in range(1, 10):
            bar.status = replace(bar.status, newest_quote_at=T0 + batch / 10)
        assert built == [0]
        bar.status = replace(bar.status, error="IBKR answered 503")
        assert built == [1]


async def test_a_session_being_reopened_says_reconnecting(clock: Clock) -> None:
    app = bar_host(clock, StatusView(account=PAPER, session=SessionState.RECONNECTING))
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        assert "session reconnecting…" in bar.render().plain
        bar.status = replace(bar.status, session=SessionState.CONNECTED)
        assert "session connected" in bar.render().plain


async def test_the_feed_is_named_and_a_quiet_live_stream_stays_the_stream(clock: Clock) -> None:
    """The line says "stream" while the stream is live and covers quotes, however long nothing
    is pushed (a closed market: its prices are current, not STALE); "poll" when it covers none
    or is down."""
    live = StatusView(
        account=PAPER, newest_quote_at=T0, poll_interval=2.0, stream="live", streaming=True
    )
    app = bar_host(clock, live)
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        assert "quotes stream 0s" in bar.render().plain
        for _ in range(30):  # nothing pushed for 30 s: the same statement every second
            clock.advance(1)
            plain = bar.render().plain
            assert "quotes stream" in plain and "poll" not in plain and "STALE" not in plain
        assert "quotes stream 30s" in plain
        bar.status = replace(live, streaming=False)  # live, but subscribed to nothing
        assert "quotes poll 30s STALE" in bar.render().plain
        bar.status = replace(live, newest_quote_at=T0 + 30, stream="down", streaming=False)
        assert bar.render().plain.rstrip().endswith("quotes poll 0s (stream down)")
        clock.advance(4)
        assert "quotes poll 4s (stream down)" in bar.render().plain
        clock.advance(3)
        assert "STALE" in bar.render().plain
        bar.status = StatusView(account=PAPER, newest_quote_at=T0 + 37)  # no stream at all
        assert "quotes 0s" in bar.render().plain and "poll" not in bar.render().plain


async def test_the_stated_freshness_keeps_its_bound_on_a_line_too_short_for_all_of_it(
    clock: Clock,
) -> None:
    """5,000 positions with a stream up: at 120 columns "quotes poll 0s │ every 2 s for 34 rows
    in view, all 5,000 every 14 s" does not fit after the account, token and session; the line
    says it shorter rather than cutting off the bound of the whole book."""
    from ibtui.tui.viewmodels import AccountView, QuotePlan

    plan = QuotePlan(every=2.0, in_view=34, watched=0, total=5_000, all_every=14.0)
    account = AccountView("DU4820311", base_currency="USD", paper=True)
    status = StatusView(
        account=account,
        session=SessionState.CONNECTED,
        lst_expires_at=T0 + 24 * 3600 - 30,
        newest_quote_at=T0,
        poll_interval=2.0,
        stream="live",
        quote_plan=plan,
    )
    app = bar_host(clock, status)
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        plain = bar.render().plain
        assert plain.endswith("│ quotes poll 0s │ in view every 2 s, all 5,000 every 14 s"), plain
        assert len(plain) <= 120
    app = bar_host(clock, status)
    async with app.run_test(size=(130, 3)):  # room for all of it
        bar = app.query_one(StatusBar)
        plain = bar.render().plain
        assert plain.endswith(
            "│ quotes poll 0s │ every 2 s for 34 rows in view, all 5,000 every 14 s"
        )
    app = bar_host(clock, status)
    async with app.run_test(size=(100, 3)):
        bar = app.query_one(StatusBar)
        plain = bar.render().plain
        assert plain.endswith("│ all 5,000 every 14 s"), plain
    app = bar_host(clock, status)
    async with app.run_test(size=(80, 3)):  # no "session" label: the account id alone
        bar = app.query_one(StatusBar)
        plain = bar.render().plain
        assert plain.endswith("│ connected │ quotes poll 0s │ all in 14 s"), plain
        assert len(plain) <= 80


async def test_stale_follows_the_pace_stated_for_the_rows_in_view(clock: Clock) -> None:
    """At a 0.1 s interval IBKR's pace runs a round every 0.22 s: the newest quote is STALE
    once older than three of those rounds, not three intervals."""
    from ibtui.tui.viewmodels import QuotePlan

    plan = QuotePlan(every=2 / 9, in_view=34, watched=0, total=5_000, all_every=12.0)
    status = StatusView(account=PAPER, newest_quote_at=T0, poll_interval=0.1, quote_plan=plan)
    app = bar_host(clock, status)
    async with app.run_test(size=(120, 3)):
        bar = app.query_one(StatusBar)
        clock.advance(0.6)
        assert not bar.quotes_stale and "STALE" not in bar.render().plain
        clock.advance(0.1)
        assert bar.quotes_stale and "STALE" in bar.render().plain
