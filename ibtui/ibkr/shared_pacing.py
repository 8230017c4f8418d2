"""Pacing shared by every ibtui process of one user and consumer (API.md §11).

:class:`SharedPacing` is the cross-process half of :class:`~ibtui.ibkr.pacing.Pacer`: the slow
endpoints' windows and any penalty box, kept in a small locked file so that back-to-back commands
wait their turn. The pacer asks it before each request to a slow endpoint and tells it of a 429.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ibtui.ibkr.pacing import GLOBAL_KEY, Clock, RateLimit

__all__ = ["SharedPacing"]

T = TypeVar("T")

_SHARED_MARGIN = 0.5  # seconds
_OPEN = " under way"  # the shared file's key suffix for requests not answered yet
_SHARED_OPEN = 35.0  # seconds after which a request never answered is forgotten
_SHARED_POLL = 0.05  # seconds between looks while every place is taken by requests under way


class SharedPacing:
    """Pacing shared by every ibtui process of one user and consumer: a small JSON file in the
    state folder (mode 0600, locked with ``fcntl.flock``) holding when each slow endpoint was
    last asked, the starts of the last second's requests (the global limit) and any penalty box.
    Back-to-back commands (a cron job and a shell), or a command beside the console, then wait
    their turn instead of tripping IBKR's penalty box. Times are wall-clock seconds.
    """

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock

    @classmethod
    def for_user(cls, state_dir: Path, consumer_key: str, access_token: str) -> SharedPacing:
        digest = hashlib.sha256(f"{consumer_key}\0{access_token}".encode()).hexdigest()[:16]
        return cls(state_dir / "pacing" / f"{digest}.json")

    def _update(self, change: Callable[[dict[str, list[float]], float], T]) -> T:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            data: dict[str, list[float]] = {}
            with contextlib.suppress(ValueError):
                raw = json.loads(f.read() or "{}")
                if isinstance(raw, dict):
                    data = {
                        str(k): [float(t) for t in v if isinstance(t, int | float)]
                        for k, v in raw.items()
                        if isinstance(v, list)
                    }
            result = change(data, self._clock())
            f.seek(0)
            f.truncate()
            f.write(json.dumps(data))
            return result

    def reserve(
        self, key: str, limit: RateLimit, *, margin: float | None = None
    ) -> tuple[float, float]:
        """Record a request to ``key`` as under way: ``(0, its start)``, to hand to
        :meth:`release` when it is answered; or ``(seconds to wait first, 0)``.

        As in :class:`_Window`, a request under way counts as just sent, and one answered counts
        from its answer: IBKR counts a request as it arrives, which may be much later than it
        started (a 401 asked again, a token renewed in between). ``margin`` (default
        :data:`_SHARED_MARGIN`) widens the window for the way to the server."""

        def change(data: dict[str, list[float]], now: float) -> tuple[float, float]:
            boxed = max(data.get("box:" + key, [0.0]) + data.get("box:" + GLOBAL_KEY, [0.0]))
            if boxed > now:
                return boxed - now, 0.0
            per = limit.per + (_SHARED_MARGIN if margin is None else margin)
            times = [t for t in data.get(key, []) if now - per < t <= now + 1]
            # a process that died mid-request leaves its entry: forgotten after _SHARED_OPEN
            under_way = [t for t in data.get(key + _OPEN, []) if now - _SHARED_OPEN < t <= now + 1]
            data[key], data[key + _OPEN] = times, under_way
            if len(times) + len(under_way) >= limit.count:
                return (min(times) + per - now if times else _SHARED_POLL), 0.0
            under_way.append(now)
            return 0.0, now

        return self._update(change)

    def release(self, key: str, started: float) -> None:
        """The request :meth:`reserve` recorded at ``started`` was answered: it counts from now."""

        def change(data: dict[str, list[float]], now: float) -> None:
            under_way = data.get(key + _OPEN, [])
            if started in under_way:
                under_way.remove(started)
            data[key] = [*data.get(key, []), max(now, started)]

        self._update(change)

    def penalize(self, key: str, seconds: float) -> None:
        def change(data: dict[str, list[float]], now: float) -> float:
            data["box:" + key] = [max([*data.get("box:" + key, [0.0]), now + seconds])]
            return 0.0

        self._update(change)

    def boxed_for(self, key: str) -> float:
        """Seconds any process must still wait after a 429 on ``key`` (or everywhere)."""

        def change(data: dict[str, list[float]], now: float) -> float:
            boxed = max(data.get("box:" + key, [0.0]) + data.get("box:" + GLOBAL_KEY, [0.0]))
            return max(0.0, boxed - now)

        return self._update(change)
