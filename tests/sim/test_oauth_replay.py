"""The shared vectors replayed against the simulator (OAUTH.md §14): every vector header, in every
accepted variant and both realm orders, is accepted; any single-byte change of it is refused.

The server's clock is set to the vector's timestamp and the vector's tokens and LST are
installed through the test hooks. Each accepted replay uses a fresh server, because the variants
of one vector share a nonce.
"""

from __future__ import annotations

from typing import Any

import pytest

from ibtui.ibkr import oauth
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.oauth_verify import Endpoint, IncomingRequest, OAuthRejection

from .oauth_support import CREDS, VECTOR_SECRET, VECTORS, FakeClock, client_for, consumer

LST = VECTORS["lst-bitlen2048"]["derivation"]["live_session_token"]
KINDS = {
    "request_token": Endpoint.REQUEST_TOKEN,
    "access_token": Endpoint.ACCESS_TOKEN,
    "live_session_token": Endpoint.LIVE_SESSION_TOKEN,
    "api_request": Endpoint.API,
}
REPLAYABLE = [v for v in VECTORS.values() if v["kind"] in KINDS]


def realm_last(header: str) -> str:
    items = header.removeprefix("OAuth ").split(", ")
    return "OAuth " + ", ".join(sorted(items, key=lambda item: item.split("=", 1)[0]))


def server_for(vector: dict[str, Any], **kwargs: Any) -> tuple[OAuthServer, FakeClock]:
    """A server in the state the vector was signed against, its clock at the vector's time."""
    inputs = vector["inputs"]
    stamp = inputs.get("oauth_timestamp") or inputs["oauth_params"]["oauth_timestamp"]
    clock = FakeClock(float(stamp))
    key = inputs.get("consumer_key", CREDS["consumer_key"])
    server = OAuthServer(clock=clock, consumers=[consumer(key)], seed=1, **kwargs)
    server.install_access_token(key, CREDS["access_token"], VECTOR_SECRET)
    server.install_lst(CREDS["access_token"], LST, expires_at=clock() + 3600)
    if vector["kind"] == "access_token":
        params = inputs["oauth_params"]
        server.install_request_token(key, params["oauth_token"], params["oauth_verifier"])
    return server, clock


def headers_of(vector: dict[str, Any]) -> list[str]:
    output = vector.get("output") or vector["request_output"]
    headers = [output["authorization_header"], output["authorization_header_realm_last"]]
    for variant in vector.get("accepted_variants", {}).values():
        if isinstance(variant, dict):
            headers += [
                variant["authorization_header"],
                realm_last(variant["authorization_header"]),
            ]
    return headers


def incoming(vector: dict[str, Any], header: str) -> IncomingRequest:
    url = vector["inputs"]["url"]
    path_and_query = url.removeprefix("https://api.ibkr.com")
    path, _, query = path_and_query.partition("?")
    return IncomingRequest(
        method=vector["inputs"]["method"],
        path=path,
        query=query,
        authorization=header,
        origins=("https://api.ibkr.com",),
    )


def test_every_variant_is_replayed() -> None:
    with_variants = [v for v in REPLAYABLE if "accepted_variants" in v]
    assert {v["id"] for v in with_variants} == {
        "api-post-ssodh-init-query",
        "api-get-snapshot-commas",
        "api-get-history",
    }
    assert all(len(headers_of(v)) == 6 for v in with_variants)
    assert len(REPLAYABLE) == 14


@pytest.mark.parametrize("vector", REPLAYABLE, ids=lambda v: v["id"])
async def test_vector_headers_are_accepted_over_http(vector: dict[str, Any]) -> None:
    url = vector["inputs"]["url"]
    method = vector["inputs"]["method"]
    for header in headers_of(vector):
        server, _ = server_for(vector)
        async with client_for(server) as client:
            response = await client.request(method, url, headers={"Authorization": header})
        assert response.status_code == 200, (header, response.text)
        if vector["kind"] == "api_request":
            key = vector["inputs"]["consumer_key"]
            assert response.json() == {"consumer_key": key, "token": CREDS["access_token"]}


@pytest.mark.parametrize("vector", REPLAYABLE, ids=lambda v: v["id"])
def test_vector_replayed_twice_is_a_reused_nonce(vector: dict[str, Any]) -> None:
    server, _ = server_for(vector)
    header = headers_of(vector)[0]
    server.verify(incoming(vector, header), KINDS[vector["kind"]])
    if vector["kind"] == "access_token":  # the request token is spent: put a fresh one back
        params = vector["inputs"]["oauth_params"]
        key = params["oauth_consumer_key"]
        server.install_request_token(key, params["oauth_token"], params["oauth_verifier"])
    with pytest.raises(OAuthRejection, match="nonce already used"):
        server.verify(incoming(vector, headers_of(vector)[1]), KINDS[vector["kind"]])


@pytest.mark.parametrize(
    "vector", [v for v in REPLAYABLE if v["kind"] == "live_session_token"], ids=lambda v: v["id"]
)
async def test_lst_vectors_double_as_server_vectors(vector: dict[str, Any]) -> None:
    """With the vector's ``b``, the server answers exactly ``server_side.response`` (§11.8)."""
    expected = vector["server_side"]["response"]
    b = int(vector["server_side"]["dh_random_b_hex"], 16)
    server, clock = server_for(vector, dh_exponent=lambda: b)
    clock.advance(0.417)  # the vector's server answered 417 ms after the request's second
    async with client_for(server) as client:
        header = vector["request_output"]["authorization_header"]
        response = await client.post(vector["inputs"]["url"], headers={"Authorization": header})
    assert response.status_code == 200
    assert response.json() == expected
    derived = vector["derivation"]["live_session_token"]
    assert (
        server.lst_expires_at(CREDS["access_token"])
        == expected["live_session_token_expiration"] / 1000
    )
    # the LST the client derives is now the one the server checks HMAC signatures with
    api = VECTORS["api-get-portfolio-accounts"]
    params = dict(api["inputs"].items())
    signed = oauth.sign_hmac_request(
        "GET",
        api["inputs"]["url"],
        "limited_poa",
        {
            "oauth_consumer_key": params["consumer_key"],
            "oauth_nonce": "Zz9Yy8Xx7Ww6Vv5U",
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": str(int(clock())),
            "oauth_token": params["access_token"],
        },
        derived,
    )
    server.verify(incoming(api, signed.header), Endpoint.API)


def mutations(header: str) -> list[str]:
    """Every single-byte change of ``header`` (each byte with its lowest bit flipped)."""
    return [header[:i] + chr(ord(c) ^ 1) + header[i + 1 :] for i, c in enumerate(header)]


@pytest.mark.parametrize("vector", REPLAYABLE, ids=lambda v: v["id"])
def test_any_single_byte_change_is_refused(vector: dict[str, Any]) -> None:
    server, _ = server_for(vector)
    endpoint = KINDS[vector["kind"]]
    header = headers_of(vector)[0]
    reasons: set[str] = set()
    for mutated in mutations(header):
        with pytest.raises(OAuthRejection) as caught:
            server.verify(incoming(vector, mutated), endpoint)
        assert caught.value.status == 401
        reasons.add(caught.value.reason)
    assert "invalid signature" in reasons
    # and the untouched header still verifies: nothing above was refused by accident
    server.verify(incoming(vector, header), endpoint)


def test_mutations_cover_each_kind_of_reason() -> None:
    vector = VECTORS["api-get-portfolio-accounts"]
    server, _ = server_for(vector)
    reasons = set()
    for mutated in mutations(headers_of(vector)[0]):
        try:
            server.verify(incoming(vector, mutated), Endpoint.API)
        except OAuthRejection as rejection:
            reasons.add(rejection.reason.split(" for ")[0])
    assert reasons >= {
        "malformed Authorization header",
        "invalid consumer",
        "invalid realm",
        "invalid signature method",
        "timestamp out of range",
        "unknown token",
        "invalid signature",
    }
