"""The embedded demo: a newcomer completes the real third-party flow against it."""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from Crypto.IO import PEM, PKCS8
from Crypto.PublicKey import RSA
from Crypto.Util.asn1 import DerSequence

from ibtui.ibkr.auth import LstSigner
from ibtui.ibkr.errors import VerifierError
from ibtui.ibkr.login import ThirdPartyLogin
from ibtui.ibkr.session import LiveSession
from ibtui.sim.demo import build_demo, trading_offset

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> float:
    return datetime(*args, tzinfo=NY).timestamp()


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny(2026, 11, 25, 12, 0), ny(2026, 11, 25, 12, 0)),  # Wednesday, market open: as is
        (ny(2026, 11, 28, 14, 30), ny(2026, 11, 27, 10, 45)),  # Saturday: Friday's session
        (ny(2026, 11, 30, 7, 0), ny(2026, 11, 27, 10, 45)),  # Monday before the open
        (ny(2026, 11, 25, 18, 0), ny(2026, 11, 25, 10, 45)),  # Wednesday evening
    ],
)
def test_the_demo_replays_an_open_market(now: float, expected: float) -> None:
    assert now + trading_offset(now) == expected


async def test_third_party_flow_against_the_embedded_simulator() -> None:
    demo = build_demo(key_bits=1024)
    async with httpx.AsyncClient(transport=demo.transport) as http:
        login = ThirdPartyLogin(http, demo.base_url, demo.consumer)
        first = await login.request_token()
        assert first.authorize_url.startswith("https://www.interactivebrokers.com/authorize?")
        demo.demo_verifier(first.token)
        with pytest.raises(VerifierError):
            await login.access_token(first, "0000000000deadbeef00")
        # the flow starts again with a new link, without restarting anything
        second = await login.request_token()
        access = await login.access_token(second, demo.demo_verifier(second.token))
        session = LiveSession(http, demo.base_url, demo.consumer, access)
        http.auth = LstSigner(
            consumer_key=demo.consumer.consumer_key,
            realm=demo.consumer.realm,
            access_token=access.access_token,
            tokens=session,
        )
        response = await http.get(demo.base_url + "portfolio/accounts")
        assert response.status_code == 200
        assert {a["id"] for a in response.json()} >= {"DU4820311"}
        assert session.renewals == 1


def test_the_demo_keeps_its_keys_private_and_reuses_them(tmp_path: Path) -> None:
    keys = tmp_path / "state" / "demo"
    first = build_demo(key_bits=1024, key_dir=keys)
    files = sorted(p.name for p in keys.iterdir())
    assert files == ["demo-encryption.pem", "demo-signature.pem"]
    assert all(stat.S_IMODE((keys / f).stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700

    again = build_demo(key_bits=1024, key_dir=keys)

    assert again.consumer.signature_key == first.consumer.signature_key
    assert again.consumer.encryption_key == first.consumer.encryption_key
    assert again.consumer.signature_key != again.consumer.encryption_key


def test_an_unusable_demo_key_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "demo-signature.pem").write_text("not a key")
    demo = build_demo(key_bits=1024, key_dir=tmp_path)
    assert demo.consumer.signature_key.has_private()
    kept = (tmp_path / "demo-signature.pem").read_text()
    assert kept.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE((tmp_path / "demo-signature.pem").stat().st_mode) == 0o600


async def test_kept_demo_keys_sign_and_decrypt_in_the_real_flow(tmp_path: Path) -> None:
    build_demo(key_bits=1024, key_dir=tmp_path)
    demo = build_demo(key_bits=1024, key_dir=tmp_path)  # both keys read back from the files
    async with httpx.AsyncClient(transport=demo.transport) as http:
        login = ThirdPartyLogin(http, demo.base_url, demo.consumer)
        request = await login.request_token()  # RSA-SHA256 signed with the kept key
        access = await login.access_token(request, demo.demo_verifier(request.token))
        session = LiveSession(http, demo.base_url, demo.consumer, access)
        await session.current_lst()  # the secret decrypted with the kept encryption key
        assert session.renewals == 1


def _pkcs8(n: int, e: int, d: int, p: int, q: int) -> str:
    der = DerSequence([0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p)]).encode()
    return PEM.encode(PKCS8.wrap(der, "1.2.840.113549.1.1.1"), "PRIVATE KEY")


def test_a_kept_key_whose_numbers_do_not_fit_is_replaced(tmp_path: Path) -> None:
    key = RSA.generate(1024)
    n, e, d, p, q = (int(x) for x in (key.n, key.e, key.d, key.p, key.q))
    (tmp_path / "demo-signature.pem").write_text(_pkcs8(n, e, d + 2, p, q))  # d altered
    (tmp_path / "demo-encryption.pem").write_text(_pkcs8(n + 2, e, d, p, q))  # n altered

    demo = build_demo(key_bits=1024, key_dir=tmp_path)

    for name, kept in (
        ("demo-signature.pem", demo.consumer.signature_key),
        ("demo-encryption.pem", demo.consumer.encryption_key),
    ):
        assert kept.n != n and kept.has_private()
        assert RSA.import_key((tmp_path / name).read_text()) == kept  # the fresh key, kept


def test_a_kept_pkcs1_key_is_still_used(tmp_path: Path) -> None:
    key = RSA.generate(1024)
    (tmp_path / "demo-signature.pem").write_bytes(key.export_key("PEM", pkcs=1))
    demo = build_demo(key_bits=1024, key_dir=tmp_path)
    assert demo.consumer.signature_key == key
