"""Client-side pacing and retry rules, shared by every caller of one client (API.md §11).

:class:`Pacer` keeps ibtui under IBKR's limits *before* the server has to say 429:

* a global window (default 10 requests per second), shared with the user's other ibtui
  processes through :class:`SharedPacing` when one is given;
* per-endpoint windows and concurrency caps from API.md §11.2, matched on the path only, so
  ``/iserver/account/orders?force=true`` counts against ``/iserver/account/orders``;
* after a 429, :meth:`Pacer.penalize` blocks the endpoint (or everything, for endpoints without a
  limit of their own) for ``Retry-After`` seconds, else 1 s doubling up to 30 s, until
  :meth:`Pacer.record_success`.

A window limit of N per T seconds allows at most N requests to *start* in any span of T seconds
and counts a request still in flight as just sent, so a slow answer cannot let the next request
arrive too early. The clock and sleep are injectable (tests use a fake clock). The slow
endpoints' windows and penalty boxes are shared across processes by
:class:`~ibtui.ibkr.shared_pacing.SharedPacing` (re-exported here).

:class:`RetryPolicy` says which requests may be retried: idempotent reads on 429, 5xx, timeouts and
connection errors, with capped, jittered exponential backoff. Order actions (placement, reply,
modify, cancel) are never retried: their outcome must be reported as unknown instead.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ibtui.ibkr.error_mapping import endpoint_path, is_order_action_path
from ibtui.ibkr.errors import ApiConnectionError, ApiStatusError, ApiTimeoutError, RateLimitedError
from ibtui.lazy import lazy_names

if TYPE_CHECKING:
    from ibtui.ibkr.shared_pacing import SharedPacing

__all__ = [
    "GLOBAL_KEY",
    "EndpointRule",
    "Pacer",
    "RateLimit",
    "RetryPolicy",
    "SharedPacing",
    "default_rules",
    "endpoint_path",
    "is_order_action_path",
    "is_retryable",
]

if not TYPE_CHECKING:  # re-exported; it imports this module's limits
    __getattr__ = lazy_names(__name__, {"SharedPacing": "ibtui.ibkr.shared_pacing"})

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

GLOBAL_KEY = "global"
"""Penalty key for endpoints without a limit of their own: a 429 there slows every request."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` requests per ``per`` seconds."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if self.count < 1 or not self.per > 0:
            raise ValueError("a rate limit needs count >= 1 and per > 0")


@dataclass(frozen=True, slots=True)
class EndpointRule:
    """A per-endpoint limit. ``template`` is an API path; ``{name}`` matches one segment and a
    final ``*`` any rest. ``methods`` None means every method."""

    name: str
    template: str
    limit: RateLimit | None = None
    concurrency: int | None = None
    methods: frozenset[str] | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = ""
        for part in re.split(r"(\{[^}/]+\}|\*$)", endpoint_path(self.template)):
            if part == "*":
                regex += ".*"
            elif part.startswith("{"):
                regex += "[^/]+"
            else:
                regex += re.escape(part)
        object.__setattr__(self, "pattern", re.compile(regex, re.IGNORECASE))

    def matches(self, method: str | None, path: str) -> bool:
        """Does ``path`` (already normalised by :func:`endpoint_path`) fall under this rule?"""
        if method is not None and self.methods is not None and method.upper() not in self.methods:
            return False
        return self.pattern.fullmatch(path) is not None


def default_rules(*, history_concurrency: int = 4) -> tuple[EndpointRule, ...]:
    """API.md §11.2. History allows 5 concurrent requests but IBKR throttles above 4."""
    get, post = frozenset({"GET"}), frozenset({"POST"})
    every_5s, per_second = RateLimit(1, 5.0), RateLimit(1, 1.0)
    return (
        EndpointRule("snapshot", "/iserver/marketdata/snapshot", RateLimit(10, 1.0)),
        EndpointRule("history", "/iserver/marketdata/history", concurrency=history_concurrency),
        EndpointRule("scanner-params", "/iserver/scanner/params", RateLimit(1, 900.0)),
        EndpointRule("scanner-run", "/iserver/scanner/run", per_second, methods=post),
        EndpointRule("trades", "/iserver/account/trades", every_5s, methods=get),
        EndpointRule("trades", "/iserver/trades", every_5s, methods=get),
        EndpointRule("orders", "/iserver/account/orders", every_5s, methods=get),
        EndpointRule("orders", "/iserver/orders", every_5s, methods=get),
        EndpointRule("pnl", "/iserver/account/pnl/partitioned", every_5s),
        EndpointRule("portfolio-accounts", "/portfolio/accounts", every_5s),
        EndpointRule("portfolio-subaccounts", "/portfolio/subaccounts", every_5s),
        EndpointRule("pa", "/pa/*", RateLimit(1, 900.0), methods=post),
        EndpointRule("fyi", "/fyi/*", per_second),
        EndpointRule("tickle", "/tickle", per_second),
        EndpointRule("sso-validate", "/sso/validate", RateLimit(1, 60.0)),
    )


class _Entry:
    """One request counted by a window: its start time, moved to its end time on release."""

    __slots__ = ("at", "in_flight")

    def __init__(self, at: float) -> None:
        self.at = at
        self.in_flight = True


class _Window:
    """At most ``limit.count`` requests in any ``limit.per`` seconds; FIFO among waiters."""

    def __init__(self, limit: RateLimit, clock: Clock, sleep: Sleep) -> None:
        self._limit = limit
        self._clock = clock
        self._sleep = sleep
        self._entries: list[_Entry] = []
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()

    async def acquire(self) -> _Entry:
        async with self._lock:
            while True:
                now = self._clock()
                per = self._limit.per
                self._entries = [e for e in self._entries if e.in_flight or now < e.at + per]
                if len(self._entries) < self._limit.count:
                    entry = _Entry(now)
                    self._entries.append(entry)
                    return entry
                finished = [e.at for e in self._entries if not e.in_flight]
                if finished:
                    # A request still in flight will free its place later than any finished one.
                    await self._sleep(max(0.0, min(finished) + per - now))
                else:
                    self._released.clear()
                    await self._released.wait()

    def release(self, entry: _Entry) -> None:
        entry.at = max(entry.at, self._clock())
        entry.in_flight = False
        self._released.set()


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    blocked_until: float = 0.0
    penalized_at: float = -math.inf  # when the last penalty was set (the pacer's clock)


# The global window's margin: its 10 a second are the limit every request meets, so a smaller one.
_SHARED_GLOBAL_MARGIN = 0.1  # seconds
_SHARED_GLOBAL = "all requests"  # the shared file's key for the global window


def _shared(limit: RateLimit | None) -> bool:
    """Slow endpoints (at most about two a second) are paced across processes."""
    return limit is not None and limit.per / limit.count >= 0.5


class Pacer:
    """Waits before each request as IBKR's limits require. One per client, shared by all tasks.

    Use :meth:`slot` around every request, :meth:`penalize` after a 429 and
    :meth:`record_success` after any other answer. Bind it to one event loop.
    """

    def __init__(
        self,
        *,
        global_limit: RateLimit | None = RateLimit(10, 1.0),
        rules: Sequence[EndpointRule] | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_retry_after: float = 900.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        shared: SharedPacing | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.shared = shared
        self._checked_box = False
        self._rules = tuple(default_rules() if rules is None else rules)
        self._global_limit = global_limit
        self._global = None if global_limit is None else _Window(global_limit, clock, sleep)
        self._windows: dict[str, _Window] = {}
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        for rule in self._rules:
            if rule.limit is not None and rule.name not in self._windows:
                self._windows[rule.name] = _Window(rule.limit, clock, sleep)
            if rule.concurrency is not None and rule.name not in self._semaphores:
                self._semaphores[rule.name] = asyncio.Semaphore(rule.concurrency)
        self._backoff: dict[str, _Backoff] = {}
        self._base = backoff_base
        self._cap = backoff_cap
        self._max_retry_after = max_retry_after

    def rule_for(self, method: str | None, path: str) -> EndpointRule | None:
        """The per-endpoint rule for a request, if any (query strings are ignored)."""
        normalised = endpoint_path(path)
        return next((r for r in self._rules if r.matches(method, normalised)), None)

    def rate(self, method: str | None, path: str) -> float | None:
        """Requests a second this pacer lets through to ``path`` in the long run: the slower of
        its endpoint's window and the global one (None: neither limits it)."""
        rule = self.rule_for(method, path)
        limits = [rule.limit if rule is not None else None, self._global_limit]
        rates = [limit.count / limit.per for limit in limits if limit is not None]
        return min(rates, default=None)

    def _key(self, method: str | None, path: str) -> str:
        rule = self.rule_for(method, path)
        return GLOBAL_KEY if rule is None else rule.name

    def blocked_for(self, path: str, method: str | None = None) -> float:
        """Seconds a request to ``path`` would still wait for a 429 penalty (0 if none)."""
        now = self._clock()
        until = max(
            self._state(GLOBAL_KEY).blocked_until,
            self._state(self._key(method, path)).blocked_until,
        )
        return max(0.0, until - now)

    def _state(self, key: str) -> _Backoff:
        return self._backoff.setdefault(key, _Backoff())

    async def _wait_penalty(self, key: str) -> None:
        while True:
            now = self._clock()
            until = max(self._state(GLOBAL_KEY).blocked_until, self._state(key).blocked_until)
            if until <= now:
                return
            refuse_long_wait(key, until - now)
            await self._sleep(until - now)

    @asynccontextmanager
    async def slot(self, method: str, path: str) -> AsyncIterator[None]:
        """Wait until a request may start, and count it until the block exits.

        ``async with pacer.slot("GET", "/iserver/account/orders?force=true"): ...``
        """
        rule = self.rule_for(method, path)
        key = GLOBAL_KEY if rule is None else rule.name
        await self._wait_shared_box(key, rule)
        await self._wait_penalty(key)
        taken: list[tuple[_Window, _Entry]] = []
        shared: list[tuple[str, float]] = []  # reserved in the shared file: (key, start)
        semaphore = self._semaphores.get(key)
        acquired = False
        try:
            window = self._windows.get(key)
            if window is not None:
                taken.append((window, await window.acquire()))
            if semaphore is not None:
                await semaphore.acquire()
                acquired = True
            if self._global is not None:
                taken.append((self._global, await self._global.acquire()))
            await self._wait_penalty(key)  # a 429 may have arrived while we queued
            if self.shared is not None and rule is not None and _shared(rule.limit):
                assert rule.limit is not None
                shared.append((key, await self._reserve_shared(key, rule.limit, None)))
            if self.shared is not None and self._global_limit is not None:
                # IBKR's global limit counts every process of the user (its penalty box, the
                # client's IP): the console and a command started beside it share it.
                started = await self._reserve_shared(
                    _SHARED_GLOBAL, self._global_limit, _SHARED_GLOBAL_MARGIN, what=key
                )
                shared.append((_SHARED_GLOBAL, started))
            yield
        finally:
            for window, entry in taken:
                window.release(entry)
            if self.shared is not None:
                for name, started in shared:
                    self.shared.release(name, started)
            if acquired and semaphore is not None:
                semaphore.release()

    async def _reserve_shared(
        self, key: str, limit: RateLimit, margin: float | None, *, what: str | None = None
    ) -> float:
        """Wait until the shared file has a place for ``key`` (another ibtui process may have
        taken it just now) and take it; its start, for :meth:`SharedPacing.release`."""
        assert self.shared is not None
        while True:
            wait, started = self.shared.reserve(key, limit, margin=margin)
            if wait <= 0:
                return started
            refuse_long_wait(what or key, wait)
            await self._sleep(wait)

    async def _wait_shared_box(self, key: str, rule: EndpointRule | None) -> None:
        """A penalty box another process met: checked once, and before each slow endpoint."""
        if self.shared is None or (self._checked_box and not (rule and _shared(rule.limit))):
            return
        self._checked_box = True
        wait = self.shared.boxed_for(key)
        if wait > 0:
            state = self._state(key)
            state.blocked_until = max(state.blocked_until, self._clock() + wait)

    def now(self) -> float:
        """The pacer's clock: pass it as ``sent_at`` of :meth:`penalize` when a request goes."""
        return self._clock()

    def penalize(
        self,
        path: str,
        retry_after: float | None = None,
        *,
        method: str | None = None,
        sent_at: float | None = None,
    ) -> float:
        """Back off after a 429 on ``path``; returns the seconds requests will now wait.

        ``retry_after`` (seconds, from the header) is honoured when given (capped at
        ``max_retry_after``); otherwise the wait is ``backoff_base`` doubling per consecutive
        429 up to ``backoff_cap``. Endpoints without a rule of their own penalise everything.

        A 429 for a request sent (``sent_at``, :meth:`now`) before the last penalty was set is
        the same episode: the requests in flight when the first 429 came each meet one, and
        doubling for each would hold the endpoint for many times what the server asked (a
        burst of ten in flight: 2**10 s, capped). It keeps the running penalty instead.
        """
        state = self._state(self._key(method, path))
        now = self._clock()
        if retry_after is not None and retry_after >= 0:
            delay = min(float(retry_after), self._max_retry_after)
        elif sent_at is not None and sent_at < state.penalized_at:
            return max(0.0, state.blocked_until - now)
        else:
            delay = min(self._base * 2.0 ** min(state.failures, 60), self._cap)
        state.failures += 1
        state.penalized_at = now
        state.blocked_until = max(state.blocked_until, now + delay)
        if self.shared is not None:
            self.shared.penalize(self._key(method, path), delay)
        return delay

    def record_success(self, path: str, *, method: str | None = None) -> None:
        """A non-429 answer: reset the exponential backoff (that endpoint's and the global one).

        A penalty already running is not shortened.
        """
        self._state(self._key(method, path)).failures = 0
        self._state(GLOBAL_KEY).failures = 0  # any answer but 429 shows we are not over globally


def refuse_long_wait(endpoint: str, seconds: float) -> None:
    """A command that must finish within its deadline is told at once that IBKR's wait is
    longer (``RateLimitedError``), instead of waiting it out silently."""
    from ibtui.ibkr.deadline import remaining

    left = remaining()
    if left is not None and seconds > left:
        raise RateLimitedError(
            endpoint=endpoint,
            retry_after=seconds,
            message=(
                f"IBKR asks to wait {seconds:.0f} s before more requests ({endpoint}; its "
                "penalty box after too many requests): try again then"
            ),
        )


# --------------------------------------------------------------------------------------------
# Retries

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Read-only endpoints IBKR wants as POST: repeating them changes nothing.
_READ_ONLY_POSTS = frozenset({"/tickle", "/iserver/auth/status"})


def _retryable_error(error: BaseException) -> bool:
    if getattr(error, "needs_attention", False):  # e.g. a certificate that cannot be verified
        return False
    if isinstance(error, ApiTimeoutError | ApiConnectionError | RateLimitedError):
        return True
    return isinstance(error, ApiStatusError) and error.status >= 500


@dataclass(slots=True)
class RetryPolicy:
    """When and how long to wait before repeating a failed idempotent request.

    ``max_attempts`` counts the first try. The n-th retry waits ``base_delay * 2**(n-1)`` capped at
    ``max_delay``, scaled by a random factor in ``[1 - jitter, 1]`` (``seed`` makes it
    reproducible). After a 429 the :class:`Pacer` penalty already enforces the wait, so the
    policy adds none.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")
        self._rng = random.Random(self.seed)  # noqa: S311 - jitter, not cryptography

    @staticmethod
    def is_retryable(method: str, path: str) -> bool:
        """May this request be sent again automatically? Never for order actions."""
        normalised = endpoint_path(path)
        if is_order_action_path(normalised):
            return False
        verb = method.upper()
        return verb in _SAFE_METHODS or (verb == "POST" and normalised in _READ_ONLY_POSTS)

    @staticmethod
    def is_retryable_status(status: int) -> bool:
        """429 and 5xx; never another 4xx."""
        return status == 429 or 500 <= status <= 599

    def should_retry(self, method: str, path: str, attempt: int, error: BaseException) -> bool:
        """After ``attempt`` failed tries ending in ``error``, try again?"""
        return (
            attempt < self.max_attempts
            and self.is_retryable(method, path)
            and _retryable_error(error)
        )

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait before try ``attempt + 1``."""
        if isinstance(error, RateLimitedError):
            return 0.0
        raw = min(self.base_delay * 2.0 ** min(max(attempt - 1, 0), 60), self.max_delay)
        return raw * (1.0 - self.jitter * self._rng.random())

    async def run(
        self,
        method: str,
        path: str,
        attempt_once: Callable[[], Awaitable[T]],
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> T:
        """Call ``attempt_once`` until it succeeds, the error is final or attempts run out.

        ``attempt_once`` sends the request once (inside a :meth:`Pacer.slot`) and raises an
        :class:`~ibtui.ibkr.errors.IbkrError` on failure; on a 429 it calls
        :meth:`Pacer.penalize` first, so the next try waits out the penalty. Requests that
        :meth:`is_retryable` refuses (order actions) are attempted exactly once.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except (ApiTimeoutError, ApiConnectionError, RateLimitedError, ApiStatusError) as exc:
                if not self.should_retry(method, path, attempt, exc):
                    raise
                await sleep(self.delay(attempt, exc))


def is_retryable(method: str, path: str) -> bool:
    """May this request be repeated automatically? (Same as :meth:`RetryPolicy.is_retryable`.)"""
    return RetryPolicy.is_retryable(method, path)
