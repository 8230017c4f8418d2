"""Fixtures for simulator tests: a ManualClock on a Monday morning (New York), a test-only
authenticator that trusts an ``X-Test-Token`` header, and an httpx client bound in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from ibtui.sim import AuthContext, ManualClock, SimConfig, Simulator, create_app

# Monday 2024-11-04 10:00 America/New_York (regular trading hours).
START = datetime(2024, 11, 4, 15, 0, tzinfo=UTC)
TOKENS = ("tok-a", "tok-b")


class HeaderAuthenticator:
    """Test double for the OAuth server: the access token is the ``X-Test-Token`` header."""

    def __init__(self, tokens: tuple[str, ...] = TOKENS) -> None:
        self.valid = set(tokens)
        self.revoked: set[str] = set()
        self.expired: set[str] = set()

    def routes(self) -> list[BaseRoute]:
        return []

    async def authenticate(self, request: Request) -> AuthContext | Response:
        token = request.headers.get("x-test-token", "")
        if token not in self.valid or token in self.revoked:
            return PlainTextResponse("invalid token", status_code=401)
        if token in self.expired:
            return PlainTextResponse("live session token expired", status_code=401)
        return AuthContext("TESTCONS", token)

    def stream_context(self, access_token: str) -> AuthContext | None:
        if access_token not in self.valid or access_token in self.revoked | self.expired:
            return None
        return AuthContext("TESTCONS", access_token)

    def revoke(self, access_token: str) -> None:
        self.revoked.add(access_token)

    def expire_all_lsts(self) -> None:
        self.expired = set(self.valid)

    def renew(self, access_token: str) -> None:
        """What a new LST handshake would do."""
        self.expired.discard(access_token)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_sim(clock: ManualClock) -> Callable[..., Simulator]:
    def make(**overrides: Any) -> Simulator:
        cfg: dict[str, Any] = {"seed": 7, "clock": clock, "pacing_enabled": False}
        cfg.update(overrides)
        return Simulator(SimConfig(**cfg), authenticator=HeaderAuthenticator())

    return make


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim()


def client_for(sim: Simulator, token: str = "tok-a") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(sim)),
        base_url="http://sim/v1/api",
        headers={"X-Test-Token": token},
    )


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sim) as c:
        yield c


async def brokerage(client: httpx.AsyncClient) -> dict[str, Any]:
    """ssodh/init then /iserver/accounts, as a client starts up; returns the accounts body."""
    r = await client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    assert r.status_code == 200, r.text
    r = await client.get("/iserver/accounts")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def snapshot_twice(
    client: httpx.AsyncClient, conids: list[int], fields: str = "31,84,86"
) -> list[dict[str, Any]]:
    """Pre-flight then data."""
    params = {"conids": ",".join(map(str, conids)), "fields": fields}
    await client.get("/iserver/marketdata/snapshot", params=params)
    r = await client.get("/iserver/marketdata/snapshot", params=params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows
