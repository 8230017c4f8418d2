"""Trading calendars and the "trading time" coordinate the market walks in.

Each venue has regular trading hours in its own time zone (US stocks 9:30-16:00 America/New_York).
Trading days are weekdays (no holiday calendar). The market only moves during regular hours, so the
simulator measures prices against *trading time*: seconds of session counted from a fixed origin,
with an overnight gap of ``GAP`` virtual seconds placed at each open (the opening jump).

For venue day index ``d`` (weekdays since ``ORIGIN``) and session length ``L``, the day occupies
trading time ``[d*D, (d+1)*D)`` with ``D = GAP + L``: ``d*D`` is the previous close, ``d*D + GAP``
the open and ``(d+1)*D`` the close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

__all__ = ["GAP", "ORIGIN", "VENUES", "Session", "Venue", "day_index", "index_day"]

ORIGIN = date(1990, 1, 1)  # a Monday
GAP = 1800  # overnight move, in virtual trading seconds, applied at the open


def day_index(d: date) -> int:
    """Weekdays from ORIGIN up to ``d`` (``d`` itself excluded); exact for weekdays."""
    weeks, rem = divmod((d - ORIGIN).days, 7)
    return weeks * 5 + min(rem, 5)


def index_day(i: int) -> date:
    weeks, rem = divmod(i, 5)
    return ORIGIN + timedelta(days=weeks * 7 + rem)


@dataclass(frozen=True)
class Session:
    """One trading day of one venue."""

    index: int
    day: date
    open: float  # epoch seconds
    close: float

    @property
    def length(self) -> float:
        return self.close - self.open


@dataclass(frozen=True)
class Venue:
    name: str
    tz: ZoneInfo
    open_time: time
    close_time: time
    # The last answer of last_opened(), with the clock times it holds for: (from, until, session).
    _opened: list[tuple[float, float, Session]] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )
    # The last answer of local_date(), likewise.
    _dates: list[tuple[float, float, date]] = field(
        default_factory=list, compare=False, hash=False, repr=False
    )

    @cached_property
    def session_seconds(self) -> int:
        o = self.open_time.hour * 3600 + self.open_time.minute * 60
        c = self.close_time.hour * 3600 + self.close_time.minute * 60
        return c - o

    @cached_property
    def day_span(self) -> int:
        """D: trading-time units per day (gap + session)."""
        return GAP + self.session_seconds

    def session(self, index: int) -> Session:
        return _session(self, index)

    def _make_session(self, index: int) -> Session:
        d = index_day(index)
        o = datetime.combine(d, self.open_time, self.tz).timestamp()
        c = datetime.combine(d, self.close_time, self.tz).timestamp()
        return Session(index, d, o, c)

    def local_date(self, t: float) -> date:
        held = self._dates
        if held and held[0][0] <= t < held[0][1]:
            return held[0][2]
        d = datetime.fromtimestamp(t, self.tz).date()
        midnight = datetime.combine(d, time(0), self.tz).timestamp()
        next_midnight = datetime.combine(d + timedelta(days=1), time(0), self.tz).timestamp()
        if midnight <= t < next_midnight:
            held[:] = [(midnight, next_midnight, d)]  # the same date until the next midnight
        return d

    def last_opened(self, t: float) -> Session:
        """The latest session whose open is at or before ``t`` (today's once open, else the
        prior one)."""
        held = self._opened
        if held and held[0][0] <= t < held[0][1]:
            return held[0][2]
        s = self._last_opened(t)
        held[:] = [(s.open, self.session(s.index + 1).open, s)]  # the answer until the next open
        return s

    def _last_opened(self, t: float) -> Session:
        d = self.local_date(t)
        i = day_index(d)
        if d.weekday() >= 5:
            return self.session(i - 1)
        s = self.session(i)
        return s if t >= s.open else self.session(i - 1)

    def next_open(self, t: float) -> Session:
        """The first session whose open is strictly after ``t``."""
        s = self.last_opened(t)
        return self.session(s.index + 1)

    def in_rth(self, t: float) -> bool:
        s = self.last_opened(t)
        return s.open <= t < s.close

    def trading_time(self, t: float) -> float:
        """Continuous trading time at clock time ``t`` (constant outside regular hours)."""
        s = self.last_opened(t)
        base = s.index * self.day_span
        if t >= s.close:
            return base + self.day_span
        return base + GAP + (t - s.open)

    def clock_time(self, tt: float) -> float:
        """Earliest clock time at which trading time reaches ``tt``."""
        span = self.day_span
        index = int(tt // span)
        offset = tt - index * span
        if offset == 0:  # a previous close: reached at the prior session's close
            return self.session(index - 1).close
        s = self.session(index)
        return s.open + max(0.0, offset - GAP)


@lru_cache(maxsize=65536)
def _session(venue: Venue, index: int) -> Session:
    return venue._make_session(index)


US = Venue("US", ZoneInfo("America/New_York"), time(9, 30), time(16, 0))
XETRA = Venue("XETRA", ZoneInfo("Europe/Berlin"), time(9, 0), time(17, 30))
AEB = Venue("AEB", ZoneInfo("Europe/Amsterdam"), time(9, 0), time(17, 30))
VENUES = {v.name: v for v in (US, XETRA, AEB)}
