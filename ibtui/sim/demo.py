"""The embedded demo: the simulated IBKR server in-process, and a consumer registered with it.

``ibtui demo`` talks to this exactly as it would talk to IBKR: the same client, the same OAuth
signatures (verified for real by the simulator), only the transport is in-process
(``httpx.ASGITransport``; the WebSocket through :meth:`DemoEnvironment.stream_http`). The
consumer's keys are made fresh for each run, or kept in a folder of the caller's (``ibtui demo``
keeps them in the state dir so that it starts fast).
"""

from __future__ import annotations

import binascii
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from Crypto.PublicKey import RSA
from Crypto.PublicKey.RSA import RsaKey
from Crypto.Util.asn1 import DerObjectId, DerOctetString, DerSequence
from starlette.types import ASGIApp

from ibtui.ibkr import oauth
from ibtui.ibkr.oauth import Consumer, OAuthFormatError, load_rsa_key
from ibtui.local.files import ensure_private_dir, write_private
from ibtui.sim import ShiftedClock, SimConfig, Simulator, SystemClock, create_app
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.oauth_tokens import TESTCONS_DH_PRIME
from ibtui.sim.oauth_tokens import Consumer as RegisteredConsumer

__all__ = ["DEMO_BASE_URL", "DEMO_CONSUMER_KEY", "DemoEnvironment", "build_demo", "trading_offset"]

DEMO_BASE_URL = "https://api.ibkr.com/v1/api/"
DEMO_CONSUMER_KEY = "IBTUIDEMO"
_RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1"
_PEM_BEGIN, _PEM_END = (f"-----{edge} PRIVATE KEY-----" for edge in ("BEGIN", "END"))
NEW_YORK = ZoneInfo("America/New_York")


def trading_offset(now: float, *, open_minutes: int = 75) -> float:
    """Seconds to add to ``now`` so that the demo market is open.

    During a weekday's regular hours (09:30-16:00 New York) the offset is 0; otherwise the demo
    replays the most recent weekday from ``open_minutes`` after the open.
    """
    local = datetime.fromtimestamp(now, NEW_YORK)
    opens = local.replace(hour=9, minute=30, second=0, microsecond=0)
    closes = local.replace(hour=16, minute=0, second=0, microsecond=0)
    if local.weekday() < 5 and opens <= local < closes:
        return 0.0
    day = local if local >= opens else local - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    target = day.replace(hour=9, minute=30, second=0, microsecond=0) + timedelta(
        minutes=open_minutes
    )
    return target.timestamp() - now


@dataclass(slots=True)
class DemoEnvironment:
    """An in-process simulator and a consumer it knows; ``transport`` goes in an AsyncClient."""

    sim: Simulator
    server: OAuthServer
    transport: httpx.AsyncBaseTransport
    consumer: Consumer = field(repr=False)
    base_url: str = DEMO_BASE_URL
    app: ASGIApp | None = field(default=None, repr=False)

    @contextlib.asynccontextmanager
    async def stream_http(self) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client for one WebSocket to the simulator, in-process (httpx-ws's
        ``ASGIWebSocketTransport``, whose task group must open and close in the socket's task:
        hence one per connection, not the shared transport)."""
        from httpx_ws.transport import ASGIWebSocketTransport

        assert self.app is not None
        async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=self.app)) as client:
            yield client

    def demo_verifier(self, request_token: str) -> str:
        """Approve ``request_token`` as the demo user and return the verifier the page shows."""
        username, password = self.server.demo_login
        return self.server.approve(request_token, username, password)


def build_demo(
    *,
    seed: int = 1,
    key_bits: int = 2048,
    config: SimConfig | None = None,
    oauth_clock: object = None,
    key_dir: Path | None = None,
) -> DemoEnvironment:
    """A simulator replaying an open market, with a consumer registered.

    The consumer's two RSA keys are fresh, or, with ``key_dir``, kept there (0600) and reused:
    generating them is most of the demo's start-up time. A key file there that cannot be used is
    replaced by a fresh key: the demo's keys guard nothing but the simulator."""
    if config is None:
        offset = trading_offset(time.time())
        config = SimConfig(seed=seed, clock=ShiftedClock(SystemClock(), offset))
    sim = Simulator(config)
    signature_key = _demo_key(key_dir, "demo-signature.pem", key_bits)
    encryption_key = _demo_key(key_dir, "demo-encryption.pem", key_bits)
    dh = oauth.DHParams(prime=TESTCONS_DH_PRIME, generator=2)
    realm = oauth.realm_for(DEMO_CONSUMER_KEY)
    registered = RegisteredConsumer(
        key=DEMO_CONSUMER_KEY,
        realm=realm,
        signature_key=signature_key,
        encryption_key=encryption_key,
        dh=dh,
    )
    # OAuth timestamps are wall-clock time whatever day the market replays.
    clock = oauth_clock if callable(oauth_clock) else time.time
    server = OAuthServer(
        clock=clock,
        consumers=[registered],
        lst_lifetime=config.lst_lifetime_seconds,
        seed=seed,
    )
    sim.authenticator = server
    app = create_app(sim)
    transport = httpx.ASGITransport(app=app)
    consumer = Consumer(DEMO_CONSUMER_KEY, realm, signature_key, encryption_key, dh)
    return DemoEnvironment(sim, server, transport, consumer, app=app)


def _demo_key(key_dir: Path | None, name: str, bits: int) -> RsaKey:
    if key_dir is not None:
        path = key_dir / name
        try:
            pem = path.read_bytes()
            kept = _load_kept_key(pem, bits)
            if kept is not None:
                return kept
            key = load_rsa_key(pem)  # not as this function writes them: every check
            if key.has_private() and key.size_in_bits() == bits:
                return key
        except (OSError, OAuthFormatError):
            pass  # absent or unusable: a new one
    key = RSA.generate(bits)
    if key_dir is not None:
        try:
            ensure_private_dir(key_dir)
            write_private(key_dir / name, key.export_key("PEM", pkcs=8))
        except OSError:
            pass  # not kept: the next start generates one again
    return key


def _load_kept_key(pem: bytes, bits: int) -> RsaKey | None:
    """A private key as :func:`_demo_key` keeps them (unencrypted PKCS#8 PEM), or None.

    pycryptodome's import tests both primes for primality (about 50 ms a key, the most of the
    demo's start after the imports); a kept key's primes were tested when it was made, so only
    the cheap consistency checks are repeated: n = p·q, e·d ≡ 1 (mod λ(n)), the size. The PEM
    armour and the PKCS#8 wrapping are read here too: pycryptodome's readers of them import its
    ciphers and key derivations for encrypted files (AES, DES, PBKDF: about 15 ms at each start),
    which a kept key never is. Anything else (None) takes the full import."""
    try:
        der = _pem_body(pem.decode("ascii"))
        if der is None:
            return None
        wrapper = DerSequence().decode(der, nr_elements=3)
        algorithm = DerSequence().decode(wrapper[1], nr_elements=(1, 2))
        oid = DerObjectId().decode(algorithm[0]).value
        inner = DerOctetString().decode(wrapper[2]).payload
        fields = DerSequence().decode(inner, nr_elements=9, only_ints_expected=True)
    except (ValueError, IndexError, TypeError, UnicodeDecodeError, binascii.Error):
        return None
    if wrapper[0] != 0:
        return None
    version, n, e, d, p, q = (int(fields[i]) for i in range(6))
    if oid != _RSA_ENCRYPTION_OID or version != 0 or p < 3 or q < 3 or n != p * q:
        return None
    carmichael = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    if not (1 < e < n and 1 < d < n and e * d % carmichael == 1):
        return None
    key = RSA.construct((n, e, d, p, q), consistency_check=False)
    return key if key.size_in_bits() == bits else None


def _pem_body(text: str) -> bytes | None:
    """The DER inside a ``PRIVATE KEY`` PEM block without headers (an encrypted PEM has
    ``Proc-Type``/``DEK-Info`` headers), or None."""
    lines = text.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != _PEM_BEGIN or lines[-1].strip() != _PEM_END:
        return None
    body = [line.strip() for line in lines[1:-1]]
    if any(":" in line for line in body):
        return None
    return binascii.a2b_base64("".join(body), strict_mode=True)
