"""Faults a test can script: latency, 5xx, timeouts, dropped connections, lost responses, and
one-shot events (forced LST expiry, a competing login, the nightly reset).

The order path's misbehaviour has names too (:data:`ORDER_KINDS`): ``reply503`` (IBKR's rule
that any other request between an order's question and its reply withdraws the question: the
reply then answers 503 and nothing is placed), ``post429carried`` and ``post5xxcarried`` (the
order POST is carried out, then answered 429 or 500: the order works, the client hears a failure).

Rules match a path prefix (default: the whole API) and optionally a set of methods; ``count``
limits how many requests a rule hits (None = until removed) and ``rate`` is the probability it
hits a matching request (seeded RNG, so runs repeat).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ORDER_KINDS", "Action", "FaultRule", "Faults"]

API = "/v1/api/"

# The order path's misbehaviour, by name: (what it does, the rule's defaults).
ORDER_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "reply503": (
        "a request between an order's question and its reply withdraws the question: the reply "
        "answers 503 and nothing is placed",
        {},
    ),
    "post429carried": (
        "an order POST (place, modify, reply) is carried out, then answered 429",
        {"count": 1, "status": 429},
    ),
    "post5xxcarried": (
        "an order POST (place, modify, reply) is carried out, then answered `status` (500)",
        {"count": 1, "status": 500},
    ),
}
# What post429carried / post5xxcarried hit: placements, modifications and replies (not what-if).
_ORDER_POST = re.compile(
    r"/v1/api/iserver/(account/[^/]+/orders|account/[^/]+/order/[^/]+|reply/[^/]+)/?$"
)


@dataclass
class FaultRule:
    kind: str  # "latency" | "error" | "timeout" | "drop" | "drop_response"
    path_prefix: str = API
    methods: frozenset[str] | None = None
    count: int | None = None
    rate: float = 1.0
    seconds: float = 0.0
    jitter: float = 0.0
    status: int = 500
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return path.startswith(self.path_prefix)


@dataclass(frozen=True)
class Action:
    """What the app must do to one request before (and after) handling it."""

    delay: float = 0.0
    error: int | None = None  # answer with this status instead of handling
    hang: float = 0.0  # sleep this long, then answer 503
    drop: bool = False  # break the connection without an answer
    drop_response: bool = False  # handle the request, then break the connection


class Faults:
    def __init__(
        self,
        seed: int,
        *,
        expire_lsts: Callable[[], None],
        competing_login: Callable[[], None],
        nightly_reset: Callable[[], None],
    ) -> None:
        self._rng = random.Random(f"faults-{seed}")  # noqa: S311 (simulation)
        self.rules: list[FaultRule] = []
        self._expire_lsts = expire_lsts
        self._competing_login = competing_login
        self._nightly_reset = nightly_reset
        self.order_rules: list[FaultRule] = []  # ORDER_KINDS' rules, asked by the order path

    # -- scripting ------------------------------------------------------------------------------
    def add(self, rule: FaultRule) -> FaultRule:
        if rule.kind in ORDER_KINDS:
            self.order_rules.append(rule)
        else:
            self.rules.append(rule)
        return rule

    def latency(
        self, seconds: float, jitter: float = 0.0, *, path: str = API, count: int | None = None
    ) -> FaultRule:
        """Delay matching requests by ``seconds`` plus up to ``jitter`` more (real time)."""
        return self.add(FaultRule("latency", path, seconds=seconds, jitter=jitter, count=count))

    def errors(
        self,
        status: int = 500,
        rate: float = 1.0,
        *,
        path: str = API,
        count: int | None = None,
        methods: set[str] | None = None,
    ) -> FaultRule:
        """Answer ``status`` (500 or 503) to a fraction ``rate`` of matching requests."""
        if status not in (500, 503):
            raise ValueError("error faults answer 500 or 503")
        return self.add(
            FaultRule("error", path, _methods(methods), count, rate=rate, status=status)
        )

    def timeouts(
        self, hang_seconds: float, *, path: str = API, count: int | None = None, rate: float = 1.0
    ) -> FaultRule:
        """Hang for ``hang_seconds`` (longer than the client's timeout), then answer 503."""
        return self.add(FaultRule("timeout", path, None, count, rate=rate, seconds=hang_seconds))

    def drop_connections(
        self, *, path: str = API, count: int | None = None, rate: float = 1.0
    ) -> FaultRule:
        """Break the connection before the request is handled."""
        return self.add(FaultRule("drop", path, None, count, rate=rate))

    def drop_responses(
        self,
        *,
        path: str = "/v1/api/iserver/account/",
        methods: set[str] | None = None,
        count: int | None = None,
    ) -> FaultRule:
        """Handle the request (e.g. the order IS placed), then break the connection."""
        return self.add(FaultRule("drop_response", path, _methods(methods or {"POST"}), count))

    def reply503(self, *, count: int | None = None) -> FaultRule:
        """IBKR's rule for order questions: any other request of the session between a question
        and its reply withdraws the question; the reply then answers 503 and nothing is placed."""
        return self.add(FaultRule("reply503", count=count))

    def post_carried(
        self, status: int = 500, *, path: str = API, count: int | None = 1
    ) -> FaultRule:
        """Carry out the next order POST (placement, modification or reply; ``path`` narrows
        it), then answer ``status`` (429, 500 or 503) instead of its answer."""
        if status not in (429, 500, 503):
            raise ValueError("a carried-out order POST is answered 429, 500 or 503")
        kind = "post429carried" if status == 429 else "post5xxcarried"
        return self.add(FaultRule(kind, path, count=count, status=status))

    def remove(self, rule: FaultRule) -> None:
        self.rules = [r for r in self.rules if r is not rule]
        self.order_rules = [r for r in self.order_rules if r is not rule]

    def clear(self) -> None:
        self.rules.clear()
        self.order_rules.clear()

    # -- one-shot events ------------------------------------------------------------------------
    def expire_lsts(self) -> None:
        """Every live session token expires now (and brokerage sessions with them)."""
        self._expire_lsts()

    def competing_login(self) -> None:
        """Another platform logs in with the same username and takes the brokerage session."""
        self._competing_login()

    def nightly_reset(self) -> None:
        """The nightly /iserver restart: brokerage sessions drop, tickle session ids change."""
        self._nightly_reset()

    # -- used by the app ------------------------------------------------------------------------
    def plan(self, method: str, path: str) -> Action:
        delay = 0.0
        outcome: FaultRule | None = None
        drop_response = False
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if rule.kind == "latency":
                rule.hits += 1
                delay += rule.seconds + (self._rng.uniform(0, rule.jitter) if rule.jitter else 0)
            elif rule.kind == "drop_response":
                if not drop_response:
                    rule.hits += 1
                    drop_response = True
            elif outcome is None and self._rng.random() < rule.rate:
                rule.hits += 1
                outcome = rule
        if outcome is None:
            return Action(delay=delay, drop_response=drop_response)
        if outcome.kind == "error":
            return Action(delay=delay, error=outcome.status)
        if outcome.kind == "timeout":
            return Action(delay=delay, hang=outcome.seconds)
        return Action(delay=delay, drop=True)

    # -- asked by the order path ------------------------------------------------------------------
    def withdraws_questions(self, method: str, path: str) -> bool:
        """Does this request withdraw the session's open order questions (``reply503``)? Every
        request but a reply does while the rule is on."""
        if path.startswith(API + "iserver/reply/"):
            return False
        for rule in self.order_rules:
            if rule.kind == "reply503" and rule.matches(method, path):
                return True
        return False

    def question_withdrawn(self) -> None:
        """A reply came for a withdrawn question (it is answered 503): counted as a hit."""
        for rule in self.order_rules:
            if rule.kind == "reply503":
                rule.hits += 1
                return

    def carried_answer(self, method: str, path: str) -> int | None:
        """The status to answer instead, after carrying out this order POST, if a
        ``post429carried`` / ``post5xxcarried`` rule hits it."""
        if method != "POST" or _ORDER_POST.match(path) is None:
            return None
        for rule in self.order_rules:
            if rule.kind == "reply503" or not rule.matches(method, path):
                continue
            if rule.rate >= 1.0 or self._rng.random() < rule.rate:
                rule.hits += 1
                return rule.status
        return None


def _methods(methods: set[str] | None) -> frozenset[str] | None:
    return frozenset(m.upper() for m in methods) if methods else None
