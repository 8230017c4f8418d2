"""Injectable clocks: everything time-based in the simulator reads one of these.

``now()`` is epoch seconds (float, UTC). Tests use :class:`ManualClock` and move time with
:meth:`ManualClock.advance`; the demo uses :class:`SystemClock`, or :class:`ShiftedClock` to replay
market hours at any time of day.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "ShiftedClock", "SystemClock", "epoch"]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: float | datetime) -> None:
        self._t = epoch(start)

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (must not be negative); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._t += seconds
        return self._t

    def set(self, when: float | datetime) -> None:
        """Jump to ``when`` (forward only)."""
        t = epoch(when)
        if t < self._t:
            raise ValueError("a clock does not go backwards")
        self._t = t

    def __repr__(self) -> str:
        return f"ManualClock({self._t!r})"


class ShiftedClock:
    """Another clock plus a fixed offset in seconds (e.g. the demo replaying US hours at night)."""

    def __init__(self, base: Clock, offset: float) -> None:
        self.base = base
        self.offset = offset

    def now(self) -> float:
        return self.base.now() + self.offset

    def __repr__(self) -> str:
        return f"ShiftedClock({self.base!r}, {self.offset!r})"


def epoch(when: float | datetime) -> float:
    """Epoch seconds from a number or an aware datetime (naive datetimes are rejected)."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError("naive datetime: give a timezone")
        return when.timestamp()
    return float(when)
