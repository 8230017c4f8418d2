"""The httpx.Auth signer: byte-exact headers for the vectors; on 401 the same token once more,
then one renewal and retry."""

from __future__ import annotations

import json
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from ibtui.ibkr import oauth
from ibtui.ibkr.auth import LiveSessionToken, LstSigner, request_url_for_signing

DATA = json.loads((Path(__file__).parent.parent / "data" / "oauth_vectors.json").read_text())
API_VECTORS = [v for v in DATA["vectors"] if v["kind"] == "api_request"]


class FixedTokens:
    """A token source whose renewals are counted; each renewal yields a new token."""

    def __init__(self, value: str) -> None:
        self.token = LiveSessionToken(value, expires_at=2e9)
        self.renewals = 0

    async def current_lst(self) -> LiveSessionToken:
        return self.token

    async def renew_lst(self, stale: LiveSessionToken | None) -> LiveSessionToken:
        self.renewals += 1
        self.token = LiveSessionToken("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", 2e9, self.renewals)
        return self.token


@pytest.mark.parametrize("vector", API_VECTORS, ids=[v["id"] for v in API_VECTORS])
async def test_signer_reproduces_the_vector_header(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    tokens = FixedTokens(inputs["live_session_token"])
    signer = LstSigner(
        consumer_key=inputs["consumer_key"],
        realm=inputs["realm"],
        access_token=inputs["access_token"],
        tokens=tokens,
        timestamper=lambda: inputs["oauth_timestamp"],
        nonce=lambda: inputs["oauth_nonce"],
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=signer) as http:
        body = inputs.get("json_body")
        await http.request(inputs["method"], inputs["url"], json=body)
    assert len(seen) == 1
    assert seen[0].headers["Authorization"] == vector["output"]["authorization_header"]
    assert request_url_for_signing(seen[0]) == inputs["url"]


async def test_query_built_by_httpx_params_signs_like_the_vector() -> None:
    vector = next(v for v in API_VECTORS if v["id"] == "api-get-snapshot-commas")
    inputs = vector["inputs"]
    signer = LstSigner(
        consumer_key=inputs["consumer_key"],
        realm=inputs["realm"],
        access_token=inputs["access_token"],
        tokens=FixedTokens(inputs["live_session_token"]),
        timestamper=lambda: inputs["oauth_timestamp"],
        nonce=lambda: inputs["oauth_nonce"],
    )
    headers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers["Authorization"])
        return httpx.Response(200, json=[])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=signer) as http:
        await http.get(
            "https://api.ibkr.com/v1/api/iserver/marketdata/snapshot",
            params={"conids": "265598,8314", "fields": "31,84,86"},
        )
    assert headers == [vector["output"]["authorization_header"]]


async def test_a_spurious_401_is_retried_with_the_same_token_and_no_new_exchange() -> None:
    tokens = FixedTokens("nYcvFhg42IdVz2Im0uCojcMWyas=")
    nonces = (f"nonce{i}" for i in count())
    signer = LstSigner(
        consumer_key="IBTUITEST",
        realm="limited_poa",
        access_token="t",
        tokens=tokens,
        nonce=lambda: next(nonces),
    )
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(oauth.parse_authorization_header(request.headers["Authorization"]))
        if len(seen) == 1:
            return httpx.Response(401, json={"error": "Invalid signature", "statusCode": 401})
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=signer) as http:
        response = await http.get("https://api.ibkr.com/v1/api/portfolio/accounts")
    assert response.status_code == 200
    assert tokens.renewals == 0
    assert [p["oauth_nonce"] for p in seen] == ["nonce0", "nonce1"]
    assert seen[0]["oauth_timestamp"] <= seen[1]["oauth_timestamp"]


async def test_401_twice_renews_once_and_retries_with_a_fresh_signature() -> None:
    tokens = FixedTokens("nYcvFhg42IdVz2Im0uCojcMWyas=")
    nonces = (f"nonce{i}" for i in count())
    signer = LstSigner(
        consumer_key="IBTUITEST",
        realm="limited_poa",
        access_token="51bcd62fee798d942b04",
        tokens=tokens,
        nonce=lambda: next(nonces),
    )
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = oauth.parse_authorization_header(request.headers["Authorization"])
        seen.append(params)
        return httpx.Response(401 if len(seen) <= 2 else 200, json={"ok": len(seen)})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=signer) as http:
        response = await http.get("https://api.ibkr.com/v1/api/portfolio/accounts")
    assert response.status_code == 200
    assert tokens.renewals == 1
    assert [p["oauth_nonce"] for p in seen] == ["nonce0", "nonce1", "nonce2"]
    assert len({p["oauth_signature"] for p in seen}) == 3


async def test_a_second_401_is_returned_not_looped() -> None:
    tokens = FixedTokens("nYcvFhg42IdVz2Im0uCojcMWyas=")
    signer = LstSigner(
        consumer_key="IBTUITEST", realm="limited_poa", access_token="t", tokens=tokens
    )
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401, text="invalid signature")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=signer) as http:
        response = await http.get("https://api.ibkr.com/v1/api/tickle")
    assert response.status_code == 401
    assert calls == 3 and tokens.renewals == 1


def test_repr_shows_no_token_material() -> None:
    token = LiveSessionToken("nYcvFhg42IdVz2Im0uCojcMWyas=", 1.0)
    assert "nYcvFhg42" not in repr(token)
    signer = LstSigner(
        consumer_key="IBTUITEST", realm="limited_poa", access_token="t", tokens=FixedTokens("x")
    )
    assert "nYcvFhg42" not in repr(signer)
