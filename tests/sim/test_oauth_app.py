"""The OAuth server inside the whole simulator app (``create_app``), in-process: what the app
passes to ``authenticate`` is the request exactly as the client sent and signed it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ibtui.ibkr import oauth
from ibtui.sim.app import create_app
from ibtui.sim.config import SimConfig
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.simulator import Simulator

from .oauth_support import ENCRYPTION_KEY, FakeClock, Signer, make_server, reason

API = "https://api.ibkr.com/v1/api"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def oauth_server(clock: FakeClock) -> OAuthServer:
    return make_server(clock)


@pytest.fixture
def sim(oauth_server: OAuthServer) -> Simulator:
    return Simulator(SimConfig(pacing_enabled=False), authenticator=oauth_server)


@pytest.fixture
async def client(sim: Simulator) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.ibkr.com") as c:
        yield c


@pytest.fixture
async def signer(oauth_server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock) -> Signer:
    token, encrypted = oauth_server.provision_access_token("IBTUITEST")
    secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, encrypted)
    signer = Signer(clock, access_token=token, secret=secret)
    assert (await signer.live_session_token(client)).status_code == 200
    return signer


async def call(
    client: httpx.AsyncClient, signer: Signer, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    url = f"{API}/{path}"
    header = signer.hmac(method, url)
    return await client.request(method, url, headers={"Authorization": header}, **kwargs)


async def test_session_through_the_gateway(client: httpx.AsyncClient, signer: Signer) -> None:
    init = await call(client, signer, "POST", "iserver/auth/ssodh/init", json={"compete": True})
    assert init.status_code == 200 and init.json()["authenticated"] is True
    assert (await call(client, signer, "GET", "iserver/accounts")).status_code == 200
    # the trailing slash ibind sends is part of what it signed; the app routes it like /trades
    trades = await call(client, signer, "GET", "iserver/account/trades/")
    assert trades.status_code == 200
    query = await call(client, signer, "GET", "iserver/marketdata/snapshot?conids=265598&fields=31")
    assert query.status_code == 200


async def test_unsigned_and_forged_requests_never_reach_the_api(
    client: httpx.AsyncClient, signer: Signer
) -> None:
    response = await client.get(f"{API}/portfolio/accounts")
    assert response.status_code == 401 and reason(response) == "missing Authorization header"
    signer.lst = "nYcvFhg42IdVz2Im0uCojcMWyas="
    response = await call(client, signer, "GET", "portfolio/accounts")
    assert response.status_code == 401 and reason(response) == "invalid signature"


async def test_logout_revokes_the_lst(client: httpx.AsyncClient, signer: Signer) -> None:
    assert (await call(client, signer, "POST", "logout")).json() == {"status": True}
    response = await call(client, signer, "GET", "portfolio/accounts")
    assert response.status_code == 401 and reason(response) == "no live session token"
    assert (await signer.live_session_token(client)).status_code == 200
    assert (await call(client, signer, "GET", "portfolio/accounts")).status_code == 200


async def test_forced_lst_expiry_fault(
    sim: Simulator, client: httpx.AsyncClient, signer: Signer
) -> None:
    assert (await call(client, signer, "GET", "portfolio/accounts")).status_code == 200
    sim.faults.expire_lsts()
    response = await call(client, signer, "GET", "portfolio/accounts")
    assert response.status_code == 401 and reason(response) == "expired live session token"


async def test_third_party_flow_through_the_app(
    oauth_server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = Signer(clock)
    url = f"{API}/oauth/request_token"
    response = await client.post(
        url, headers={"Authorization": signer.rsa(url, oauth_callback="oob")}
    )
    token = response.json()["oauth_token"]
    page = await client.get("/authorize", params={"oauth_token": token})
    assert page.status_code == 200 and "<form" in page.text
    done = await client.post(
        "/authorize", data={"oauth_token": token, "username": "demo", "password": "demo"}
    )
    verifier = oauth_server.verifier_for(token)
    assert verifier is not None and verifier in done.text
    url = f"{API}/oauth/access_token"
    header = signer.rsa(url, oauth_token=token, oauth_verifier=verifier)
    response = await client.post(url, headers={"Authorization": header})
    assert response.status_code == 200 and response.json()["is_paper"] is True
