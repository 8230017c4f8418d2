"""Shared material for the OAuth server tests: the vector keys, a fake clock, a small app, and a
client-side signer built only from ``ibtui.ibkr.oauth`` (the way a real client signs)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ibtui.ibkr import oauth
from ibtui.sim.auth_api import AuthContext
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.oauth_tokens import Consumer

DATA: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "data" / "oauth_vectors.json").read_text()
)
VECTORS: dict[str, dict[str, Any]] = {v["id"]: v for v in DATA["vectors"]}
SIGNATURE_KEY = oauth.load_rsa_key(DATA["keys"]["signature"]["private_pem_pkcs8"])
ENCRYPTION_KEY = oauth.load_rsa_key(DATA["keys"]["encryption"]["private_pem_pkcs8"])
DH = oauth.parse_dh_params(DATA["dh"]["dhparam_pem"])
CREDS: dict[str, str] = DATA["credentials"]
CONSUMER_KEY = CREDS["consumer_key"]
VECTOR_SECRET = bytes.fromhex(CREDS["access_token_secret_plaintext_hex"])
T0 = 1_735_732_800.0  # the vectors' API requests are signed around this time


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def consumer(key: str = CONSUMER_KEY, **kwargs: Any) -> Consumer:
    return Consumer(
        key=key,
        realm=oauth.realm_for(key),
        signature_key=SIGNATURE_KEY,
        encryption_key=ENCRYPTION_KEY,
        dh=DH,
        **kwargs,
    )


def make_server(clock: FakeClock, **kwargs: Any) -> OAuthServer:
    kwargs.setdefault("consumers", [consumer()])
    return OAuthServer(clock=clock, seed=7, **kwargs)


def make_app(server: OAuthServer) -> Starlette:
    """The OAuth routes plus one catch-all signed API endpoint echoing who was authenticated."""

    async def api(request: Request) -> Response:
        result = await server.authenticate(request)
        if not isinstance(result, AuthContext):
            return result
        return JSONResponse({"consumer_key": result.consumer_key, "token": result.access_token})

    methods = ["GET", "POST", "DELETE", "PUT"]
    return Starlette(routes=[*server.routes(), Route("/v1/api/{rest:path}", api, methods=methods)])


def client_for(server: OAuthServer, base_url: str = "https://api.ibkr.com") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(server)), base_url=base_url)


def reason(response: httpx.Response) -> str:
    """The reason of a 401 body ``{"error":"id: <n>, error: <reason>","statusCode":401}``."""
    body = response.json()
    assert body["statusCode"] == response.status_code == 401
    prefix, _, text = body["error"].partition(", error: ")
    assert prefix.startswith("id: ") and prefix[4:].isdigit(), body
    return text


@dataclass
class Signer:
    """A client of the simulator, signing with ``ibtui.ibkr.oauth`` only."""

    clock: FakeClock
    consumer_key: str = CONSUMER_KEY
    realm: str = "limited_poa"
    access_token: str = ""
    secret: bytes = field(default=b"", repr=False)
    lst: str = field(default="", repr=False)
    signature_key: Any = field(default_factory=lambda: SIGNATURE_KEY, repr=False)

    def params(self, **extra: str) -> dict[str, str]:
        params = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_nonce": oauth.generate_nonce(),
            "oauth_timestamp": str(int(self.clock())),
            **extra,
        }
        return {k: v for k, v in params.items() if v}

    def rsa(self, url: str, prepend: str = "", **extra: str) -> str:
        params = self.params(oauth_signature_method=oauth.RSA_SHA256, **extra)
        signed = oauth.sign_rsa_request(
            "POST", url, self.realm, params, self.signature_key, prepend
        )
        return signed.header

    def hmac(self, method: str, url: str, **extra: str) -> str:
        params = self.params(
            oauth_signature_method=oauth.HMAC_SHA256, oauth_token=self.access_token, **extra
        )
        return oauth.sign_hmac_request(method, url, self.realm, params, self.lst).header

    async def live_session_token(
        self, client: httpx.AsyncClient, base: str = "https://api.ibkr.com/v1/api"
    ) -> httpx.Response:
        """The §7 handshake; on success ``self.lst`` holds the validated LST."""
        exponent = oauth.generate_dh_exponent()
        challenge = oauth.dh_challenge(DH, exponent)
        url = f"{base}/oauth/live_session_token"
        header = self.rsa(
            url,
            prepend=self.secret.hex(),
            oauth_token=self.access_token,
            diffie_hellman_challenge=challenge,
        )
        response = await client.post(url, headers={"Authorization": header})
        if response.status_code == 200:
            body = response.json()
            raw = oauth.compute_lst(DH, exponent, body["diffie_hellman_response"], self.secret)
            assert oauth.validate_lst(raw, self.consumer_key, body["live_session_token_signature"])
            self.lst = base64.b64encode(raw).decode()
        return response
