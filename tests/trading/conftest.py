"""Fixtures for the trading tests: the in-process simulator on a Monday morning (ManualClock,
fixed seed, no pacing), a connected client, and an order service journaling to a tmp dir.

Every test's journal and log file are checked on teardown: mode 0600, none of the canary secrets
(the access token, its secret, the live session token) of the test's own login, and the journal
JSON lines."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ibtui.ibkr.connect import Connection, connect
from ibtui.ibkr.models import Side
from ibtui.ibkr.pacing import Pacer
from ibtui.ibkr.session import AccessCredentials
from ibtui.logfile import setup_logging, stop_logging
from ibtui.sim import PAPER_ACCOUNT, ManualClock, SimConfig
from ibtui.sim.demo import DemoEnvironment, build_demo
from ibtui.trading.draft import MarketQuote, OrderDraft, TicketType
from ibtui.trading.journal import Journal, journal_path, read_journal
from ibtui.trading.outcomes import Question
from ibtui.trading.service import OrderService
from ibtui.trading.settings import OrderSettings

AAPL = 265598
# Monday 2024-11-04 10:00 America/New_York (regular trading hours).
START = datetime(2024, 11, 4, 15, 0, tzinfo=UTC)


@dataclass
class World:
    demo: DemoEnvironment
    clock: ManualClock
    conn: Connection
    journal: Journal
    canaries: list[str] = field(default_factory=list)

    @property
    def sim_orders(self) -> int:
        """How many orders the simulated IBKR holds (server-side truth)."""
        return len(self.demo.sim.broker.orders)

    def service(self, settings: OrderSettings | None = None, **kwargs: object) -> OrderService:
        options: dict[str, object] = {"reconcile_delays": (0.0, 0.0, 0.0), "sleep": _no_sleep}
        options.update(kwargs)
        return OrderService(
            self.conn.client,
            str(options.pop("account_id", PAPER_ACCOUNT)),
            self.journal,
            settings or OrderSettings(),
            **options,  # type: ignore[arg-type]
        )

    async def market(self, conid: int = AAPL) -> MarketQuote:
        (quote,) = await self.conn.client.snapshot([conid])
        assert quote.last is not None
        return MarketQuote(last=quote.last, bid=quote.bid, ask=quote.ask)


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
def sim_config() -> SimConfig:
    # o451 above 5,000 USD, so a modest order meets two chained questions (o163, then o451)
    return SimConfig(
        seed=3,
        clock=ManualClock(START),
        pacing_enabled=False,
        order_value_limit_usd=Decimal(5000),
    )


@pytest.fixture
async def world(sim_config: SimConfig, tmp_path: Path) -> AsyncIterator[World]:
    demo = build_demo(key_bits=1024, config=sim_config)
    assert isinstance(sim_config.clock, ManualClock)
    log_file = setup_logging(tmp_path / "state", "test")
    assert log_file is not None
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    unpaced = Pacer(global_limit=None, rules=())
    async with connect(
        demo.base_url,
        demo.consumer,
        AccessCredentials(token, secret),
        transport=demo.transport,
        pacer=unpaced,
    ) as conn:
        await conn.start()
        await conn.client.snapshot([AAPL])  # market data requested: no o354 question
        lst = conn.session.lst
        assert lst is not None
        journal = Journal(journal_path(tmp_path / "state"))
        w = World(demo, sim_config.clock, conn, journal, [token, secret, lst.value])
        try:
            yield w
        finally:
            stop_logging()
    assert stat.S_IMODE(os.stat(log_file).st_mode) == 0o600
    logged = log_file.read_text()
    assert "live session token #1 obtained" in logged
    for canary in w.canaries:
        assert canary not in logged
    if journal.path.exists():
        assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
        text = journal.path.read_text()
        for canary in w.canaries:
            assert canary not in text
        assert all(r["event"] != "unreadable" for r in read_journal(journal.path))


def limit_draft(
    market: MarketQuote, factor: str, quantity: int | str = 1, **changes: object
) -> OrderDraft:
    """A LMT BUY of AAPL at ``factor`` times the last price (rounded to the cent)."""
    assert market.last is not None
    price = (market.last * Decimal(factor)).quantize(Decimal("0.01"))
    draft = OrderDraft(
        account_id=PAPER_ACCOUNT,
        conid=AAPL,
        symbol="AAPL",
        side=Side.BUY,
        quantity=str(quantity),
        order_type=TicketType.LMT,
        limit_price=str(price),
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


class Answers:
    """An ``answer`` callback that records each question and answers ``reply``."""

    def __init__(self, reply: bool | Callable[[Question], bool] = True) -> None:
        self.asked: list[Question] = []
        self._reply = reply

    async def __call__(self, question: Question) -> bool:
        self.asked.append(question)
        return self._reply(question) if callable(self._reply) else self._reply

    @property
    def ids(self) -> list[str | None]:
        return [q.message_id for q in self.asked]
