"""The clock, trading hours, the random walk and the market's quotes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ibtui.sim import ManualClock, SimConfig, Simulator
from ibtui.sim.hours import VENUES
from ibtui.sim.universe import Universe
from ibtui.sim.walk import Walk

from .conftest import START, HeaderAuthenticator

US = VENUES["US"]


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_manual_clock() -> None:
    c = ManualClock(START)
    assert c.now() == START.timestamp()
    assert c.advance(1.5) == START.timestamp() + 1.5
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2024, 1, 1))  # naive


def test_regular_hours_follow_new_york_time() -> None:
    # Winter (EST): 9:30 = 14:30 UTC. Summer (EDT): 9:30 = 13:30 UTC.
    assert not US.in_rth(utc(2024, 11, 4, 14, 29, 59))
    assert US.in_rth(utc(2024, 11, 4, 14, 30))
    assert US.in_rth(utc(2024, 11, 4, 20, 59, 59))
    assert not US.in_rth(utc(2024, 11, 4, 21, 0))
    assert US.in_rth(utc(2024, 7, 8, 13, 30)) and not US.in_rth(utc(2024, 7, 8, 13, 29))
    assert not US.in_rth(utc(2024, 11, 9, 16, 0))  # Saturday
    assert VENUES["XETRA"].in_rth(utc(2024, 11, 4, 8, 0))  # 9:00 Frankfurt


def test_trading_time_is_monotonic_and_invertible() -> None:
    t0 = utc(2024, 11, 1, 12, 0)  # a Friday, before the open
    prev = US.trading_time(t0)
    for minutes in range(0, 4 * 24 * 60, 7):
        tt = US.trading_time(t0 + minutes * 60)
        assert tt >= prev
        prev = tt
    t = utc(2024, 11, 4, 15, 0)
    assert US.clock_time(US.trading_time(t)) == t
    # Outside regular hours trading time stands still (the weekend included).
    assert US.trading_time(utc(2024, 11, 1, 21, 0)) == US.trading_time(utc(2024, 11, 4, 14, 0))


def test_walk_random_access_matches_grid() -> None:
    w = Walk(123)
    base = 10**9
    grid = w.grid(base, base + 512, 1)
    assert [k for k, _ in grid] == list(range(base, base + 513))
    assert all(abs(w.at(k) - v) < 1e-9 for k, v in grid[::37])
    assert w.grid(base, base + 512, 8) == [(k, v) for k, v in grid if k % 8 == 0]


def _sim(seed: int, clock: ManualClock) -> Simulator:
    return Simulator(SimConfig(seed=seed, clock=clock), authenticator=HeaderAuthenticator())


def test_same_seed_same_clock_same_quotes() -> None:
    times = [START.timestamp() + s for s in (0, 1, 2, 60, 3600, 86400)]
    a = _sim(7, ManualClock(START))
    b = _sim(7, ManualClock(START))
    qa = [a.market.quote(265598, t) for t in times]
    qb = [b.market.quote(265598, t) for t in reversed(times)][::-1]  # read in another order
    assert qa == qb
    c = _sim(8, ManualClock(START))
    assert [c.market.quote(265598, t).last for t in times] != [q.last for q in qa]


def test_quotes_move_in_hours_and_freeze_outside() -> None:
    sim = _sim(7, ManualClock(START))
    m = sim.market
    t = START.timestamp()
    lasts = {m.last(265598, t + s) for s in range(0, 600, 10)}
    assert len(lasts) > 5
    close = utc(2024, 11, 4, 21, 0)
    after = {m.quote(265598, close + s).last for s in (0, 60, 3600, 8 * 3600)}
    assert len(after) == 1
    q = m.quote(265598, close + 3600)
    assert not q.in_rth and q.traded_today
    morning = m.quote(265598, utc(2024, 11, 5, 13, 0))  # 8:00 next day
    assert not morning.traded_today and morning.last == q.last


def test_quote_invariants() -> None:
    sim = _sim(3, ManualClock(START))
    universe: Universe = sim.universe
    t = START.timestamp() + 1234
    for inst in list(universe)[:20]:
        q = sim.market.quote(inst.conid, t)
        tick = q.tick
        assert tick.bid <= tick.last <= tick.ask
        assert tick.ask - tick.bid >= Decimal("0.01")
        for price in (tick.bid, tick.ask, tick.last, q.day.open, q.day.high, q.day.low):
            assert price == price.quantize(Decimal("0.01"))
        assert q.day.low <= min(q.day.open, tick.last) <= max(q.day.open, tick.last) <= q.day.high
        assert q.day.volume > 0 and tick.bid_size % 100 == 0


def test_reference_price_holds_at_anchor() -> None:
    sim = _sim(7, ManualClock(START))
    anchor = utc(2024, 11, 4, 20, 0)
    assert sim.market.last(265598, anchor) == Decimal("222.91")
    assert sim.market.last(756733, anchor) == Decimal("569.82")


def test_universe() -> None:
    u = Universe()
    us = [i for i in u if i.is_us]
    assert len(us) >= 50
    assert {i.type for i in us} == {"ETF", "COMMON"}
    assert any(i.currency != "USD" for i in u)
    known = {"AAPL": 265598, "SPY": 756733, "MSFT": 272093, "IBM": 8314}
    assert {s: u.by_symbol(s)[0].conid for s in known} == known
    fillers = u.fillers(5000)
    assert len({f.conid for f in fillers}) == 5000 and Universe().fillers(3) == fillers[:3]


def test_the_days_high_and_low_kept_as_the_day_goes_on_match_a_fresh_reading() -> None:
    """The running high and low are extended quote by quote (a book of 5,000 positions is quoted
    every few seconds): at every moment they are what a market asked only then answers, and the
    extremes of the day's path so far."""
    times = [START.timestamp() + s for s in (0, 5, 17, 33, 600, 601, 3600, 7200, 20000)]
    kept = _sim(7, ManualClock(START)).market
    for t in times:
        fresh = _sim(7, ManualClock(START)).market
        assert kept.quote(265598, t).day == fresh.quote(265598, t).day
    day = kept.quote(265598, times[-1]).day
    assert day.low < day.high  # the day moved
