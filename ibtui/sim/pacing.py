"""Rate limits of API.md §11: a global limit, the per-endpoint table, the penalty box, and the
history endpoint's concurrency cap. Everything is keyed by client IP and measured on the
simulator clock; endpoints are matched on the path only (never the query string)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ibtui.sim.clock import Clock
from ibtui.sim.config import SimConfig

__all__ = ["ENDPOINT_LIMITS", "HISTORY_PATH", "Limit", "Pacer"]

HISTORY_PATH = "/iserver/marketdata/history"


@dataclass(frozen=True)
class Limit:
    methods: frozenset[str]
    path: str  # exact path, or a prefix when it ends with "/"
    count: int
    window: float  # seconds

    def matches(self, method: str, path: str) -> bool:
        if method not in self.methods:
            return False
        return path.startswith(self.path) if self.path.endswith("/") else path == self.path


_GET, _POST, _ANY = frozenset({"GET"}), frozenset({"POST"}), frozenset({"GET", "POST", "DELETE"})
_GP = frozenset({"GET", "POST"})

ENDPOINT_LIMITS: tuple[Limit, ...] = (
    Limit(_GET, "/iserver/marketdata/snapshot", 10, 1.0),
    Limit(_GET, "/iserver/scanner/params", 1, 900.0),
    Limit(_POST, "/iserver/scanner/run", 1, 1.0),
    Limit(_GET, "/iserver/account/trades", 1, 5.0),
    Limit(_GET, "/iserver/account/orders", 1, 5.0),
    Limit(_GET, "/iserver/account/pnl/partitioned", 1, 5.0),
    Limit(_GET, "/portfolio/accounts", 1, 5.0),
    Limit(_GET, "/portfolio/subaccounts", 1, 5.0),
    Limit(_POST, "/pa/performance", 1, 900.0),
    Limit(_POST, "/pa/summary", 1, 900.0),
    Limit(_POST, "/pa/transactions", 1, 900.0),
    Limit(_ANY, "/fyi/", 1, 1.0),
    Limit(_GP, "/tickle", 1, 1.0),
    Limit(_GET, "/sso/validate", 1, 60.0),
)


class Pacer:
    def __init__(self, config: SimConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.enabled = config.pacing_enabled
        self.global_limit = config.global_rate_limit
        self.penalty_seconds = config.penalty_box_seconds
        self._global: dict[str, deque[float]] = {}
        self._endpoint: dict[tuple[str, int], deque[float]] = {}
        self._boxed_until: dict[str, float] = {}
        self._history_inflight: dict[str, int] = {}
        self.rejected = 0

    def admit(self, ip: str, method: str, path: str) -> bool:
        """Record the request and say whether it may proceed (False = answer 429)."""
        if not self.enabled:
            return True
        now = self.clock.now()
        if self._boxed_until.get(ip, float("-inf")) > now:
            self.rejected += 1
            return False
        checks: list[tuple[deque[float], int, float]] = [
            (self._global.setdefault(ip, deque()), self.global_limit, 1.0)
        ]
        if self.config.per_endpoint_limits:
            for i, lim in enumerate(ENDPOINT_LIMITS):
                if lim.matches(method, path):
                    checks.append(
                        (self._endpoint.setdefault((ip, i), deque()), lim.count, lim.window)
                    )
        for log, count, window in checks:
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) >= count:
                self._violation(ip, now)
                return False
        for log, _, _ in checks:
            log.append(now)
        return True

    def _violation(self, ip: str, now: float) -> None:
        self.rejected += 1
        if self.penalty_seconds > 0:
            self._boxed_until[ip] = now + self.penalty_seconds

    def boxed(self, ip: str) -> bool:
        return self._boxed_until.get(ip, float("-inf")) > self.clock.now()

    def release_box(self, ip: str | None = None) -> None:
        if ip is None:
            self._boxed_until.clear()
        else:
            self._boxed_until.pop(ip, None)

    # -- history concurrency --------------------------------------------------------------------
    def enter_history(self, ip: str) -> bool:
        n = self._history_inflight.get(ip, 0)
        if self.enabled and n >= self.config.history_concurrency:
            self.rejected += 1
            return False
        self._history_inflight[ip] = n + 1
        return True

    def leave_history(self, ip: str) -> None:
        self._history_inflight[ip] = max(0, self._history_inflight.get(ip, 0) - 1)
