"""The third-party authorization flow: request token, user authorization, verifier, access token.

``oauth_callback=oob``: the user opens the authorize URL anywhere (a phone will do), approves, and
types the verifier back into ibtui. A wrong or expired verifier raises :class:`VerifierError`; the
flow can then start again with a new request token without restarting anything.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import httpx

from ibtui.ibkr import oauth
from ibtui.ibkr.errors import (
    ApiStatusError,
    AuthError,
    InvalidConsumerError,
    ProtocolError,
    VerifierError,
)
from ibtui.ibkr.session import AccessCredentials, Consumer, api_url, post_oauth

__all__ = ["RequestToken", "ThirdPartyLogin", "authorize_url_for", "clean_verifier"]

IBKR_AUTHORIZE_URL = "https://www.interactivebrokers.com/authorize"
_VERIFIER = re.compile(r"[A-Za-z0-9\-_.~]{4,128}")


@dataclass(frozen=True, slots=True)
class RequestToken:
    """A request token and the URL where the user authorizes it."""

    token: str
    authorize_url: str


def authorize_url_for(base_url: str, request_token: str) -> str:
    """IBKR's authorize page for ``api.ibkr.com`` (and numbered hosts); otherwise the API host's own
    ``/authorize`` page, which is where the simulator serves it."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if host == "api.ibkr.com" or host.endswith(".api.ibkr.com"):
        base = IBKR_AUTHORIZE_URL
    else:
        base = f"{parts.scheme}://{parts.netloc}/authorize"
    return f"{base}?{urlencode({'oauth_token': request_token})}"


def clean_verifier(text: str) -> str:
    """The verifier as typed or pasted: trimmed; a pasted ``…oauth_verifier=X…`` URL gives X."""
    value = text.strip()
    match = re.search(r"oauth_verifier=([^&#\s]+)", value)
    if match:
        value = match.group(1)
    if not _VERIFIER.fullmatch(value):
        raise VerifierError(
            "That does not look like a verifier: expected the letters and digits shown after "
            "you approved access (no spaces)."
        )
    return value


class ThirdPartyLogin:
    """Runs the three RSA-signed steps before the first Live Session Token."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        consumer: Consumer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._base_url = base_url
        self._consumer = consumer
        self._timestamp = oauth.Timestamper(clock)

    def _params(self, **extra: str) -> dict[str, str]:
        return {
            "oauth_consumer_key": self._consumer.consumer_key,
            "oauth_nonce": oauth.generate_nonce(),
            "oauth_signature_method": oauth.RSA_SHA256,
            "oauth_timestamp": self._timestamp(),
            **extra,
        }

    async def _post(self, path: str, params: dict[str, str]) -> dict[str, object]:
        url = api_url(self._base_url, path)
        signed = oauth.sign_rsa_request(
            "POST", url, self._consumer.realm, params, self._consumer.signature_key
        )
        return await post_oauth(self._http, url, signed.header, path)

    async def request_token(self) -> RequestToken:
        """Step 1: a fresh request token and the URL to authorize it."""
        body = await self._post("oauth/request_token", self._params(oauth_callback="oob"))
        token = body.get("oauth_token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("oauth/request_token", "the reply has no oauth_token")
        return RequestToken(token, authorize_url_for(self._base_url, token))

    async def access_token(self, request_token: RequestToken, verifier: str) -> AccessCredentials:
        """Step 3: exchange the authorized request token and the verifier for an access token."""
        params = self._params(
            oauth_token=request_token.token, oauth_verifier=clean_verifier(verifier)
        )
        try:
            body = await self._post("oauth/access_token", params)
        except InvalidConsumerError:
            raise
        except ApiStatusError as exc:
            if exc.status < 500:
                raise _verifier_refused(exc) from exc
            said = f" (IBKR said: {exc.server_text})" if exc.server_text else ""
            raise ApiStatusError(
                exc.status,
                exc.endpoint,
                exc.server_text,
                message=(
                    f"IBKR's server failed ({exc.status}) while exchanging the verifier{said}; "
                    "try again in a moment. If it keeps failing, start again with a new "
                    "authorization link."
                ),
            ) from exc
        except AuthError as exc:
            raise _verifier_refused(exc) from exc
        token, secret = body.get("oauth_token"), body.get("oauth_token_secret")
        if not isinstance(token, str) or not isinstance(secret, str):
            raise ProtocolError("oauth/access_token", "the reply lacks the access token or secret")
        paper = body.get("is_paper")
        return AccessCredentials(token, secret, paper if isinstance(paper, bool) else None)


def _verifier_refused(exc: AuthError | ApiStatusError) -> VerifierError:
    said = exc.server_text or str(exc)
    return VerifierError(
        "IBKR did not accept the verifier (wrong, already used or expired). "
        f"Start again with a new authorization link. (IBKR said: {said})"
    )
