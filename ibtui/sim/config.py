"""Simulator settings (one frozen dataclass; every knob a test may turn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ibtui.sim.clock import Clock, SystemClock

__all__ = ["SimConfig"]


def _default_fx() -> dict[str, Decimal]:
    # USD value of one unit of each currency (fixed rates; the simulator has no FX market).
    return {"USD": Decimal("1"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27")}


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    clock: Clock = field(default_factory=SystemClock)

    # Pacing (API.md §11): global requests per second per client IP, the per-endpoint table,
    # and the penalty box a violating IP is put in (0 = reject only the violating request).
    pacing_enabled: bool = True
    global_rate_limit: int = 10
    per_endpoint_limits: bool = True
    penalty_box_seconds: float = 600.0
    history_concurrency: int = 5

    # Portfolio: positions per account (None = the hand-made starting portfolio; up to 5,000).
    portfolio_size: int | None = None
    positions_cache_ttl: float = 60.0  # positions served from cache until invalidated or this old

    # Sessions and OAuth.
    lst_lifetime_seconds: float = 86400.0  # read by the OAuth server
    bridge_warmup_seconds: float = 0.0  # "no bridge" for this long right after ssodh/init
    session_idle_timeout: float | None = None  # brokerage session dies after this much silence
    require_portfolio_accounts_first: bool = False  # /portfolio/* before /portfolio/accounts → 400

    # Orders.
    reply_id_lifetime: float = 60.0
    cancel_lag_seconds: float = 1.0
    price_constraint_pct: Decimal = Decimal("3")  # o163 when a limit is further than this from last
    order_value_limit_usd: Decimal = Decimal("250000")  # o451 above this notional
    stop_order_question: bool = True  # o10331 for STP / STOP_LIMIT
    order_id_start: int = 1487203300

    # The WebSocket (/v1/api/ws): how often it looks for changes to push, its heartbeat, the
    # P&L's pace, and how long a market-data subscription lasts unless it is sent again.
    stream_push_seconds: float = 0.25
    stream_heartbeat_seconds: float = 10.0
    stream_pnl_seconds: float = 1.0
    stream_expiry_seconds: float = 900.0

    # Market data.
    delayed_market_data: bool = False  # "DpB" and 15-minute-old values
    fx_usd_per_unit: dict[str, Decimal] = field(default_factory=_default_fx)

    # Demo identity.
    username: str = "jqtrader1"
    user_id: int = 87654321

    def __post_init__(self) -> None:
        if self.portfolio_size is not None and not 0 <= self.portfolio_size <= 5000:
            raise ValueError("portfolio_size must be between 0 and 5000")
        if self.global_rate_limit < 1:
            raise ValueError("global_rate_limit must be at least 1")
