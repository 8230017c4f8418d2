"""Each kind of alert fires once when the value crosses, and not again until it re-arms."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from ibtui.alerts.rules import AlertBook, Kind, describe, new_alert, rearm_margin


def prices(book: AlertBook, conid: int, *values: str) -> list[int]:
    """How many firings each price caused."""
    return [len(book.on_quote(conid, D(v), None)) for v in values]


@pytest.mark.parametrize(
    ("kind", "level", "path", "fires"),
    [
        # fires at the level, not again while it hovers, re-arms past the margin (0.1)
        ("above", "100", ["99", "100", "99.95", "100.2", "99.9", "100.01"], [0, 1, 0, 0, 0, 1]),
        ("below", "100", ["101", "100", "100.05", "99", "100.1", "99.99"], [0, 1, 0, 0, 0, 1]),
        # crosses: the first value sets the side; the next crossings need the margin
        (
            "crosses",
            "100",
            ["99", "100", "99.95", "100.5", "99.9", "100.05", "100.1"],
            [0, 1, 0, 0, 1, 0, 1],
        ),
        ("crosses", "100", ["101", "99.99", "100.05", "100.1"], [0, 1, 0, 1]),
    ],
)
def test_a_price_alert_fires_once_per_crossing(
    kind: Kind, level: str, path: list[str], fires: list[int]
) -> None:
    book = AlertBook([new_alert(kind, "AAPL", 1, D(level), repeat=True)])
    assert prices(book, 1, *path) == fires


def test_a_one_shot_alert_fires_once_and_is_done_until_resumed() -> None:
    alert = new_alert("above", "AAPL", 1, D("100"))
    book = AlertBook([alert])
    assert prices(book, 1, "101", "99", "101") == [1, 0, 0]
    assert book.get(alert.id).status == "fired"  # type: ignore[union-attr]
    assert book.conids() == []  # no price wanted any more
    book.set_paused(alert.id, False)  # resumed: armed again
    assert prices(book, 1, "101") == [1]


def test_a_paused_alert_does_not_fire_and_other_instruments_do_not_count() -> None:
    alert = new_alert("above", "AAPL", 1, D("100"), repeat=True)
    book = AlertBook([alert])
    assert prices(book, 2, "150") == [0]
    book.set_paused(alert.id, True)
    assert prices(book, 1, "150") == [0]
    book.set_paused(alert.id, False)
    assert prices(book, 1, "150") == [1]


def test_the_move_on_the_day_counts_either_way() -> None:
    book = AlertBook([new_alert("move_pct", "AAPL", 1, D("3"), repeat=True)])
    moves = ["1", "-3.2", "-2.995", "2.5", "3", "4"]
    assert [len(book.on_quote(1, None, D(m))) for m in moves] == [0, 1, 0, 0, 1, 0]


@pytest.mark.parametrize(
    ("level", "shown"), [("0.8", "0.80%"), ("3", "3.00%"), ("0.125", "0.125%"), ("-1.5", "-1.50%")]
)
def test_a_move_on_the_day_is_told_in_percent_as_set(level: str, shown: str) -> None:
    """A percent is not a price: below 1 it is not padded to four places (0.8000%), and a level
    set with more places keeps them."""
    alert = new_alert("move_pct", "NVDA", 1, D(level))
    assert describe(alert) == f"NVDA % move on the day {shown}"
    (firing,) = AlertBook([alert]).on_quote(1, None, D("5"))
    assert firing.text == f"NVDA moved +5.00% on the day (alert at {shown})"


@pytest.mark.parametrize(
    ("kind", "path", "fires"),
    [
        ("pnl_above", ["900", "1000", "999.5", "998", "1001"], [0, 1, 0, 0, 1]),
        ("pnl_below", ["1100", "1000", "1000.5", "1002", "999"], [0, 1, 0, 0, 1]),
    ],
)
def test_an_unrealized_pnl_alert_fires_once_per_crossing(
    kind: Kind, path: list[str], fires: list[int]
) -> None:
    book = AlertBook([new_alert(kind, "AAPL", 1, D("1000"), repeat=True)])
    assert [len(book.on_pnl(1, D(v))) for v in path] == fires
    assert book.on_quote(1, D("5000"), D("50")) == []  # prices are not P&L


def test_fill_alerts_fire_on_their_instrument_or_any() -> None:
    on_aapl = new_alert("fill", "AAPL", 1, None)
    on_any = new_alert("fill", "", None, None, repeat=True)
    book = AlertBook([on_aapl, on_any])
    first = book.on_fill(2, "MSFT", "Filled: BUY 1 MSFT")
    assert [f.alert.id for f in first] == [on_any.id]
    second = book.on_fill(1, "AAPL", "Filled: BUY 1 AAPL @ 1.00")
    assert [f.alert.id for f in second] == [on_aapl.id, on_any.id]
    assert second[0].text == "Filled: BUY 1 AAPL @ 1.00"
    assert [f.alert.id for f in book.on_fill(1, "AAPL", "again")] == [on_any.id]  # one-shot


def test_the_firing_says_what_happened() -> None:
    book = AlertBook([new_alert("crosses", "AAPL", 1, D("100"))])
    book.on_quote(1, D("99"), None)
    (firing,) = book.on_quote(1, D("100.25"), None)
    assert firing.text == "AAPL crossed 100.00 going up: last 100.25"
    assert describe(firing.alert) == "AAPL price crosses 100.00"


def test_the_margin_is_a_fraction_of_the_level_and_at_least_a_cent() -> None:
    assert rearm_margin(D("200")) == D("0.2")
    assert rearm_margin(D("0")) == D("0.01")
    assert rearm_margin(D("200"), D("1")) == D("2")


def test_an_alert_needs_an_instrument_and_a_level() -> None:
    with pytest.raises(ValueError, match="needs an instrument"):
        new_alert("above", "AAPL", 1, None)
    with pytest.raises(ValueError, match="must be a number"):
        new_alert("above", "AAPL", 1, D("NaN"))
