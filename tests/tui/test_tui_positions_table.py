"""The positions grid as a trader uses it: keyed rows updated in place, sort, filter, totals."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Static

from ibtui.tui.viewmodels import QuoteView, Tally, Totals
from ibtui.tui.widgets.columns import Cell
from ibtui.tui.widgets.positions_table import CHUNK, PositionsTable, TotalsLine
from tests.tui.conftest import PAPER, T0, Clock, Host, position, sample_positions

SIZE = (120, 40)
AAPL = f"{PAPER.account_id}:265598"
MSFT = f"{PAPER.account_id}:272093"


def host(clock: Clock, **kwargs: object) -> Host:
    return Host(lambda: PositionsTable(clock=clock, stale_after=6.0, cursor_blink=False, **kwargs))  # type: ignore[arg-type]


async def shown(app: Host, pilot: Pilot[None]) -> PositionsTable:
    """The table with the sample positions, drawn."""
    table = app.query_one(PositionsTable)
    table.set_positions(sample_positions())
    await pilot.pause()
    return table


async def test_rows_are_keyed_and_formatted(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        assert table.grid.row_count == 6
        assert set(table.visible_keys) == {view.key for view in sample_positions()}
        assert table.cell(AAPL, "last").text == "222.91"
        assert table.cell(AAPL, "market_value").text == "22,291.00"
        assert table.cell(AAPL, "unrealized_pnl").text == "+4,241.00"
        # no IBKR figure in the quote: quantity x change since the prior close, marked so
        assert table.cell(AAPL, "daily_pnl").text == "≈-54.00"
        assert table.cell(AAPL, "change_pct").text == "-0.24%"
        assert table.cell(MSFT, "quantity").text == "-20"
        # short MSFT bought at 420 now 415.10: a gain of 98
        assert table.cell(MSFT, "unrealized_pnl").text == "+98.00"
        assert table.cell(MSFT, "unrealized_pct").text == "+1.17%"


async def test_tick_updates_only_changed_cells_in_place(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        grid = table.grid
        rows_before = dict(grid.rows)
        order_before = table.visible_keys
        msft_before = {c: table.cell(MSFT, c) for c in ("last", "market_value", "symbol")}
        aapl_symbol = table.cell(AAPL, "symbol")

        clock.advance(2)
        table.apply_quotes(
            {
                265598: QuoteView(
                    265598, Decimal("223.91"), Decimal("0.46"), Decimal("0.21"), updated_at=clock()
                )
            }
        )
        await pilot.pause()

        # same Row objects, same order: nothing was rebuilt
        assert dict(grid.rows) == rows_before
        assert all(grid.rows[key] is rows_before[key] for key in rows_before)
        assert table.visible_keys == order_before
        # the changed cells changed, the others are the very same objects
        assert table.cell(AAPL, "last").text == "223.91"
        assert table.cell(AAPL, "market_value").text == "22,391.00"
        assert table.cell(AAPL, "daily_pnl").text == "≈+46.00"
        assert table.cell(AAPL, "symbol") is aapl_symbol
        for column, cell in msft_before.items():
            assert table.cell(MSFT, column) is cell
        # and they flash, green for up, until flash_seconds have passed
        assert (AAPL, "last") in table.flashing
        assert (MSFT, "last") not in table.flashing
        flash = table.cell(AAPL, "last").style
        assert flash is not None and flash.bgcolor is not None
        clock.advance(1.5)
        table.refresh_marks()
        assert not table.flashing
        assert table.cell(AAPL, "last").style is None


async def test_a_streamed_burst_ends_every_flash_that_is_over_in_its_own_repaint(
    clock: Clock,
) -> None:
    """The stream pushes every move of its instruments at once, once a second: a row that did
    not move with the next burst ends its flash in that burst's repaint (a flash due a moment
    later too), not on a frame of its own half a second after."""
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        table.apply_quotes(quote(265598, "223.91", clock), burst=True)
        assert (AAPL, "last") in table.flashing
        clock.advance(0.95)  # the next burst, a moment before AAPL's flash is due: MSFT moved
        table.apply_quotes(quote(272093, "416.10", clock), burst=True)
        assert (AAPL, "last") not in table.flashing
        assert table.cell(AAPL, "last").style is None
        assert (MSFT, "last") in table.flashing
        clock.advance(0.5)  # a burst well before MSFT's flash is due leaves it alone
        table.apply_quotes(quote(265598, "224.00", clock), burst=True)
        assert (MSFT, "last") in table.flashing
        await pilot.pause()


async def test_a_flash_ends_with_the_rows_next_quote(clock: Clock) -> None:
    """A price changing every second is repainted once a second: its flash ends in the same
    repaint as the row's next quote, not on a frame of its own just before, nor with another
    row's quote (a round of quotes comes in batches: that would repaint the row twice)."""
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        table.apply_quotes(quote(265598, "223.91", clock))
        assert (AAPL, "last") in table.flashing

        clock.advance(1.1)  # the flash is over, but a round of quotes is due any moment
        table.refresh_marks()
        assert (AAPL, "last") in table.flashing
        sets: list[list[tuple[str, str]]] = []
        update_cells = table.grid.update_cells

        def recorded(updates: Iterable[tuple[str, str, Cell]]) -> int:
            batch = list(updates)
            sets.append([(key, column) for key, column, _ in batch])
            return update_cells(batch)

        table.grid.update_cells = recorded  # type: ignore[method-assign]
        table.apply_quotes(quote(272093, "416.10", clock))  # MSFT's batch
        assert len(sets) == 1 and (MSFT, "last") in sets[0] and (AAPL, "last") not in sets[0]
        assert (AAPL, "last") in table.flashing and (MSFT, "last") in table.flashing
        table.apply_quotes(quote(265598, "223.91", clock))  # AAPL's batch: the price stays
        assert len(sets) == 2 and (AAPL, "last") in sets[1]
        assert (AAPL, "last") not in table.flashing
        assert table.cell(AAPL, "last").style is None
        assert (MSFT, "last") in table.flashing

        clock.advance(1.4)  # no round came: the flash ends on its own half a second late
        table.refresh_marks()
        assert (MSFT, "last") in table.flashing
        clock.advance(0.1)
        table.refresh_marks()
        assert not table.flashing
        await pilot.pause()
        assert "416.10" in screen_text(table)


async def test_the_totals_follow_a_round_of_quotes_in_the_same_repaint(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        before = str(app.query_one("#totals").render())
        table.apply_quotes(quote(265598, "223.91", clock))  # +1.00 on 100 AAPL
        after = str(app.query_one("#totals").render())  # no frame in between
        assert after != before and "Unrl +29,503.77" in after


async def test_the_totals_line_takes_short_labels_rather_than_lose_an_amount(clock: Clock) -> None:
    """At 120 columns the long labels and the converted currencies do not leave room for the
    realized P&L: the line is the short one, every amount in it."""
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        await shown(app, pilot)
        drawn = app.query_one("#totals", TotalsLine).render_line(0).text.rstrip()
        assert drawn == "6 USD (EUR→USD) MV 204,488.44 Unrl +29,403.77 Day +342.12 Rlzd +120.00"


async def test_sort_by_keyboard_and_reverse(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        assert [table.views[k].symbol for k in table.visible_keys][:2] == ["AAPL", "EUR.USD"]
        await pilot.press(">")  # next column: description
        assert table.sort_column == "description"
        await pilot.press(">", ">", ">", ">")  # asset class, quantity, currency, last
        assert table.sort_column == "last"
        symbols = [table.views[k].symbol for k in table.visible_keys]
        assert symbols == ["EUR.USD", "SPY C580", "SAP", "AAPL", "MSFT", "SPY"]
        await pilot.press("r")
        symbols = [table.views[k].symbol for k in table.visible_keys]
        assert symbols == ["SPY", "MSFT", "AAPL", "SAP", "SPY C580", "EUR.USD"]
        assert str(table.grid.columns["last"].label) == "Last ▼"
        await pilot.press("<")
        assert table.sort_column == "currency"


async def test_a_sort_by_a_column_off_screen_is_named_in_the_totals_line(clock: Clock) -> None:
    """At 80 columns Mkt value is off screen, its header's arrow with it: the totals line says
    what the rows are sorted by; once the column is scrolled into view it no longer needs to."""
    app = host(clock)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await shown(app, pilot)

        def totals() -> str:
            return str(app.query_one("#totals").render())

        assert "by " not in totals()  # by symbol: the fixed column, always in view
        table.sort_by("market_value", reverse=True)
        await pilot.pause()
        assert not table.grid.column_in_view("market_value")
        assert totals().startswith("by Mkt value ▼ │ ")
        await pilot.press("r")
        assert totals().startswith("by Mkt value ▲ │ ")
        table.grid.scroll_to(x=50, animate=False)
        await pilot.pause()
        assert table.grid.column_in_view("market_value")
        assert "by " not in totals()
        table.sort_by("last")  # now off screen to the left
        await pilot.pause()
        assert totals().startswith("by Last ▲ │ ")
    async with host(clock).run_test(size=(160, 40)) as pilot:
        table = pilot.app.query_one(PositionsTable)
        table.set_positions(sample_positions())
        table.sort_by("market_value", reverse=True)
        await pilot.pause()
        assert " │ " not in str(pilot.app.query_one("#totals").render())  # its ▼ is in view


async def test_sort_follows_ticks_and_keeps_cursor_on_position(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(sample_positions())
        table.sort_by("daily_pnl", reverse=False)
        await pilot.pause()
        spy = f"{PAPER.account_id}:756733"
        table.grid.move_to(spy)
        assert table.visible_keys[0] == AAPL  # -54.00, the worst daily P&L
        assert table.visible_keys[-1] == spy  # +375.00, the best
        # SPY falls: it becomes the worst line and moves to the top, the cursor with it
        table.apply_quotes(
            {
                756733: QuoteView(
                    756733, Decimal("578"), Decimal("-1.00"), Decimal("-0.17"), updated_at=clock()
                )
            }
        )
        await pilot.pause()
        assert table.visible_keys[0] == spy
        assert table.grid.cursor_key() == spy


async def test_ticks_outside_the_sort_column_do_not_resort(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        calls: list[str] = []
        original = table.grid.sort_rows

        def spy(column: str, reverse: bool) -> None:
            calls.append(column)
            original(column, reverse)

        table.grid.sort_rows = spy  # type: ignore[method-assign]
        table.apply_quotes({265598: QuoteView(265598, Decimal("230"), updated_at=clock())})
        assert calls == []  # sorted by symbol; prices moved
        table.sort_by("last")
        calls.clear()
        table.apply_quotes({265598: QuoteView(265598, Decimal("231"), updated_at=clock())})
        assert calls == ["last"]


async def test_filter_with_slash_and_escape(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        assert not table.query("#filter")  # made on first use, not at the start
        await pilot.press("slash")
        assert app.focused is not None and app.focused.id == "filter"
        await pilot.press(*"spy")
        await pilot.pause()
        assert sorted(table.views[k].symbol for k in table.visible_keys) == ["SPY", "SPY C580"]
        await pilot.press("enter")
        assert app.focused is table.grid
        # ticks still reach hidden rows, which show the new price once the filter is cleared
        table.apply_quotes({265598: QuoteView(265598, Decimal("250"), updated_at=clock())})
        await pilot.press("escape")
        await pilot.pause()
        assert table.grid.row_count == 6
        assert table.cell(AAPL, "last").text == "250.00"
        await pilot.press("slash", "a")  # the same box again
        await pilot.pause()
        assert len(table.query("#filter")) == 1 and app.focused.id == "filter"
        assert [table.views[k].symbol for k in table.visible_keys][:1] == ["AAPL"]
        await pilot.press("escape")
        await pilot.pause()
        assert table.grid.row_count == 6 and app.focused is table.grid
        # several words must all match, in any field
        table.set_filter("eur cash")
        assert [table.views[k].symbol for k in table.visible_keys] == ["EUR.USD"]


async def test_totals_in_base_currency_and_follow_filter(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PositionsTable)
        views = [
            position(1, "AAA", "10", "100", "90", realized="5"),
            position(2, "BBB", "5", "20", "25", currency="EUR", fx="1.10", change="1"),
            position(3, "CCC", "1", "50", "50", currency="JPY", fx=None),
        ]
        table.set_positions(views)
        await pilot.pause()
        totals = str(app.query_one("#totals").render())
        # AAA 1,000 + BBB 100 EUR * 1.10 = 110; CCC has no rate and is left out (and said so)
        assert "3 positions (all) in USD, EUR converted   " in totals  # JPY is not
        assert "Mkt value 1,110.00" in totals
        assert "Unrl P&L +72.50" in totals  # +100 - 25 * 1.10
        assert "Daily P&L +5.50" in totals
        assert "Rlzd P&L +5.00" in totals
        assert "1 without an exchange rate left out" in totals
        table.set_filter("aaa")
        totals = str(app.query_one("#totals").render())
        assert "1 position (shown)" in totals and "Mkt value 1,000.00" in totals
        assert "converted" not in totals  # no other currency among the rows shown


async def test_each_rows_currency_is_beside_its_money_at_120_and_80_columns(clock: Clock) -> None:
    """A EUR account holding USD and EUR rows: each row's Ccy is on screen next to its prices
    and values, and the totals say they are in EUR with the USD rows converted."""
    for size, totals_head in (
        ((120, 40), "2 positions (all) in EUR, USD converted   Mkt"),
        ((80, 24), "2 EUR (USD→EUR) MV "),
    ):
        app = host(clock, base_currency="EUR")
        async with app.run_test(size=size) as pilot:
            table = app.query_one(PositionsTable)
            table.set_positions(
                [
                    position(1, "AAA", "10", "100", "90", currency="USD", fx="0.9"),
                    position(2, "SAP", "5", "150", "140", currency="EUR"),
                ]
            )
            await pilot.pause()
            lines = [
                strip.text for strip in table.grid.render_lines(table.grid.region.reset_offset)
            ]
            header = lines[0]
            assert header.index("Ccy") < header.index("Last") < header.index("Chg %")
            row = next(line for line in lines if " AAA " in line)
            assert row[header.index("Ccy") : header.index("Ccy") + 3] == "USD"
            assert str(app.query_one("#totals").render()).startswith(totals_head)


async def test_totals_stay_those_of_the_rows_shown_through_ticks_and_changes(
    clock: Clock,
) -> None:
    """The totals line is kept up to date by each repriced row's difference; after quotes, new
    and dropped positions, a filter and its removal it still says what summing the rows shown
    afresh says."""
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PositionsTable)
        views = [
            position(1, "AAA", "10", "100", "90"),
            position(2, "BBB", "5", "20", "25", currency="EUR", fx="1.10", change="1"),
            position(3, "CCC", "1", "50", "50", currency="JPY", fx=None),
            position(4, "DDD", "-3", "7.5", "8", multiplier="100"),
        ]

        def shown_afresh() -> Totals:
            return Tally("USD", {k: table.views[k] for k in table.visible_keys}).totals()

        bbb = position(2, "BBB", "6", "20", "25", currency="EUR", fx="1.10")
        grown = [bbb, *views[2:], position(5, "EEE", "3", "10", "10")]
        shrunk = [views[1], *views[2:], position(5, "EEE", "2", "10", "10")]
        table.set_positions(views)
        await pilot.pause()
        steps = [
            lambda: table.apply_quotes(
                {1: QuoteView(1, Decimal("101.25"), Decimal("1.25"), updated_at=clock())}
            ),
            lambda: table.apply_quotes(
                {
                    2: QuoteView(2, Decimal("19.5"), updated_at=clock()),
                    4: QuoteView(4, Decimal("7.75")),
                }
            ),
            lambda: table.set_positions([*views[1:], position(5, "EEE", "2", "10", "10")]),
            lambda: table.apply_quotes({5: QuoteView(5, Decimal("11"), updated_at=clock())}),
            lambda: table.set_filter("eee"),
            lambda: table.apply_quotes({5: QuoteView(5, Decimal("12"), updated_at=clock())}),
            lambda: table.apply_quotes({5: QuoteView(5, Decimal("12"), updated_at=clock())}),
            lambda: table.apply_quotes({2: QuoteView(2, Decimal("21"), updated_at=clock())}),
            # the list again while filtered: a row shown (EEE) and one not shown (BBB) grown
            lambda: table.set_positions(grown),
            lambda: table.set_filter(""),
            lambda: table.set_positions(grown),  # the same list again: nothing changes
            lambda: table.set_positions(shrunk),
            lambda: table.apply_quotes({2: QuoteView(2, Decimal("21"), updated_at=clock())}),
        ]
        for step, change in enumerate(steps):
            change()
            await pilot.pause()
            assert table.totals() == shown_afresh(), step
        # BBB 5 x 21 EUR x 1.10 + DDD -3 x 7.50 x 100 (its position's price) + EEE 2 x 10 (the
        # price of the last list, which is stamped)
        totals = str(app.query_one("#totals").render())
        assert "4 positions (all)" in totals and "Mkt value -2,114.50" in totals


async def test_a_refreshed_list_redraws_only_the_positions_that_changed(clock: Clock) -> None:
    """The position list comes again every few seconds: rows whose position is as it was keep
    their view and cells; a changed row out of view shows its change when scrolled to."""
    app = host(clock)
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(PositionsTable)
        views = [position(i, f"S{i:03}", "1", "10", "9") for i in range(1, 101)]
        table.set_positions(views)
        await pilot.pause()
        before = dict(table.views)
        last_row = f"{PAPER.account_id}:100"
        cells = {key: table.cell(key, "quantity") for key in before}

        table.set_positions([position(i, f"S{i:03}", "1", "10", "9") for i in range(1, 101)])
        await pilot.pause()
        assert all(table.views[key] is view for key, view in before.items())
        assert all(table.cell(key, "quantity") is cell for key, cell in cells.items())

        table.set_positions([*views[:99], position(100, "S100", "7", "10", "9")])
        await pilot.pause()
        assert table.views[last_row] is not before[last_row]
        assert all(table.views[key] is before[key] for key in before if key != last_row)
        table.grid.focus()
        await pilot.press("G")  # the last row
        await pilot.pause()
        assert table.cell(last_row, "quantity").text == "7"
        assert "Mkt value 1,060.00" in str(app.query_one("#totals").render())


async def test_a_totals_line_too_long_for_the_screen_ends_at_a_whole_word(clock: Clock) -> None:
    """No amount is cut short, and no label is left without its amount: what does not fit is
    left out from the last label that fits."""
    app = host(clock)
    async with app.run_test(size=(50, 20)) as pilot:
        await shown(app, pilot)
        line = app.query_one("#totals", TotalsLine)
        said = str(line.render())
        assert said.endswith("Rlzd +120.00") and len(said) > line.content_size.width == 48
        assert line.render_line(0).text == "6 USD (EUR→USD) MV 204,488.44 Unrl +29,403.77   "
    async with host(clock).run_test(size=(52, 20)) as pilot:  # room for "… Day" but not its amount
        await shown(pilot.app, pilot)  # type: ignore[arg-type]
        line = pilot.app.query_one("#totals", TotalsLine)
        assert line.content_size.width == 50
        assert line.render_line(0).text.rstrip() == "6 USD (EUR→USD) MV 204,488.44 Unrl +29,403.77"


async def test_a_quote_that_moves_nothing_repaints_nothing(clock: Clock) -> None:
    """Between two polls of a quiet market most prices stay: the price is stamped (it is not
    stale), and neither the totals nor the row is drawn again."""
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        line = app.query_one("#totals", TotalsLine)
        refreshed: list[object] = []
        line.refresh = lambda *_, **__: refreshed.append(1)  # type: ignore[method-assign,assignment,return-value]
        aapl = table.views[AAPL]
        last_cell = table.cell(AAPL, "last")
        clock.advance(30)
        table.apply_quotes(
            {265598: QuoteView(265598, aapl.last, aapl.change, aapl.change_pct, clock())}
        )
        assert not refreshed and table.views[AAPL].price_at == clock()
        assert table.cell(AAPL, "last") is last_cell and AAPL not in table.stale_keys
        table.apply_quotes({265598: QuoteView(265598, Decimal("230"), updated_at=clock())})
        assert refreshed and table.cell(AAPL, "last").text == "230.00"


async def test_the_conids_in_view_follow_the_scroll(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions([position(i, f"S{i:03}", "1", "10", "9") for i in range(1, 101)])
        await pilot.pause()
        top = table.conids_in_view()
        assert 1 in top and 100 not in top and len(top) < 20
        table.grid.focus()
        await pilot.press("G")  # the last row
        await pilot.pause()
        bottom = table.conids_in_view()
        assert 100 in bottom and 1 not in bottom


async def test_a_tick_leaves_the_pager_line_alone(clock: Clock) -> None:
    """Quotes move no row: the "rows x–y of N" line is not repainted on a tick (an update
    repaints its line even with the same text), only when the page changes."""
    app = host(clock)
    async with app.run_test(size=(120, 12)) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions([position(i, f"S{i:03}", "1", "10", "9") for i in range(1, 101)])
        await pilot.pause()
        pager = table.query_one("#pager", Static)
        assert "rows 1–" in str(pager.render())
        repaints = 0
        refresh = pager.refresh

        def counted(*args: object, **kwargs: object) -> object:
            nonlocal repaints
            repaints += 1
            return refresh(*args, **kwargs)  # type: ignore[arg-type]

        pager.refresh = counted  # type: ignore[method-assign]
        for tick in range(3):
            clock.advance(1)
            table.apply_quotes(
                {i: QuoteView(i, Decimal(11 + tick), updated_at=clock()) for i in range(1, 101)}
            )
            await pilot.pause()
        assert repaints == 0
        table.grid.focus()
        await pilot.press("G")
        await pilot.pause()
        assert repaints >= 1 and "of 100" in str(pager.render())


async def test_stale_prices_are_greyed_and_recover(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(
            [
                position(1, "AAA", "10", "100", "90", price_at=T0),
                position(2, "BBB", "10", "100", "90", price_at=None),  # positions-endpoint price
            ]
        )
        await pilot.pause()
        assert table.stale_keys == {f"{PAPER.account_id}:2"}
        clock.advance(5)
        table.refresh_marks()
        assert table.stale_keys == {f"{PAPER.account_id}:2"}
        clock.advance(2)  # 7 s old > 6 s
        table.refresh_marks()
        key = f"{PAPER.account_id}:1"
        assert table.stale_keys == {key, f"{PAPER.account_id}:2"}
        grey = table.cell(key, "last").style
        assert grey is not None and grey.color is not None
        assert table.cell(key, "symbol").style is None  # only prices grey out
        table.apply_quotes({1: QuoteView(1, Decimal("100"), updated_at=clock())})
        assert key not in table.stale_keys
        assert table.cell(key, "last").style is None  # same price, fresh again, no flash


async def test_vim_keys_move_the_cursor(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        table.grid.focus()
        await pilot.press("j", "j")
        assert table.grid.cursor_row == 2
        await pilot.press("k")
        assert table.grid.cursor_row == 1
        await pilot.press("G")
        assert table.grid.cursor_row == 5
        await pilot.press("g")
        assert table.grid.cursor_row == 0


async def test_positions_update_adds_and_removes_rows(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PositionsTable)
        views = sample_positions()
        table.set_positions(views)
        await pilot.pause()
        aapl_row = table.grid.rows[AAPL]
        # MSFT closed, a new position opened; AAPL's live price survives the (cached) refresh
        table.apply_quotes({265598: QuoteView(265598, Decimal("230"), updated_at=clock())})
        refreshed = [v for v in views if v.symbol != "MSFT"]
        refreshed.append(position(9, "NVDA", "3", "140", "120", price_at=None))
        stale_aapl = position(265598, "AAPL", "100", "222.91", "180.50", price_at=None)
        refreshed = [stale_aapl if v.symbol == "AAPL" else v for v in refreshed]
        table.set_positions(refreshed)
        await pilot.pause()
        assert MSFT not in table.visible_keys
        assert f"{PAPER.account_id}:9" in table.visible_keys
        assert table.grid.rows[AAPL] is aapl_row
        assert table.cell(AAPL, "last").text == "230.00"


async def test_large_portfolio_fills_in_chunks_and_stays_usable(clock: Clock) -> None:
    app = host(clock)
    count = CHUNK * 3 + 7
    views = [position(i, f"S{i:05d}", "1", "10", "9") for i in range(count)]
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PositionsTable)
        table.set_positions(views)
        assert table.grid.row_count == CHUNK  # the first screenful at once
        assert table.filling
        for _ in range(50):
            if not table.filling:
                break
            await pilot.pause()
        assert not table.filling
        assert table.grid.row_count == count
        assert table.visible_keys == [v.key for v in views]  # in sort order
        totals = str(app.query_one("#totals").render())
        assert f"{count:,} positions" in totals


def screen_text(table: PositionsTable) -> str:
    """What the grid puts on the terminal now (through every render cache Textual keeps)."""
    grid = table.grid
    lines = grid.render_lines(Region(0, 0, grid.size.width, grid.size.height))
    return "\n".join(strip.text for strip in lines)


def many(count: int) -> list:  # type: ignore[type-arg]
    return [position(i, f"S{i:03d}", "1", f"{10 + i}.00", "9") for i in range(1, count + 1)]


async def sixty_by_symbol(app: Host, pilot: object) -> PositionsTable:
    """60 positions sorted by symbol in a grid about 17 rows high: S018 on are out of view."""
    table = app.query_one(PositionsTable)
    table.set_positions(many(60))
    await pilot.pause()  # type: ignore[attr-defined]
    table.sort_by("symbol", False)
    await pilot.pause()  # type: ignore[attr-defined]
    return table


def quote(conid: int, last: str, clock: Clock) -> dict[int, QuoteView]:
    return {conid: QuoteView(conid, Decimal(last), updated_at=clock())}


async def test_a_tick_reaches_the_screen_without_repainting_the_rest(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=SIZE) as pilot:
        table = await shown(app, pilot)
        assert "222.91" in screen_text(table)
        grid = table.grid
        refreshed: list[tuple[Region, ...]] = []
        refresh = grid.refresh

        def spy(*regions: Region, **kwargs: bool) -> object:
            refreshed.append(regions)
            return refresh(*regions, **kwargs)

        grid.refresh = spy  # type: ignore[method-assign]

        clock.advance(2)
        table.apply_quotes(quote(265598, "223.91", clock))
        await pilot.pause()

        text = screen_text(table)
        assert "223.91" in text and "222.91" not in text
        assert "22,391.00" in text  # the market value followed
        assert "415.10" in text  # MSFT, untouched, still drawn
        # no whole-table repaint: only the repriced row's line
        assert refreshed and all(len(r) > 0 for r in refreshed)
        assert {region.y for regions in refreshed for region in regions} == {
            region.y for region in refreshed[0]
        }


async def test_a_row_repriced_out_of_view_shows_its_new_price_when_scrolled_to(
    clock: Clock,
) -> None:
    app = host(clock)
    async with app.run_test(size=(120, 20)) as pilot:
        table = await sixty_by_symbol(app, pilot)
        assert "S060" not in screen_text(table)  # below the fold
        clock.advance(2)
        table.apply_quotes({**quote(60, "99.99", clock), **quote(2, "55.55", clock)})
        await pilot.pause()
        assert "55.55" in screen_text(table)  # in view: repainted at once

        await pilot.press("G")  # to the last row
        await pilot.pause()

        text = screen_text(table)
        assert "S060" in text and "99.99" in text and "70.00" not in text


async def test_a_tick_while_scrolled_sideways_lands_in_the_right_place(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=(60, 20)) as pilot:
        table = await shown(app, pilot)
        grid = table.grid
        grid.scroll_to(x=30, animate=False)
        await pilot.pause()
        before = screen_text(table).splitlines()
        clock.advance(2)
        table.apply_quotes(quote(265598, "223.91", clock))
        await pilot.pause()
        after = screen_text(table).splitlines()

        grid.scroll_to(x=31, animate=False)  # force every line to be drawn afresh ...
        await pilot.pause()
        grid.scroll_to(x=30, animate=False)  # ... and back
        await pilot.pause()
        assert screen_text(table).splitlines() == after  # what was refreshed is what is true
        assert after != before
        assert after[0] == before[0]  # the header did not move


async def test_rows_out_of_view_are_formatted_when_they_come_into_view_and_sort_right(
    clock: Clock,
) -> None:
    app = host(clock)
    async with app.run_test(size=(120, 20)) as pilot:
        table = await sixty_by_symbol(app, pilot)
        clock.advance(2)
        table.apply_quotes(quote(60, "999.00", clock))  # S060, far below the fold
        await pilot.pause()
        assert table.grid.get_cell(f"{PAPER.account_id}:60", "last").text == "70.00"  # not yet

        table.sort_by("last", True)  # highest first: S060 must lead, at its new price
        await pilot.pause()
        assert table.visible_keys[0] == f"{PAPER.account_id}:60"
        await pilot.press("g")  # the cursor stayed on S001, now last: back to the top
        await pilot.pause()
        assert "999.00" in screen_text(table).splitlines()[1]
        await pilot.press("G")  # and down again: S010 is out of view
        await pilot.pause()

        clock.advance(2)  # S010 is out of view now; it jumps above S060
        table.apply_quotes(quote(10, "1500.00", clock))
        await pilot.pause()
        assert table.visible_keys[0] == f"{PAPER.account_id}:10"
        await pilot.press("g")
        await pilot.pause()
        first = screen_text(table).splitlines()[1]
        assert "S010" in first and "1,500.00" in first

        table.sort_by("market_value", True)  # another price column: every row caught up first
        await pilot.pause()
        assert table.visible_keys[:2] == [f"{PAPER.account_id}:10", f"{PAPER.account_id}:60"]


async def test_a_positions_refresh_redraws_only_what_is_in_view(clock: Clock) -> None:
    app = host(clock)
    async with app.run_test(size=(120, 20)) as pilot:
        table = await sixty_by_symbol(app, pilot)
        clock.advance(2)
        refreshed = many(60)
        refreshed[59] = position(60, "S060", "7", "70.00", "9")  # a fill far below the fold
        refreshed[0] = position(1, "S001", "3", "11.00", "9")  # and one in view
        table.set_positions(refreshed)
        await pilot.pause()
        assert "S001                              STK              3" in screen_text(table)
        assert {key for key, _ in table.flashing} == {f"{PAPER.account_id}:1"}  # only in view

        await pilot.press("G")
        await pilot.pause()
        assert "S060                              STK              7" in screen_text(table)
