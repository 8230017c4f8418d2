"""Pacing with a virtual clock: limits hold, nothing sleeps for real."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ibtui.ibkr import errors as e
from ibtui.ibkr.pacing import (
    EndpointRule,
    Pacer,
    RateLimit,
    RetryPolicy,
    SharedPacing,
    is_retryable,
)

T = TypeVar("T")


class VirtualTime:
    """A clock and a sleep that only advance when every task is waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(delay, 0.0), next(self._seq), future))
        await future

    async def run(self, *coros: Awaitable[T]) -> list[T]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while not all(t.done() for t in tasks):
            for _ in range(50):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                break
            if not self._timers:
                raise AssertionError("deadlock: tasks wait but no timer is pending")
            when, _, future = heapq.heappop(self._timers)
            if future.done():  # its sleeper was cancelled
                continue
            self.now = max(self.now, when)
            future.set_result(None)
        return [t.result() for t in tasks]


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def pacer(vt: VirtualTime, **kwargs: object) -> Pacer:
    return Pacer(clock=vt.clock, sleep=vt.sleep, **kwargs)  # type: ignore[arg-type]


def request(
    p: Pacer, vt: VirtualTime, method: str, path: str, took: float = 0.0
) -> Callable[[], Awaitable[float]]:
    async def go() -> float:
        async with p.slot(method, path):
            started = vt.now
            if took:
                await vt.sleep(took)
            return started

    return go


async def test_global_limit_eleventh_request_waits_a_second(vt: VirtualTime) -> None:
    p = pacer(vt)
    starts = await vt.run(
        *(request(p, vt, "GET", f"/portfolio/DU1/position/{i}")() for i in range(21))
    )
    assert starts[:10] == [0.0] * 10
    assert starts[10:20] == [1.0] * 10
    assert starts[20] == 2.0


async def test_any_one_second_span_holds_at_most_ten(vt: VirtualTime) -> None:
    p = pacer(vt, global_limit=RateLimit(10, 1.0))
    starts = await vt.run(
        *(request(p, vt, "GET", "/iserver/secdef/search?symbol=X", took=0.3)() for _ in range(35))
    )
    for s in starts:
        assert sum(1 for t in starts if s <= t < s + 1.0) <= 10


async def test_two_processes_share_the_global_limit(vt: VirtualTime, tmp_path: Path) -> None:
    """The console and a command beside it (two pacers, one shared file): IBKR counts both
    against one limit, and boxes the IP of the user for 10 minutes when they go over it."""
    shared = SharedPacing(tmp_path / "pacing.json", clock=vt.clock)
    console, command = pacer(vt, shared=shared), pacer(vt, shared=shared)
    starts = await vt.run(
        *(request(console, vt, "GET", f"/portfolio/DU1/position/{i}")() for i in range(15)),
        *(request(command, vt, "GET", "/iserver/accounts")() for _ in range(15)),
    )
    assert max(starts) < 4.0  # each waits its turn, no longer
    for s in starts:
        assert sum(1 for t in starts if s <= t < s + 1.0) <= 10, sorted(starts)


async def test_another_process_counts_a_slow_request_from_its_answer(
    vt: VirtualTime, tmp_path: Path
) -> None:
    """IBKR counts a request as it arrives: one that takes 3 s (a 401 asked again, a token
    renewed in between) may arrive at the end. /portfolio/accounts: 1 in 5 s, across processes."""
    shared = SharedPacing(tmp_path / "pacing.json", clock=vt.clock)
    console, command = pacer(vt, shared=shared), pacer(vt, shared=shared)

    async def later() -> float:
        await vt.sleep(1.0)
        return await request(command, vt, "GET", "/portfolio/accounts")()

    first, second = await vt.run(
        request(console, vt, "GET", "/portfolio/accounts", took=3.0)(), later()
    )
    assert first == 0.0
    assert second >= 3.0 + 5.0


async def test_global_limit_configurable(vt: VirtualTime) -> None:
    p = pacer(vt, global_limit=RateLimit(2, 0.5))
    starts = await vt.run(*(request(p, vt, "GET", "/iserver/accounts")() for _ in range(5)))
    assert starts == [0.0, 0.0, 0.5, 0.5, 1.0]


async def test_per_endpoint_one_every_five_seconds_ignores_query(vt: VirtualTime) -> None:
    p = pacer(vt)
    starts = await vt.run(
        request(p, vt, "GET", "/iserver/account/orders")(),
        request(p, vt, "GET", "/iserver/account/orders?force=true")(),
        request(p, vt, "GET", "https://api.ibkr.com/v1/api/iserver/account/orders?filters=x")(),
    )
    assert starts == [0.0, 5.0, 10.0]


@pytest.mark.parametrize(
    ("path", "gap"),
    [
        ("/portfolio/accounts", 5.0),
        ("/iserver/account/pnl/partitioned", 5.0),
        ("/iserver/account/trades", 5.0),
        ("/iserver/account/trades/", 5.0),
        ("/tickle", 1.0),
        ("/sso/validate", 60.0),
    ],
)
async def test_endpoint_limits_from_api_md(vt: VirtualTime, path: str, gap: float) -> None:
    p = pacer(vt)
    starts = await vt.run(request(p, vt, "GET", path)(), request(p, vt, "GET", path)())
    assert starts == [0.0, gap]


async def test_trades_with_and_without_slash_share_a_limit(vt: VirtualTime) -> None:
    p = pacer(vt)
    starts = await vt.run(
        request(p, vt, "GET", "/iserver/account/trades")(),
        request(p, vt, "GET", "/iserver/account/trades/?days=3")(),
    )
    assert starts == [0.0, 5.0]


async def test_limited_endpoint_does_not_hold_up_others(vt: VirtualTime) -> None:
    p = pacer(vt)
    starts = await vt.run(
        request(p, vt, "GET", "/iserver/account/orders")(),
        request(p, vt, "GET", "/iserver/account/orders")(),
        request(p, vt, "GET", "/portfolio/DU1/summary")(),
    )
    assert starts == [0.0, 5.0, 0.0]


async def test_order_placement_is_not_the_orders_list(vt: VirtualTime) -> None:
    p = pacer(vt)
    assert p.rule_for("GET", "/iserver/account/orders?force=true") is not None
    assert p.rule_for("POST", "/iserver/account/DU1/orders") is None
    starts = await vt.run(
        request(p, vt, "GET", "/iserver/account/orders")(),
        request(p, vt, "POST", "/iserver/account/DU1/orders")(),
    )
    assert starts == [0.0, 0.0]


async def test_snapshot_ten_per_second(vt: VirtualTime) -> None:
    p = pacer(vt, global_limit=None)
    starts = await vt.run(
        *(request(p, vt, "GET", "/iserver/marketdata/snapshot")() for _ in range(12))
    )
    assert starts.count(0.0) == 10 and starts[10:] == [1.0, 1.0]


async def test_history_at_most_four_at_once(vt: VirtualTime) -> None:
    p = pacer(vt, global_limit=None)
    starts = await vt.run(
        *(
            request(p, vt, "GET", "/iserver/marketdata/history?conid=1", took=3.0)()
            for _ in range(9)
        )
    )
    assert starts == [0.0] * 4 + [3.0] * 4 + [6.0]


async def test_in_flight_request_counts_until_it_ends(vt: VirtualTime) -> None:
    """A slow answer must not let the next call to a 1-per-5-s endpoint arrive too early."""
    p = pacer(vt)
    starts = await vt.run(
        request(p, vt, "GET", "/portfolio/accounts", took=8.0)(),
        request(p, vt, "GET", "/portfolio/accounts")(),
    )
    assert starts == [0.0, 13.0]


async def test_penalty_backoff_grows_caps_and_resets(vt: VirtualTime) -> None:
    p = pacer(vt)
    delays = [p.penalize("/iserver/marketdata/history?conid=1") for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    p.record_success("/iserver/marketdata/history")
    assert p.penalize("/iserver/marketdata/history") == 1.0


async def test_429s_of_requests_already_in_flight_do_not_double_the_penalty(
    vt: VirtualTime,
) -> None:
    """Ten requests in flight meet a limit: each answers 429, but it is one episode. The wait
    doubles only when a request sent after the penalty is refused again (before, the ten 429s
    held everything for 30 s where the server's penalty was over in a second or two)."""
    p = pacer(vt)
    sent = p.now()
    vt.now += 0.1
    waits = [p.penalize("/iserver/accounts", sent_at=sent) for _ in range(10)]
    assert waits == [1.0] * 10  # the first sets 1 s, the others keep it
    assert p.blocked_for("/tickle") == 1.0
    vt.now += 1.0
    again = p.now()  # sent once the penalty was over, and refused too: now it doubles
    vt.now += 0.1
    assert p.penalize("/iserver/accounts", sent_at=again) == 2.0
    assert p.penalize("/iserver/accounts", sent_at=again) == pytest.approx(2.0)


async def test_penalty_blocks_that_endpoint_until_it_expires(vt: VirtualTime) -> None:
    p = pacer(vt)
    p.penalize("/iserver/marketdata/history")
    p.penalize("/iserver/marketdata/history")  # second 429 in a row: 2 s
    assert p.blocked_for("/iserver/marketdata/history") == 2.0
    starts = await vt.run(
        request(p, vt, "GET", "/iserver/marketdata/history")(),
        request(p, vt, "GET", "/iserver/marketdata/snapshot")(),
    )
    assert starts == [2.0, 0.0]


async def test_retry_after_is_honoured(vt: VirtualTime) -> None:
    p = pacer(vt)
    assert p.penalize("/iserver/marketdata/snapshot", retry_after=7.5) == 7.5
    (start,) = await vt.run(request(p, vt, "GET", "/iserver/marketdata/snapshot?conids=1")())
    assert start == 7.5


async def test_429_on_endpoint_without_limit_slows_everything(vt: VirtualTime) -> None:
    p = pacer(vt)
    p.penalize("/iserver/accounts")
    starts = await vt.run(
        request(p, vt, "GET", "/iserver/secdef/search?symbol=AAPL")(),
        request(p, vt, "GET", "/tickle")(),
    )
    assert starts == [1.0, 1.0]


async def test_penalty_arriving_while_queued_is_respected(vt: VirtualTime) -> None:
    p = pacer(vt)

    async def first() -> float:
        async with p.slot("GET", "/portfolio/accounts"):
            p.penalize("/portfolio/accounts", retry_after=20.0)
            return vt.now

    starts = await vt.run(first(), request(p, vt, "GET", "/portfolio/accounts")())
    assert starts == [0.0, 20.0]


async def test_custom_rules_with_templates(vt: VirtualTime) -> None:
    rule = EndpointRule("acct-summary", "/portfolio/{acct}/summary", RateLimit(1, 2.0))
    p = pacer(vt, rules=[rule], global_limit=None)
    assert p.rule_for(None, "/portfolio/DU1/summary") is rule
    assert p.rule_for(None, "/portfolio/DU1/ledger") is None
    starts = await vt.run(
        request(p, vt, "GET", "/portfolio/DU1/summary")(),
        request(p, vt, "GET", "/portfolio/DU2/summary")(),
    )
    assert starts == [0.0, 2.0]


async def test_cancelled_waiter_frees_its_place(vt: VirtualTime) -> None:
    p = pacer(vt)
    blocker = asyncio.ensure_future(request(p, vt, "GET", "/portfolio/accounts")())
    await vt.run(blocker)
    waiting = asyncio.ensure_future(request(p, vt, "GET", "/portfolio/accounts")())
    for _ in range(10):
        await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    (start,) = await vt.run(request(p, vt, "GET", "/portfolio/accounts")())
    assert start == 5.0


# ------------------------------------------------------------------------------ retries


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/iserver/account/orders?force=true", True),
        ("GET", "/iserver/marketdata/history", True),
        ("GET", "/iserver/account/order/status/1", True),
        ("POST", "/tickle", True),
        ("POST", "/iserver/auth/status", True),
        ("POST", "/iserver/account/DU1/orders", False),
        ("POST", "/iserver/account/DU1/orders/whatif", False),
        ("POST", "/iserver/reply/3f9c", False),
        ("POST", "/iserver/account/DU1/order/1487203311", False),
        ("DELETE", "/iserver/account/DU1/order/1487203311", False),
        ("POST", "/iserver/auth/ssodh/init", False),
        ("POST", "/logout", False),
    ],
)
def test_is_retryable(method: str, path: str, expected: bool) -> None:
    assert is_retryable(method, path) is expected
    assert RetryPolicy.is_retryable(method, path) is expected


def test_retryable_statuses() -> None:
    assert all(RetryPolicy.is_retryable_status(s) for s in (429, 500, 502, 503, 504))
    assert not any(RetryPolicy.is_retryable_status(s) for s in (400, 401, 403, 404, 410))


def test_should_retry_by_error_kind() -> None:
    policy = RetryPolicy(max_attempts=3)
    get = ("GET", "/iserver/accounts")
    assert policy.should_retry(*get, 1, e.ApiStatusError(503, "/iserver/accounts"))
    assert policy.should_retry(*get, 1, e.ApiTimeoutError("/iserver/accounts"))
    assert policy.should_retry(*get, 1, e.ApiConnectionError("/iserver/accounts", "reset"))
    assert policy.should_retry(*get, 1, e.RateLimitedError(endpoint="/iserver/accounts"))
    assert not policy.should_retry(*get, 1, e.ApiStatusError(400, "/iserver/accounts"))
    assert not policy.should_retry(*get, 1, e.NoBridgeError(400, "/iserver/accounts"))
    assert not policy.should_retry(*get, 1, e.ProtocolError("/iserver/accounts", "bad"))
    assert not policy.should_retry(*get, 3, e.ApiStatusError(503, "/iserver/accounts"))
    order = ("POST", "/iserver/account/DU1/orders")
    assert not policy.should_retry(*order, 1, e.ApiTimeoutError("/iserver/account/DU1/orders"))


def test_backoff_is_capped_jittered_and_seedable() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.25, seed=7)
    delays = [policy.delay(n) for n in range(1, 8)]
    for n, d in enumerate(delays, start=1):
        nominal = min(0.5 * 2 ** (n - 1), 4.0)
        assert nominal * 0.75 <= d <= nominal
    assert max(delays) <= 4.0
    again = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.25, seed=7)
    assert [again.delay(n) for n in range(1, 8)] == delays
    assert RetryPolicy(jitter=0.0).delay(2) == 1.0
    assert policy.delay(1, e.RateLimitedError()) == 0.0  # the pacer's penalty does the waiting


async def test_run_retries_gets_then_gives_up(vt: VirtualTime) -> None:
    policy = RetryPolicy(max_attempts=3, jitter=0.0)
    calls: list[float] = []

    async def failing() -> str:
        calls.append(vt.now)
        raise e.ApiStatusError(503, "/iserver/accounts")

    with pytest.raises(e.ApiStatusError):
        await vt.run(policy.run("GET", "/iserver/accounts", failing, sleep=vt.sleep))
    assert calls == [0.0, 0.5, 1.5]


async def test_run_succeeds_after_transient_errors(vt: VirtualTime) -> None:
    policy = RetryPolicy(max_attempts=4, jitter=0.0)
    outcomes: list[Exception | str] = [
        e.ApiTimeoutError("/x"),
        e.ApiConnectionError("/x", "r"),
        "ok",
    ]

    async def flaky() -> str:
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    (result,) = await vt.run(policy.run("GET", "/iserver/accounts", flaky, sleep=vt.sleep))
    assert result == "ok" and outcomes == []


async def test_run_never_repeats_an_order_post(vt: VirtualTime) -> None:
    policy = RetryPolicy(max_attempts=5)
    calls = 0

    async def place() -> str:
        nonlocal calls
        calls += 1
        raise e.ApiTimeoutError("/iserver/account/DU1/orders")

    with pytest.raises(e.ApiTimeoutError):
        await vt.run(policy.run("POST", "/iserver/account/DU1/orders", place, sleep=vt.sleep))
    assert calls == 1


async def test_run_does_not_retry_client_errors(vt: VirtualTime) -> None:
    policy = RetryPolicy(max_attempts=5)
    calls = 0

    async def bad_request() -> str:
        nonlocal calls
        calls += 1
        raise e.ApiStatusError(400, "/iserver/marketdata/history")

    with pytest.raises(e.ApiStatusError):
        await vt.run(policy.run("GET", "/iserver/marketdata/history", bad_request, sleep=vt.sleep))
    assert calls == 1
