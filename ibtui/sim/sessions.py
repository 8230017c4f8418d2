"""Per-access-token state: the outer session (tickle id) and the brokerage ("iserver") session."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ibtui.sim.replies import ReplyBook

__all__ = ["Brokerage", "Session", "Sessions"]


@dataclass
class Brokerage:
    """What one ``ssodh/init`` opens; a new init (or a reset) starts from scratch."""

    since: float
    replies: ReplyBook
    accounts_queried: bool = False
    md_fields: dict[int, set[str]] = field(default_factory=dict)  # live snapshot streams
    md_ever: set[int] = field(default_factory=set)  # conids with market data this session
    server_ids: dict[int, str] = field(default_factory=dict)
    pnl_primed: bool = False
    orders_primed: bool = False
    suppressed: set[str] = field(default_factory=set)
    no_bridge_left: int = 0  # the "nobridge" fault: /iserver requests still refused after init


@dataclass
class Session:
    access_token: str
    tickle_id: str
    last_seen: float
    selected_account: str
    brokerage: Brokerage | None = None
    competing: bool = False
    portfolio_accounts_queried: bool = False
    positions_cache: dict[str, tuple[float, list[dict[str, Any]]]] = field(default_factory=dict)
    positions_sorted: dict[
        str, tuple[list[dict[str, Any]], tuple[str, str], list[dict[str, Any]]]
    ] = field(default_factory=dict)

    def warming_up(self, route: str) -> bool:
        """The "nobridge" fault: a new brokerage session refuses the first few /iserver requests
        ("no bridge"); ``auth/status`` counts among them but answers, unauthenticated."""
        b = self.brokerage
        if (
            b is None
            or b.no_bridge_left <= 0
            or not route.startswith("/iserver/")
            or route == "/iserver/auth/ssodh/init"
        ):
            return False
        b.no_bridge_left -= 1
        return route != "/iserver/auth/status"

    def usable(self, now: float, warmup: float) -> bool:
        """Is the brokerage session ready for /iserver/* calls?"""
        b = self.brokerage
        return b is not None and not self.competing and now >= b.since + warmup


class Sessions:
    def __init__(self, seed: int, default_account: str, idle_timeout: float | None) -> None:
        self._rng = random.Random(f"sessions-{seed}")  # noqa: S311 (ids, not secrets)
        self._default_account = default_account
        self._idle_timeout = idle_timeout
        self._by_token: dict[str, Session] = {}

    def touch(self, access_token: str, now: float) -> Session:
        """The session of this access token (created on first use); records activity."""
        s = self._by_token.get(access_token)
        if s is None:
            s = Session(access_token, self._new_id(), now, self._default_account)
            self._by_token[access_token] = s
        elif (
            self._idle_timeout is not None
            and s.brokerage is not None
            and now - s.last_seen > self._idle_timeout
        ):
            s.brokerage = None
        s.last_seen = now
        return s

    def get(self, access_token: str) -> Session | None:
        return self._by_token.get(access_token)

    def all(self) -> list[Session]:
        return list(self._by_token.values())

    def open_brokerage(self, session: Session, now: float) -> Brokerage:
        session.brokerage = Brokerage(since=now, replies=ReplyBook(self._rng))
        session.competing = False
        return session.brokerage

    def end(self, access_token: str) -> None:
        """Logout: forget everything about this token."""
        self._by_token.pop(access_token, None)

    def nightly_reset(self) -> None:
        """The nightly /iserver restart: brokerage sessions drop and tickle ids change."""
        for s in self._by_token.values():
            s.brokerage = None
            s.tickle_id = self._new_id()

    def kill_brokerage(self) -> None:
        for s in self._by_token.values():
            s.brokerage = None

    def competing_login(self) -> None:
        """Another platform logged in with the same username and took the brokerage session."""
        for s in self._by_token.values():
            if s.brokerage is not None:
                s.competing = True

    def _new_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"
