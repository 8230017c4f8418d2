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

from ibtui.ibkr.pacing import GLOBAL_KEY, Clock, RateLimit

__all__ = ["SharedPacing"]

_SHARED_MARGIN = 0.5  # seconds


class SharedPacing:
    """Per-endpoint pacing shared by every ibtui process of one user and consumer: a small JSON
    file in the state folder (mode 0600, locked with ``fcntl.flock``) holding when each slow
    endpoint was last asked and any penalty box. Back-to-back commands (a cron job and a shell)
    then wait their turn instead of tripping IBKR's penalty box. Times are wall-clock seconds.
    """

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        self.path = path
        self._clock = clock

    @classmethod
    def for_user(cls, state_dir: Path, consumer_key: str, access_token: str) -> SharedPacing:
        digest = hashlib.sha256(f"{consumer_key}\0{access_token}".encode()).hexdigest()[:16]
        return cls(state_dir / "pacing" / f"{digest}.json")

    def _update(self, change: Callable[[dict[str, list[float]], float], float]) -> float:
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

    def reserve(self, key: str, limit: RateLimit) -> float:
        """Record a request to ``key`` now and return 0, or the seconds to wait first."""

        def change(data: dict[str, list[float]], now: float) -> float:
            boxed = max(data.get("box:" + key, [0.0]) + data.get("box:" + GLOBAL_KEY, [0.0]))
            if boxed > now:
                return boxed - now
            # Recorded as a request starts, but IBKR counts it as it arrives: a margin for that.
            per = limit.per + _SHARED_MARGIN
            times = [t for t in data.get(key, []) if now - per < t <= now + 1]
            if len(times) >= limit.count:
                data[key] = times
                return min(times) + per - now
            data[key] = [*times, now]
            return 0.0

        return self._update(change)

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
