"""Pure pieces of the console: formatting, view-model arithmetic, tick coalescing, the QR code."""

from __future__ import annotations

from decimal import Decimal, localcontext

import segno
from hypothesis import given
from hypothesis import strategies as st

from ibtui.tui.format import fmt_age, fmt_duration, fmt_money, fmt_pct, fmt_price, fmt_quantity
from ibtui.tui.messages import PositionsUpdated, QuotesUpdated
from ibtui.tui.viewmodels import PositionView, QuoteView, Tally, merge_position
from ibtui.tui.widgets.qr import qr_lines, qr_text
from tests.tui.conftest import T0, position

D = Decimal


def test_money_has_separators_and_signs() -> None:
    assert fmt_money(D("1234567.891")) == "1,234,567.89"
    assert fmt_money(D("-1234.5"), signed=True) == "-1,234.50"
    assert fmt_money(D("12.5"), signed=True) == "+12.50"
    assert fmt_money(D("-0.001"), signed=True) == "0.00"  # never -0.00 or +0.00
    assert fmt_money(None) == "—"


def test_prices_quantities_percentages() -> None:
    assert fmt_price(D("185.17599485")) == "185.18"
    assert fmt_price(D("1.08345")) == "1.0834"
    assert fmt_price(D("0.0123456")) == "0.012346"
    assert fmt_price(D("12.5")) == "12.50"
    assert fmt_price(D("64123.5")) == "64,123.50"
    assert fmt_price(D("1.2"), 5) == "1.20000"
    assert fmt_quantity(D("-1200")) == "-1,200"
    assert fmt_quantity(D("0.50")) == "0.5"
    assert fmt_quantity(D("1234.56789")) == "1,234.5679"
    assert fmt_pct(D("1.254")) == "+1.25%"
    assert fmt_pct(D("-0.4")) == "-0.40%"


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12),
    st.integers(min_value=0, max_value=12),
    st.booleans(),
)
def test_money_is_rounded_half_even_and_grouped(
    value: Decimal, decimals: int, signed: bool
) -> None:
    """Whatever the number of decimals (the usual ones use specs made once): the value rounded
    half to even, grouped in thousands, signed if asked, and zero never signed."""
    with localcontext() as context:
        context.prec = 60
        rounded = value.quantize(Decimal(1).scaleb(-decimals), rounding="ROUND_HALF_EVEN")
    shown = fmt_money(value, signed=signed, decimals=decimals)
    if rounded.is_zero():
        assert shown == f"{abs(rounded):,.{decimals}f}"
    else:
        assert shown == f"{rounded:{'+' if signed else ''},.{decimals}f}"
    assert D(shown.replace(",", "")) == rounded


def test_a_quote_that_moves_nothing_only_stamps_the_price() -> None:
    import dataclasses

    view = position(1, "AAA", "10", "100", "90", change="1")
    still = view.with_quote(QuoteView(1, D("100.00"), view.change, updated_at=T0 + 5))
    assert still == dataclasses.replace(view, price_at=T0 + 5)
    assert still.market_value is view.market_value and still.daily_pnl is view.daily_pnl
    moved = view.with_quote(QuoteView(1, D("100"), D("2"), updated_at=T0 + 6))
    assert (moved.daily_pnl, moved.market_value, moved.price_at) == (D(20), D(1000), T0 + 6)
    halted = view.with_quote(QuoteView(1, D("100"), halted=True, updated_at=T0 + 7))
    assert halted.halted and halted.price_at == T0 + 7


def test_durations_and_ages() -> None:
    assert fmt_duration(9 * 3600 + 59 * 60 + 59) == "9h 59m"
    assert fmt_duration(245) == "4m 05s"
    assert fmt_duration(0) == "expired"
    assert fmt_age(0.4) == "0s"
    assert fmt_age(-3) == "0s"
    assert fmt_age(184) == "3m 04s"


def test_quote_reprices_a_position() -> None:
    spy = position(1, "SPY C580", "2", "12.40", "9.80", asset_class="OPT", multiplier="100")
    assert spy.market_value == D("2480.00")
    assert spy.unrealized_pnl == D("520.00")
    moved = spy.with_quote(QuoteView(1, D("13.00"), D("0.95"), D("7.88"), updated_at=T0 + 2))
    assert moved.market_value == D("2600.00")
    assert moved.unrealized_pnl == D("640.00")
    assert moved.daily_pnl == D("190.00")
    assert moved.price_at == T0 + 2
    assert moved.unrealized_pct is not None and round(moved.unrealized_pct, 2) == D("32.65")
    # a quote without a price changes nothing
    assert moved.with_quote(QuoteView(1, None, updated_at=T0 + 4)) is moved


def test_short_position_gains_when_price_falls() -> None:
    short = position(2, "MSFT", "-20", "415.10", "420.00")
    assert short.unrealized_pnl == D("98.00")
    assert short.unrealized_pct is not None and short.unrealized_pct > 0


def test_positions_refresh_keeps_a_newer_live_price() -> None:
    live = position(1, "AAPL", "100", "230", "180", price_at=T0 + 5)
    cached = position(1, "AAPL", "110", "222.91", "181", price_at=None, realized="50")
    merged = merge_position(live, cached)
    assert merged.quantity == D("110") and merged.realized_pnl == D("50")
    assert merged.last == D("230") and merged.price_at == T0 + 5
    assert merged.market_value == D("25300")
    assert merge_position(None, cached) is cached


def test_the_daily_pnl_says_whether_it_is_ibkrs_or_computed_from_the_prior_close() -> None:
    from ibtui.tui.widgets.columns import COLUMNS

    daily = next(c for c in COLUMNS if c.key == "daily_pnl")
    view = position(1, "AAA", "10", "100", "90", change="1")
    # IBKR's own for the position (its market data's 7920): shown as it is
    ibkr = view.with_quote(QuoteView(1, D("101"), D("2"), daily_pnl=D("17.50"), updated_at=T0))
    assert (ibkr.daily_pnl, ibkr.daily_estimated) == (D("17.50"), False)
    assert daily.cell(ibkr, False, None).text == "+17.50"
    # a quote without it: quantity x change since the prior close, marked
    computed = ibkr.with_quote(QuoteView(1, D("102"), D("3"), updated_at=T0 + 1))
    assert (computed.daily_pnl, computed.daily_estimated) == (D(30), True)
    assert daily.cell(computed, False, None).text == "≈+30.00"
    # IBKR's again, even at the same figure: unmarked
    again = computed.with_quote(QuoteView(1, D("102"), D("3"), daily_pnl=D(30), updated_at=T0 + 2))
    assert not again.daily_estimated and daily.cell(again, False, None).text == "+30.00"
    # a refresh of the positions keeps where the day's P&L came from
    cached = position(1, "AAA", "10", "99", "90", price_at=None)
    assert not merge_position(again, cached).daily_estimated
    assert merge_position(computed, cached).daily_estimated
    # no day's P&L at all: no mark
    assert daily.cell(position(2, "BBB", "1", "5", "4"), False, None).text == "—"


def test_totals_convert_to_base_currency() -> None:
    views = [
        position(1, "A", "10", "100", "90"),
        position(2, "B", "5", "20", "25", currency="EUR", fx="1.10"),
        position(3, "C", "1", "50", "40", currency="JPY", fx=None),
    ]
    totals = Tally("USD", {view.key: view for view in views}).totals()
    assert (totals.count, totals.unconverted) == (3, 1)
    assert totals.market_value == D("1110.00")
    assert totals.unrealized_pnl == D("72.50")


amounts = st.decimals(-(10**12), 10**12, places=6, allow_nan=False, allow_infinity=False)
rates = st.one_of(
    st.none(),
    st.just(D(1)),
    st.decimals(D("0.00001"), 1000, places=12, allow_nan=False, allow_infinity=False),
)
rows = st.builds(
    lambda conid, mv, upl, dpl, rpl, fx: PositionView(
        "DU1",
        conid,
        f"S{conid}",
        D(1),
        "EUR",
        market_value=mv,
        unrealized_pnl=upl,
        daily_pnl=dpl,
        realized_pnl=rpl,
        fx_rate=fx,
    ),
    st.integers(1, 8),
    st.one_of(st.none(), amounts),
    st.one_of(st.none(), amounts),
    st.one_of(st.none(), amounts),
    amounts,
    rates,
)


@given(steps=st.lists(st.tuples(st.sampled_from(["put", "reprice", "discard"]), rows), max_size=40))
def test_running_totals_equal_totals_summed_afresh(steps: list[tuple[str, PositionView]]) -> None:
    """Rows put, repriced, replaced and dropped in any order: the running totals are exactly the
    sums of the rows left (no rounding, no drift), in the base currency, unconverted rows
    counted; a row that is not counted (filtered out) stays out when a quote reprices it."""
    tally = Tally("USD")
    current: dict[str, PositionView] = {}
    for step, row in steps:
        key = str(row.conid)
        if step == "put":
            tally.put(key, row)
            current[key] = row
        elif step == "reprice":
            tally.reprice(key, row)
            if key in current:
                current[key] = row
        else:
            tally.discard(key)
            current.pop(key, None)
    got = tally.totals()
    converted = [row for row in current.values() if row.fx_rate is not None]
    assert (got.count, got.unconverted) == (len(current), len(current) - len(converted))
    with localcontext(prec=100):  # enough digits that this sum is exact too
        for field in ("market_value", "unrealized_pnl", "daily_pnl", "realized_pnl"):
            afresh = sum(((getattr(r, field) or 0) * (r.fx_rate or 0) for r in converted), D(0))
            assert getattr(got, field) == afresh, field


def test_queued_quote_batches_merge_newest_wins() -> None:
    older = QuotesUpdated({1: QuoteView(1, D("10")), 2: QuoteView(2, D("20"))}, received_at=1.0)
    newer = QuotesUpdated({2: QuoteView(2, D("21")), 3: QuoteView(3, D("30"))}, received_at=2.0)
    assert older.can_replace(newer)
    assert {c: q.last for c, q in newer.quotes.items()} == {1: D("10"), 2: D("21"), 3: D("30")}
    assert newer.received_at == 2.0
    assert not older.can_replace(PositionsUpdated("DU1", []))
    assert PositionsUpdated("DU1", []).can_replace(PositionsUpdated("DU1", []))
    assert not PositionsUpdated("DU1", []).can_replace(PositionsUpdated("DU2", []))


def test_qr_half_blocks_encode_the_segno_matrix() -> None:
    url = "https://www.interactivebrokers.com/authorize?oauth_token=0123456789abcdef0123"
    expected = [[bool(b) for b in row] for row in segno.make(url, error="l").matrix_iter(border=2)]
    pairs = qr_lines(url)
    assert len(pairs) == (len(expected) + 1) // 2
    rebuilt: list[list[bool]] = []
    for row in pairs:
        rebuilt.append([top for top, _ in row])
        rebuilt.append([bottom for _, bottom in row])
    assert rebuilt[: len(expected)] == expected
    # drawn: upper half (foreground) is the upper module, background the lower one
    text = qr_text(url)
    first_line = text.plain.split("\n")[0]
    assert set(first_line) == {"▀"} and len(first_line) == len(expected[0])
    assert len(expected[0]) <= 41  # fits beside the login form at 80 columns


def test_qr_colours_follow_the_modules() -> None:
    url = "http://127.0.0.1:8765/authorize?oauth_token=abc"
    pairs = qr_lines(url)
    text = qr_text(url)
    width = len(pairs[0]) + 1  # each line plus its newline
    for span in text.spans:
        row, column = divmod(span.start, width)
        top, bottom = pairs[row][column]
        style = span.style
        assert not isinstance(style, str)
        assert style.color is not None and style.bgcolor is not None
        assert (style.color.triplet.hex == "#000000") is top  # type: ignore[union-attr]
        assert (style.bgcolor.triplet.hex == "#000000") is bottom  # type: ignore[union-attr]


def test_repricing_carries_every_other_field_over() -> None:
    """A new field on the view-models cannot be dropped by a tick: every field not repriced
    comes through ``with_quote`` (and a quote's through ``received``) unchanged."""
    from dataclasses import fields

    from ibtui.tui.viewmodels import PositionView

    view = PositionView(
        account_id="U1",
        conid=7,
        symbol="SYM",
        quantity=Decimal(3),
        currency="EUR",
        description="desc",
        asset_class="FUT",
        last=Decimal(1),
        change=Decimal("0.1"),
        change_pct=Decimal("0.2"),
        market_value=Decimal(30),
        avg_cost=Decimal(2),
        unrealized_pnl=Decimal(-3),
        daily_pnl=Decimal("0.3"),
        realized_pnl=Decimal(11),
        multiplier=Decimal(10),
        fx_rate=Decimal("1.1"),
        price_at=5.0,
        price_decimals=4,
        is_close=True,
        halted=True,
        net_liquidation=Decimal(5000),
        daily_estimated=True,
    )
    defaults = PositionView("U", 1, "S", Decimal(1), "USD")
    assert all(getattr(view, f.name) != getattr(defaults, f.name) for f in fields(PositionView))
    repriced = view.with_quote(QuoteView(7, Decimal(4), Decimal(1), Decimal(5), updated_at=9.0))
    changed = {
        f.name for f in fields(PositionView) if getattr(repriced, f.name) != getattr(view, f.name)
    }
    assert changed == {
        "last",
        "change",
        "change_pct",
        "market_value",
        "unrealized_pnl",
        "daily_pnl",
        "price_at",
        "is_close",
        "halted",
    }
    assert repriced.market_value == Decimal(120) and repriced.unrealized_pnl == Decimal(60)
    assert repriced.daily_pnl == Decimal(30)

    quote = QuoteView(
        7,
        Decimal(4),
        Decimal(1),
        Decimal(5),
        updated_at=1.0,
        is_close=True,
        halted=True,
        bid=Decimal(3),
        ask=Decimal(5),
        volume=Decimal(100),
        traded_at=0.5,
    )
    stamped = quote.received(2.0)
    assert [
        f.name for f in fields(QuoteView) if getattr(stamped, f.name) != getattr(quote, f.name)
    ] == ["updated_at"]
    assert stamped.updated_at == 2.0


def test_the_fast_replace_makes_what_dataclasses_replace_makes() -> None:
    """The generated replace of the view-models (a tick's repricing) builds the same frozen
    object as ``dataclasses.replace``: equal, same hash, still frozen."""
    import dataclasses

    import pytest

    from ibtui.slots import replacer as _replacer
    from ibtui.tui.viewmodels import PositionView

    view = position(5, "SAP", "-3", "120.5", "100", currency="EUR", fx="1.08")
    fast = _replacer(PositionView, "last", "halted")(view, Decimal("121"), True)
    slow = dataclasses.replace(view, last=Decimal("121"), halted=True)
    assert fast == slow and hash(fast) == hash(slow) and type(fast) is PositionView
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.last = Decimal(1)  # type: ignore[misc]

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="__post_init__"):
        _replacer(Checked, "value")  # would skip the check
    with pytest.raises(TypeError, match="no field"):
        _replacer(PositionView, "price")


def test_the_fast_constructor_makes_what_the_class_makes() -> None:
    """Cells are made a few hundred a tick without the frozen ``__init__``: the same cell."""
    import dataclasses

    import pytest
    from rich.style import Style

    from ibtui.slots import constructor as fast_constructor
    from ibtui.tui.widgets.columns import Cell

    values = ("1,234.50", Decimal("1234.5"), False, True, Style(color="green"))
    fast, slow = fast_constructor(Cell)(*values), Cell(*values)
    assert fast == slow and hash(fast) == hash(slow) and type(fast) is Cell
    assert [getattr(fast, f.name) for f in dataclasses.fields(Cell)] == list(values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.text = ""  # type: ignore[misc]
