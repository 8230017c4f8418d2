"""The simulated OAuth server driven by hand with ``ibtui.ibkr.oauth``: the three-legged flow,
first-party LSTs, and every rejection of OAUTH.md §11 with its 401 reason."""

from __future__ import annotations

import re

import httpx
import pytest

from ibtui.ibkr import oauth
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.oauth_tokens import NonceCache

from .oauth_support import (
    DH,
    ENCRYPTION_KEY,
    FakeClock,
    Signer,
    client_for,
    consumer,
    make_server,
    reason,
)

API = "https://api.ibkr.com/v1/api"
ACCOUNTS = f"{API}/portfolio/accounts"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> OAuthServer:
    return make_server(clock)


@pytest.fixture
async def client(server: OAuthServer) -> httpx.AsyncClient:
    async with client_for(server) as c:
        yield c


async def first_party(server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock) -> Signer:
    """A provisioned access token with a fresh LST."""
    token, encrypted = server.provision_access_token("IBTUITEST")
    secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, encrypted)
    signer = Signer(clock, access_token=token, secret=secret)
    response = await signer.live_session_token(client)
    assert response.status_code == 200, response.text
    return signer


async def get(client: httpx.AsyncClient, signer: Signer, url: str = ACCOUNTS) -> httpx.Response:
    return await client.get(url, headers={"Authorization": signer.hmac("GET", url)})


# --- the flows ---------------------------------------------------------------------------


async def request_token(client: httpx.AsyncClient, signer: Signer) -> str:
    url = f"{API}/oauth/request_token"
    response = await client.post(
        url, headers={"Authorization": signer.rsa(url, oauth_callback="oob")}
    )
    assert response.status_code == 200, response.text
    token = response.json()["oauth_token"]
    assert re.fullmatch(r"[0-9a-f]{20}", token)
    return str(token)


async def access_token(
    client: httpx.AsyncClient, signer: Signer, token: str, verifier: str
) -> httpx.Response:
    url = f"{API}/oauth/access_token"
    header = signer.rsa(url, oauth_token=token, oauth_verifier=verifier)
    return await client.post(url, headers={"Authorization": header})


async def log_in(client: httpx.AsyncClient, token: str, user: str, password: str) -> httpx.Response:
    form = {"oauth_token": token, "username": user, "password": password}
    return await client.post("/authorize", data=form)


async def test_three_legged_flow(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = Signer(clock)
    token = await request_token(client, signer)
    assert server.verifier_for(token) is None

    page = await client.get("/authorize", params={"oauth_token": token})
    assert page.status_code == 200
    assert "<form" in page.text and "type=password" in page.text and "IBTUITEST" in page.text
    assert "<code>demo</code>" in page.text  # the demo login is shown as a hint

    refused = await log_in(client, token, "demo", "wrong")
    assert refused.status_code == 401 and "Invalid username or password" in refused.text
    assert server.verifier_for(token) is None

    clock.advance(30)
    shown = await log_in(client, token, "demo", "demo")
    assert shown.status_code == 200
    verifier = server.verifier_for(token)
    assert verifier is not None and re.fullmatch(r"[0-9a-f]{20}", verifier)
    assert f"oauth_verifier={verifier}" in shown.text and f"oauth_token={token}" in shown.text
    link = await client.get("/authorize", params={"oauth_token": token, "oauth_verifier": verifier})
    assert verifier in link.text

    clock.advance(30)
    response = await access_token(client, signer, token, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["is_paper"] is True
    assert re.fullmatch(r"[0-9a-f]{20}", body["oauth_token"])
    assert len(body["oauth_token_secret"]) == 344 and body["oauth_token_secret"].endswith("==")

    signer.access_token = body["oauth_token"]
    signer.secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, body["oauth_token_secret"])
    lst_response = await signer.live_session_token(client)
    assert lst_response.status_code == 200
    expiry = lst_response.json()["live_session_token_expiration"]
    assert expiry == round((clock() + 86_400) * 1000)

    api = await get(client, signer)
    assert api.status_code == 200
    assert api.json() == {"consumer_key": "IBTUITEST", "token": body["oauth_token"]}
    # the authorize page cannot be used again once the access token was issued
    again = await client.get("/authorize", params={"oauth_token": token})
    assert again.status_code == 400


async def test_first_party_lst_signs_every_request_form(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    assert (await get(client, signer)).status_code == 200

    url = f"{API}/iserver/marketdata/snapshot?conids=265598,8314&fields=31,84,86"
    canonical = signer.hmac("GET", url)  # variant (c)
    omitted = signer.hmac("GET", url.split("?")[0])  # variant (a): ibind, nsirons
    params = signer.params(oauth_signature_method="HMAC-SHA256", oauth_token=signer.access_token)
    in_url = oauth.base_string("GET", url, params.items())  # variant (b): the query kept in the URL
    signature = oauth.hmac_sha256_sign(signer.lst, in_url)
    in_url_header = oauth.authorization_header(
        "limited_poa", {**params, "oauth_signature": signature}
    )
    for header in (canonical, omitted, in_url_header):
        response = await client.get(url, headers={"Authorization": header})
        assert response.status_code == 200, (header, response.text)

    for method in ("POST", "DELETE"):
        target = f"{API}/iserver/account/DU1234567/order/1"
        response = await client.request(
            method, target, headers={"Authorization": signer.hmac(method, target)}, json={"a": 1}
        )
        assert response.status_code == 200, response.text


async def test_origins_tried_in_order_of_section_11(clock: FakeClock) -> None:
    """Signed for the listening socket but sent with ``Host: api.ibkr.com`` (as ibind does), or
    signed for api.ibkr.com but sent to the simulator: both verify; another origin does not."""
    server = make_server(clock, listen_origins=["http://127.0.0.1:8123"])
    async with client_for(server, base_url="http://sim") as client:
        signer = await first_party(server, client, clock)
        sent_to = "http://sim/v1/api/tickle"
        for signed_for, status in [
            ("http://127.0.0.1:8123/v1/api/tickle", 200),
            ("https://api.ibkr.com/v1/api/tickle", 200),
            ("http://sim/v1/api/tickle", 200),
            ("http://sim:8080/v1/api/tickle", 401),
            ("https://sim/v1/api/tickle", 401),
        ]:
            header = signer.hmac("POST", signed_for)
            response = await client.post(
                sent_to, headers={"Authorization": header, "Host": "api.ibkr.com"}
            )
            assert response.status_code == status, signed_for


# --- rejections --------------------------------------------------------------------------


async def test_wrong_key_is_invalid_signature(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token, encrypted = server.provision_access_token("IBTUITEST")
    secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, encrypted)
    # the encryption key never signs (OAUTH.md §4.1)
    wrong = Signer(clock, access_token=token, secret=secret, signature_key=ENCRYPTION_KEY)
    response = await wrong.live_session_token(client)
    assert response.status_code == 401 and reason(response) == "invalid signature"
    # the right key but no prepend
    no_prepend = Signer(clock, access_token=token, secret=b"")
    response = await no_prepend.live_session_token(client)
    assert reason(response) == "invalid signature"

    signer = await first_party(server, client, clock)
    signer.lst = "nYcvFhg42IdVz2Im0uCojcMWyas="  # somebody else's LST
    response = await get(client, signer)
    assert response.status_code == 401 and reason(response) == "invalid signature"


@pytest.mark.parametrize("skew", [-301, 301, -10_000])
async def test_stale_or_future_timestamp(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock, skew: int
) -> None:
    signer = await first_party(server, client, clock)
    header = signer.hmac("GET", ACCOUNTS)
    clock.advance(-skew)
    response = await client.get(ACCOUNTS, headers={"Authorization": header})
    assert response.status_code == 401 and reason(response) == "timestamp out of range"


async def test_timestamp_window_edges_and_configuration(clock: FakeClock) -> None:
    server = make_server(clock, timestamp_window=10)
    async with client_for(server) as client:
        signer = await first_party(server, client, clock)
        header = signer.hmac("GET", ACCOUNTS)
        clock.advance(10)
        assert (await client.get(ACCOUNTS, headers={"Authorization": header})).status_code == 200
        header = signer.hmac("GET", ACCOUNTS)
        clock.advance(11)
        response = await client.get(ACCOUNTS, headers={"Authorization": header})
        assert reason(response) == "timestamp out of range"


async def test_reused_nonce(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    header = signer.hmac("GET", ACCOUNTS)
    assert (await client.get(ACCOUNTS, headers={"Authorization": header})).status_code == 200
    clock.advance(200)
    response = await client.get(ACCOUNTS, headers={"Authorization": header})
    assert response.status_code == 401 and reason(response) == "nonce already used"


async def test_a_rejected_request_does_not_burn_its_nonce(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    params = signer.params(oauth_signature_method="HMAC-SHA256", oauth_token=signer.access_token)
    good = oauth.sign_hmac_request("GET", ACCOUNTS, "limited_poa", params, signer.lst).header
    forged = oauth.sign_hmac_request("GET", ACCOUNTS, "limited_poa", params, "AAAA").header
    response = await client.get(ACCOUNTS, headers={"Authorization": forged})
    assert reason(response) == "invalid signature"
    assert (await client.get(ACCOUNTS, headers={"Authorization": good})).status_code == 200


async def test_wrong_realm(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    signer.realm = "test_realm"
    response = await get(client, signer)
    assert response.status_code == 401 and reason(response) == "invalid realm"


async def test_testcons_needs_test_realm(clock: FakeClock) -> None:
    server = make_server(clock, consumers=[consumer("TESTCONS")])
    async with client_for(server) as client:
        token, encrypted = server.provision_access_token("TESTCONS")
        secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, encrypted)
        signer = Signer(clock, "TESTCONS", "limited_poa", token, secret)
        response = await signer.live_session_token(client)
        assert response.status_code == 401 and reason(response) == "invalid realm"
        signer.realm = "test_realm"
        assert (await signer.live_session_token(client)).status_code == 200
        assert (await get(client, signer)).status_code == 200


async def test_unknown_token(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    signer.access_token = "0123456789abcdef0123"
    response = await get(client, signer)
    assert response.status_code == 401 and reason(response) == "unknown token"

    response = await signer.live_session_token(client)
    assert response.status_code == 401
    assert reason(response) == (
        "LST failed, error: No access secret key found for 0123456789abcdef0123"
    )


async def test_unknown_and_disabled_consumer(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    signer.consumer_key = "NOSUCHKEY"
    response = await get(client, signer)
    assert response.status_code == 401
    assert re.fullmatch(r"id: \d+, error: invalid consumer", response.json()["error"])
    assert response.json()["statusCode"] == 401

    signer.consumer_key = "IBTUITEST"
    server.set_consumer_enabled("IBTUITEST", False)
    assert reason(await get(client, signer)) == "invalid consumer"
    server.set_consumer_enabled("IBTUITEST", True)
    assert (await get(client, signer)).status_code == 200


async def test_token_of_another_consumer_is_unknown(clock: FakeClock) -> None:
    server = make_server(clock, consumers=[consumer(), consumer("OTHERKEY1")])
    async with client_for(server) as client:
        signer = await first_party(server, client, clock)
        signer.consumer_key = "OTHERKEY1"
        assert reason(await get(client, signer)) == "unknown token"


async def test_expired_lst(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    expires_at = server.lst_expires_at(signer.access_token)
    assert expires_at == clock() + 86_400
    clock.advance(86_399)
    assert (await get(client, signer)).status_code == 200
    clock.advance(1)
    response = await get(client, signer)
    assert response.status_code == 401 and reason(response) == "expired live session token"
    # a new handshake brings the session back
    assert (await signer.live_session_token(client)).status_code == 200
    assert (await get(client, signer)).status_code == 200


async def test_configured_lst_lifetime_and_forced_expiry(clock: FakeClock) -> None:
    server = make_server(clock, lst_lifetime=60)
    async with client_for(server) as client:
        signer = await first_party(server, client, clock)
        clock.advance(59)
        assert (await get(client, signer)).status_code == 200
        server.expire_all_lsts()
        assert reason(await get(client, signer)) == "expired live session token"


async def test_revoke_and_newest_lst_only(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    old_lst = signer.lst
    assert (await signer.live_session_token(client)).status_code == 200
    assert signer.lst != old_lst
    stale = Signer(clock, access_token=signer.access_token, lst=old_lst)
    assert reason(await get(client, stale)) == "invalid signature"
    assert (await get(client, signer)).status_code == 200

    server.revoke(signer.access_token)
    response = await get(client, signer)
    assert response.status_code == 401 and reason(response) == "no live session token"


async def test_wrong_verifier_then_retry_with_a_new_request_token(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = Signer(clock)
    token = await request_token(client, signer)
    assert (await log_in(client, token, "demo", "demo")).status_code == 200
    verifier = server.verifier_for(token)
    assert verifier is not None

    response = await access_token(client, signer, token, "0" * 20)
    assert response.status_code == 401 and reason(response) == "invalid verifier"
    response = await access_token(client, signer, token, verifier)
    assert reason(response) == "request token already used"

    token = await request_token(client, signer)
    assert (await log_in(client, token, "demo", "demo")).status_code == 200
    verifier = server.verifier_for(token)
    assert verifier is not None
    assert (await access_token(client, signer, token, verifier)).status_code == 200


async def test_request_token_is_single_use_and_must_be_authorized(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = Signer(clock)
    token = await request_token(client, signer)
    response = await access_token(client, signer, token, "0" * 20)
    assert reason(response) == "request token not authorized"
    assert (await log_in(client, token, "demo", "demo")).status_code == 200
    verifier = server.verifier_for(token)
    assert verifier is not None
    assert (await access_token(client, signer, token, verifier)).status_code == 200
    response = await access_token(client, signer, token, verifier)
    assert response.status_code == 401 and reason(response) == "request token already used"
    response = await access_token(client, signer, "feedfacefeedfacefeed", verifier)
    assert reason(response) == "unknown token"
    refused = await log_in(client, token, "demo", "demo")
    assert refused.status_code == 400


async def test_request_token_needs_oob_callback(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    url = f"{API}/oauth/request_token"
    signer = Signer(clock)
    header = signer.rsa(url, oauth_callback="https://example.com/cb")
    response = await client.post(url, headers={"Authorization": header})
    assert reason(response) == "invalid callback, only oob is supported"


@pytest.mark.parametrize("value", ["0", "1", "p-1", "p", "zz"])
async def test_dh_challenge_out_of_range(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock, value: str
) -> None:
    challenge = {"p-1": format(DH.prime - 1, "x"), "p": format(DH.prime, "x")}.get(value, value)
    token, encrypted = server.provision_access_token("IBTUITEST")
    secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, encrypted)
    signer = Signer(clock, access_token=token, secret=secret)
    url = f"{API}/oauth/live_session_token"
    header = signer.rsa(
        url, prepend=secret.hex(), oauth_token=token, diffie_hellman_challenge=challenge
    )
    response = await client.post(url, headers={"Authorization": header})
    assert response.status_code == 401 and reason(response) == "invalid diffie_hellman_challenge"
    assert server.lst_expires_at(token) is None


async def test_signature_method_must_match_the_endpoint(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    url = f"{API}/oauth/live_session_token"
    header = signer.hmac("POST", url, diffie_hellman_challenge="2")
    response = await client.post(url, headers={"Authorization": header})
    assert reason(response) == "invalid signature method"
    header = signer.rsa(ACCOUNTS, oauth_token=signer.access_token)
    response = await client.get(ACCOUNTS, headers={"Authorization": header})
    assert reason(response) == "invalid signature method"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "missing Authorization header"),
        ("Basic dXNlcjpwYXNz", "malformed Authorization header"),
        ('OAuth realm="limited_poa", realm="limited_poa"', "malformed Authorization header"),
        ('OAuth realm="limited_poa"', "invalid consumer"),
    ],
)
async def test_malformed_headers(
    client: httpx.AsyncClient, header: str | None, expected: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get(ACCOUNTS, headers=headers)
    assert response.status_code == 401 and reason(response) == expected


async def test_missing_parameter(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    signer = await first_party(server, client, clock)
    params = signer.params(oauth_signature_method="HMAC-SHA256")  # no oauth_token
    header = oauth.sign_hmac_request("GET", ACCOUNTS, "limited_poa", params, signer.lst).header
    response = await client.get(ACCOUNTS, headers={"Authorization": header})
    assert reason(response) == "missing parameter oauth_token"


@pytest.mark.parametrize("stamp", ["1735732800²", "١٧٣٥٧٣٢٨٠٠", "1735732800.0", "-1", ""])
async def test_timestamp_must_be_ascii_decimal_seconds(
    server: OAuthServer, client: httpx.AsyncClient, clock: FakeClock, stamp: str
) -> None:
    signer = await first_party(server, client, clock)
    params = signer.params(oauth_signature_method="HMAC-SHA256", oauth_token=signer.access_token)
    params["oauth_timestamp"] = stamp
    header = oauth.sign_hmac_request("GET", ACCOUNTS, "limited_poa", params, signer.lst).header
    response = await client.get(ACCOUNTS, headers={"Authorization": header})
    expected = "missing parameter oauth_timestamp" if not stamp else "timestamp out of range"
    assert response.status_code == 401 and reason(response) == expected


def test_nonce_cache_forgets_after_twice_the_window() -> None:
    cache = NonceCache(window=300)
    cache.add(("K", "T", "n1"), 1000.0)
    cache.add(("K", "T", "n2"), 1100.0)
    assert cache.seen(("K", "T", "n1"), 1600.0)
    assert not cache.seen(("K", "T", "n1"), 1601.0)  # pruned
    assert cache.seen(("K", "T", "n2"), 1601.0)
    assert not cache.seen(("K", "T", "n2"), 1701.0)
    assert not cache.seen(("K", "OTHER", "n2"), 1000.0)
