"""What the simulated IBKR OAuth server remembers: consumers, tokens, live session tokens, nonces.

Plain state with no HTTP and no clock of its own: every method that depends on time takes ``now``
(epoch seconds). Secrets (access token secrets, LSTs, verifiers, the demo password) never appear in
a ``repr``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from Crypto.PublicKey.RSA import RsaKey

from ibtui.ibkr.oauth import DHParams, load_rsa_key, parse_dh_params, realm_for

__all__ = [
    "TESTCONS_DH_PRIME",
    "AccessToken",
    "Consumer",
    "DemoUser",
    "LiveSession",
    "NonceCache",
    "RequestToken",
    "TokenStore",
]

# The 2048-bit safe prime of IBKR's TESTCONS demo (OAUTH.md §7.1, vector ``dhparam-parse``),
# generator 2. Bundled because generating a 2048-bit DH prime takes minutes. (Here rather than in
# ibtui.sim.provision, which re-exports it, so that the demo does not import provisioning.)
TESTCONS_DH_PRIME = int(
    "f51d7ab737a452668fd8b5eec12fcdc3c01a0744d93db2e9b1dc335bd2551ec67e11becc60c33a73497a0f7c"
    "086d87e45781ada35b7af72708f31ae221347a1c6517575a347df83a321d05450547ee13a8182280ed814230"
    "02aa6337b48a251d840bfdabe8d41b8109284933a6c33bc6652ea9c7a5fd6b4945b7b39f1d951ae19b919206"
    "1e2f9de84768b67c425258724cdb96975917cabdea87e7e0bc72b01a331d06f2f34229a5ec742b399fcffa51"
    "0bf6b8f9b5bf9858f058371a49aa4f950f7fbfb3f47710af34baa83fff1b467d38d0e6b1b0a2d117f178cf93"
    "0d7dfdcc8f6755a2229d48492a967f493041121e382b9e87ca1368c09f54e6352d909f2b",
    16,
)


@dataclass(frozen=True)
class Consumer:
    """A registered consumer: what IBKR knows after the consumer uploaded its public material."""

    key: str
    realm: str
    signature_key: RsaKey = field(repr=False)  # public half: verifies RSA-SHA256 requests
    encryption_key: RsaKey = field(repr=False)  # public half: encrypts access token secrets
    dh: DHParams
    enabled: bool = True

    def __post_init__(self) -> None:
        # Keep only the public halves, whatever the caller handed in.
        object.__setattr__(self, "signature_key", self.signature_key.public_key())
        object.__setattr__(self, "encryption_key", self.encryption_key.public_key())

    @classmethod
    def from_pems(
        cls,
        key: str,
        signature_pem: bytes | str,
        encryption_pem: bytes | str,
        dh_pem: bytes | str,
        *,
        realm: str | None = None,
        enabled: bool = True,
    ) -> Consumer:
        """A consumer from PEM text (public or private keys; only the public halves are kept)."""
        return cls(
            key=key,
            realm=realm if realm is not None else realm_for(key),
            signature_key=load_rsa_key(signature_pem),
            encryption_key=load_rsa_key(encryption_pem),
            dh=parse_dh_params(dh_pem),
            enabled=enabled,
        )


@dataclass(frozen=True)
class DemoUser:
    """The one IBKR login the authorize page accepts."""

    username: str = "demo"
    password: str = field(default="demo", repr=False)
    is_paper: bool = True


@dataclass
class RequestToken:
    token: str
    consumer_key: str
    issued_at: float
    verifier: str | None = field(default=None, repr=False)  # set once the user approved
    used: bool = False

    @property
    def authorized(self) -> bool:
        return self.verifier is not None


@dataclass(frozen=True)
class AccessToken:
    token: str
    consumer_key: str
    secret: bytes = field(repr=False)  # plaintext of the access token secret
    is_paper: bool = True


@dataclass
class LiveSession:
    lst: str = field(repr=False)  # base64 of the 20-byte LST
    expires_at: float  # epoch seconds

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class NonceCache:
    """``(consumer, token, nonce)`` triples seen recently.

    A triple is remembered for twice the timestamp window: a replay can only verify while its
    (unchanged, signed) timestamp is within the window of the server clock, and a timestamp may
    be up to one window ahead of the clock when first seen.
    """

    def __init__(self, window: float) -> None:
        self._window = window
        self._seen: dict[tuple[str, str, str], float] = {}

    def seen(self, key: tuple[str, str, str], now: float) -> bool:
        self._prune(now)
        return key in self._seen

    def add(self, key: tuple[str, str, str], now: float) -> None:
        self._seen[key] = now

    def clear(self) -> None:
        self._seen.clear()

    def _prune(self, now: float) -> None:
        # Insertion order is time order (the clock does not go back), so the oldest come first.
        horizon = now - 2 * self._window
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at >= horizon:
                break
            del self._seen[key]


class TokenStore:
    """Request tokens, access tokens and the newest LST of each access token."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.request_tokens: dict[str, RequestToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.sessions: dict[str, LiveSession] = {}

    def new_token(self) -> str:
        """20 lower-case hex characters, unique among the tokens issued so far."""
        while True:
            token = format(self._rng.getrandbits(80), "020x")
            if token not in self.request_tokens and token not in self.access_tokens:
                return token

    def new_secret(self, size: int = 32) -> bytes:
        return bytes(self._rng.getrandbits(8) for _ in range(size))

    def issue_request_token(self, consumer_key: str, now: float) -> RequestToken:
        record = RequestToken(self.new_token(), consumer_key, issued_at=now)
        self.request_tokens[record.token] = record
        return record

    def issue_access_token(self, consumer_key: str, *, is_paper: bool = True) -> AccessToken:
        record = AccessToken(self.new_token(), consumer_key, self.new_secret(), is_paper)
        self.access_tokens[record.token] = record
        return record

    def add_access_token(self, record: AccessToken) -> None:
        self.access_tokens[record.token] = record

    def set_session(self, access_token: str, session: LiveSession) -> None:
        """Make ``session`` the only LST of ``access_token``; the previous one stops working."""
        self.sessions[access_token] = session

    def drop_session(self, access_token: str) -> None:
        self.sessions.pop(access_token, None)

    def expire_sessions(self, now: float) -> None:
        for session in self.sessions.values():
            session.expires_at = min(session.expires_at, now)
