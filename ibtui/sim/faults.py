"""Faults a test can script: latency, 5xx, timeouts, dropped connections, lost responses, and
one-shot events (forced LST expiry, a competing login, the nightly reset); and the real IBKR's
known misbehaviour (see :data:`KINDS`): 410 Gone and spurious 401s on valid sessions, an empty
Diffie-Hellman response, "no bridge" for a while after ``ssodh/init``, placeholder values in
snapshots, the nightly reset, answers that trickle in byte by byte, and 429 with a long
``Retry-After``.

The order path's misbehaviour has names too (:data:`ORDER_KINDS`): ``reply503`` (IBKR's rule
that any other request between an order's question and its reply withdraws the question: the
reply then answers 503 and nothing is placed), ``post429carried`` and ``post5xxcarried`` (the
order POST is carried out, then answered 429 or 500: the order works, the client hears a failure).

Rules match a path prefix (default: the whole API; a path ending in ``$`` matches that path only)
and optionally a set of methods; ``count``
limits how many requests a rule hits (None = until removed) and ``rate`` is the probability it
hits a matching request (seeded RNG, so runs repeat). ``every`` instead hits the last ``burst``
of each ``every`` matching requests (the 48th, 49th and 50th of each 50 with ``every=50,
burst=3``): a schedule that does not depend on the RNG at all.

The WebSocket's misbehaviour (:data:`STREAM_KINDS`) is asked once per frame the stream sends:
``wsdrop`` (the connection drops), ``wsstall`` (it goes silent without closing), ``wsgarbage``
(a malformed frame).

``ibtui sim --faults SPEC`` and :func:`parse_faults` take the rules as text: comma-separated
kinds, each with ``:name=value`` options, e.g. ``gone410:every=40:burst=3,nobridge:count=2``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = [
    "KINDS",
    "ORDER_KINDS",
    "PLACEHOLDERS",
    "STREAM_KINDS",
    "Action",
    "FaultRule",
    "FaultSpecError",
    "Faults",
    "parse_faults",
]

API = "/v1/api/"
LST_PATH = "/v1/api/oauth/live_session_token"
SNAPSHOT_PATH = "/v1/api/iserver/marketdata/snapshot"
PLACEHOLDERS = ("Undefined", ".", "-", "")
"""What IBKR sends in snapshot fields that have no value (besides leaving them out)."""

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
    # "latency" | "error" | "timeout" | "drop" | "drop_response", or one of KINDS' misbehaviours
    kind: str
    path_prefix: str = API
    methods: frozenset[str] | None = None
    count: int | None = None
    rate: float = 1.0
    seconds: float = 0.0
    jitter: float = 0.0
    status: int = 500
    every: int | None = None  # hit the last ``burst`` of each ``every`` matching requests
    burst: int = 1
    fields: frozenset[str] | None = None  # placeholders: the snapshot fields (None: any)
    hits: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.path_prefix.endswith("$"):  # that path only, not the paths below it
            return path == self.path_prefix[:-1]
        return path.startswith(self.path_prefix)

    def fires(self, rng: random.Random) -> bool:
        """Does this matching request get the fault? (Counts it as seen.)"""
        self.seen += 1
        if self.every is not None:
            return (self.seen - 1) % self.every >= self.every - self.burst
        return rng.random() < self.rate


# The real IBKR's misbehaviour, by the name ``--faults`` knows it: (what it does, the rule's
# defaults). "nobridge" counts /iserver requests after each ssodh/init; "reset" counts requests.
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "gone410": ("410 Gone on a valid session", {"every": 97, "burst": 2}),
    "spurious401": ('401 "Invalid signature" on a valid request', {"every": 89}),
    "emptydh": (
        "an empty diffie_hellman_response from oauth/live_session_token",
        {"path_prefix": LST_PATH, "every": 3, "burst": 1},
    ),
    "nobridge": ('"no bridge" for a few /iserver requests after each ssodh/init', {"count": 3}),
    "placeholders": (
        'snapshot fields answered "Undefined", ".", "-" or ""',
        {"path_prefix": SNAPSHOT_PATH, "rate": 0.05},
    ),
    "reset": ("the nightly reset: brokerage sessions end", {"every": 400}),
    "trickle": (
        "the answer's body arrives in pieces, `seconds` apart",
        {"every": 53, "seconds": 0.05},
    ),
    "retry_after": ("429 with a Retry-After of `seconds`", {"count": 1, "seconds": 900.0}),
}
KINDS.update(ORDER_KINDS)  # the order path's misbehaviour, by name too (--faults reply503)
# The WebSocket's misbehaviour, by name: asked once per frame the stream sends.
STREAM_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "wsdrop": ("the WebSocket connection drops (no close handshake of IBKR's)", {"every": 600}),
    "wsstall": (
        "the WebSocket goes silent, heartbeats too, without closing",
        {"every": 900, "count": 1},
    ),
    "wsgarbage": (
        "a malformed WebSocket frame (not UTF-8, cut-off JSON, not an object, no conid)",
        {"every": 40},
    ),
}
KINDS.update(STREAM_KINDS)
_SESSION_ONLY = frozenset({"gone410", "spurious401", "reset"})
_BASIC = {"latency", "error", "timeout", "drop", "drop_response"}
_OPTIONS = {
    "path": "path_prefix",
    "count": "count",
    "rate": "rate",
    "seconds": "seconds",
    "jitter": "jitter",
    "status": "status",
    "every": "every",
    "burst": "burst",
    "fields": "fields",
    "methods": "methods",
}


class FaultSpecError(ValueError):
    """A ``--faults`` specification that cannot be used; the message says which part."""


def _option(kind: str, name: str, text: str) -> tuple[str, object]:
    attr = _OPTIONS.get(name)
    if attr is None:
        raise FaultSpecError(f"{kind}: unknown option {name!r} (one of {', '.join(_OPTIONS)})")
    try:
        if attr in ("count", "every", "burst", "status"):
            value: object = int(text)
            if int(text) < (0 if attr == "count" else 1):
                raise ValueError
        elif attr in ("rate", "seconds", "jitter"):
            value = float(text)
            if not 0 <= float(value) < float("inf") or (attr == "rate" and float(value) > 1):
                raise ValueError
        elif attr in ("fields", "methods"):
            items = [part.strip() for part in text.split("+") if part.strip()]
            value = frozenset(i.upper() if attr == "methods" else i for i in items)
        else:
            value = text if text.startswith("/") else API + text
    except ValueError:
        raise FaultSpecError(f"{kind}: {name}={text!r} is not a usable value") from None
    return attr, value


def parse_faults(spec: str) -> list[FaultRule]:
    """``"gone410,nobridge:count=2,trickle:seconds=0.5:every=10"`` → rules (KINDS' defaults for
    options not given). ``all`` is every kind of :data:`KINDS` but ``retry_after``."""
    rules: list[FaultRule] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        kind, *options = item.split(":")
        kind = kind.strip().lower()
        if kind == "all" and not options:
            rules.extend(parse_faults(",".join(k for k in KINDS if k != "retry_after")))
            continue
        if kind not in KINDS and kind not in _BASIC:
            known = ", ".join([*KINDS, *sorted(_BASIC)])
            raise FaultSpecError(f"unknown fault {kind!r} (one of: {known}, or all)")
        values: dict[str, Any] = dict(KINDS[kind][1]) if kind in KINDS else {}
        given: set[str] = set()
        for option in options:
            name, sep, text = option.partition("=")
            if not sep:
                raise FaultSpecError(f"{kind}: option {option!r} is not name=value")
            attr, value = _option(kind, name.strip().lower(), text.strip())
            values[attr] = value
            given.add(attr)
        if "count" in given and "every" not in given:
            values.pop("every", None)  # a count alone: the first ``count`` requests
        if kind == "error" and values.get("status", 500) not in (500, 503):
            raise FaultSpecError("error: status must be 500 or 503")
        rules.append(FaultRule(kind, **values))
    return rules


@dataclass(frozen=True)
class Action:
    """What the app must do to one request before (and after) handling it."""

    delay: float = 0.0
    error: int | None = None  # answer with this status instead of handling
    hang: float = 0.0  # sleep this long, then answer 503
    drop: bool = False  # break the connection without an answer
    drop_response: bool = False  # handle the request, then break the connection
    empty_dh: bool = False  # answer the LST request with an empty diffie_hellman_response
    trickle: float = 0.0  # send the answer's body in pieces, this many seconds apart
    retry_after: float | None = None  # answer 429 with this Retry-After


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
        self._cells = random.Random(f"placeholders-{seed}")  # noqa: S311 (simulation)
        self.rules: list[FaultRule] = []
        self._expire_lsts = expire_lsts
        self._competing_login = competing_login
        self._nightly_reset = nightly_reset
        self.order_rules: list[FaultRule] = []  # ORDER_KINDS' rules, asked by the order path
        self.stream_rules: list[FaultRule] = []  # STREAM_KINDS' rules, asked by the WebSocket

    # -- scripting ------------------------------------------------------------------------------
    def add(self, rule: FaultRule) -> FaultRule:
        if rule.kind in ORDER_KINDS:
            self.order_rules.append(rule)
        elif rule.kind in STREAM_KINDS:
            self.stream_rules.append(rule)
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

    def add_spec(self, spec: str) -> list[FaultRule]:
        """Add the rules of a ``--faults`` specification (see :func:`parse_faults`)."""
        return [self.add(rule) for rule in parse_faults(spec)]

    def misbehave(self, kind: str, **options: Any) -> FaultRule:
        """One of :data:`KINDS`, with its defaults overridden by ``options`` (FaultRule fields);
        ``count`` alone means the first ``count`` matching requests."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        values: dict[str, Any] = dict(KINDS[kind][1])
        if "count" in options and "every" not in options:
            values.pop("every", None)
        values.update(options)
        names = {f.name for f in fields(FaultRule)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}")
        return self.add(FaultRule(kind, **values))

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
        self.stream_rules = [r for r in self.stream_rules if r is not rule]

    def clear(self) -> None:
        self.rules.clear()
        self.order_rules.clear()
        self.stream_rules.clear()

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
        trickle = 0.0
        for rule in self.rules:
            if rule.kind in ("nobridge", "placeholders") or not rule.matches(method, path):
                continue  # those two are asked by the session and snapshot routes
            if rule.kind in _SESSION_ONLY and path.startswith(API + "oauth/"):
                continue  # they happen to a signed session, not to the OAuth handshake
            if rule.kind == "latency":
                rule.hits += 1
                delay += rule.seconds + (self._rng.uniform(0, rule.jitter) if rule.jitter else 0)
            elif rule.kind == "drop_response":
                # A schedule (``every``) or a ``rate`` picks the requests; without either, each
                # matching request (up to ``count``) without a roll, as before.
                scheduled = rule.every is not None or rule.rate < 1
                if not drop_response and (not scheduled or rule.fires(self._rng)):
                    rule.hits += 1
                    drop_response = True
            elif rule.kind == "reset":
                if rule.fires(self._rng):
                    rule.hits += 1
                    self._nightly_reset()
            elif rule.kind == "trickle":
                if not trickle and rule.fires(self._rng):
                    rule.hits += 1
                    trickle = rule.seconds
            elif rule.kind == "emptydh" and not path.startswith(LST_PATH):
                continue
            elif outcome is None and rule.fires(self._rng):
                rule.hits += 1
                outcome = rule
        base = Action(delay=delay, drop_response=drop_response, trickle=trickle)
        if outcome is None:
            return base
        if outcome.kind == "error":
            return replace(base, error=outcome.status)
        if outcome.kind == "gone410":
            return replace(base, error=410)
        if outcome.kind == "spurious401":
            return replace(base, error=401)
        if outcome.kind == "emptydh":
            return replace(base, empty_dh=True)
        if outcome.kind == "retry_after":
            return replace(base, error=429, retry_after=outcome.seconds)
        if outcome.kind == "timeout":
            return replace(base, hang=outcome.seconds)
        return replace(base, drop=True)

    def bridge_warmup(self) -> int:
        """How many /iserver requests a new brokerage session answers "no bridge" (and its auth
        status unauthenticated) before it works: the "nobridge" rules' counts."""
        total = 0
        for rule in self.rules:
            if rule.kind == "nobridge":
                rule.hits += 1
                total += rule.count if rule.count is not None else 1
        return total

    def placeholders(self, rows: list[dict[str, Any]]) -> None:
        """Replace snapshot values with IBKR's placeholders, as the "placeholders" rules say
        (each value hit with the rule's ``rate``; identifiers are never touched)."""
        for rule in self.rules:
            if rule.kind != "placeholders" or (rule.count is not None and rule.hits >= rule.count):
                continue
            rule.hits += 1
            for row in rows:
                for key in list(row):
                    if not key[:1].isdigit() or key == "6509":
                        continue
                    if rule.fields is not None and key not in rule.fields:
                        continue
                    if self._cells.random() < rule.rate:
                        row[key] = PLACEHOLDERS[rule.seen % len(PLACEHOLDERS)]
                        rule.seen += 1

    # -- asked by the WebSocket ------------------------------------------------------------------
    def stream_fault(self) -> str | None:
        """What to do to the next frame the WebSocket sends: "drop", "stall", "garbage" (a
        malformed frame before it) or None, as the ``ws*`` rules say."""
        for rule in self.stream_rules:
            if rule.count is not None and rule.hits >= rule.count:
                continue
            if rule.fires(self._rng):
                rule.hits += 1
                return rule.kind.removeprefix("ws")
        return None

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
