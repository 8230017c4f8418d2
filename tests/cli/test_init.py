"""``ibtui init``: keys, DH parameters and a config that loads, private files 0600, nothing
overwritten; the result authenticates against the simulator."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA
from Crypto.Util.number import isPrime

from ibtui.cli.init import RFC3526_GROUP14_PRIME, main, write_consumer_files
from ibtui.config import load_settings
from ibtui.config.credentials import load_credentials
from ibtui.ibkr import oauth


def test_the_dh_prime_is_a_2048_bit_safe_prime() -> None:
    p = RFC3526_GROUP14_PRIME
    assert p.bit_length() == 2048 and isPrime(p) and isPrime((p - 1) // 2)


def test_init_writes_a_consumer_that_loads(tmp_path: Path) -> None:
    folder = tmp_path / "ibtui"
    paths = write_consumer_files(folder, "ABCDE1234", key_bits=1024)
    for path in paths.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings(paths["config"], require_credentials=True, env={})
    creds = load_credentials(settings.ibkr, None)
    assert creds.consumer_key == "ABCDE1234" and creds.needs_login
    assert creds.dh.prime == RFC3526_GROUP14_PRIME and creds.dh.generator == 2
    public = RSA.import_key(paths["signature_public"].read_bytes())
    assert not public.has_private() and public.n == creds.signature_key.n
    assert oauth.parse_dh_params(paths["dh"].read_text()).prime == RFC3526_GROUP14_PRIME


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "config.toml").write_text("# mine\n")
    assert main(["--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not overwriting" in err and "config.toml" in err
    assert (tmp_path / "config.toml").read_text() == "# mine\n"
    assert not (tmp_path / "private_signature.pem").exists()


async def test_the_new_consumer_gets_a_live_session_token_from_the_simulator(
    tmp_path: Path,
) -> None:
    from ibtui.ibkr.connect import connect
    from ibtui.ibkr.session import AccessCredentials, Consumer
    from ibtui.sim.demo import build_demo
    from ibtui.sim.oauth_tokens import Consumer as RegisteredConsumer

    paths = write_consumer_files(tmp_path, "NEWKEY001", key_bits=1024)
    creds = load_credentials(load_settings(paths["config"], env={}).ibkr, None)
    demo = build_demo(key_bits=1024)
    demo.server.register_consumer(  # what uploading the public files to IBKR does
        RegisteredConsumer(
            key=creds.consumer_key,
            realm=creds.realm,
            signature_key=RSA.import_key(paths["signature_public"].read_bytes()),
            encryption_key=RSA.import_key(paths["encryption_public"].read_bytes()),
            dh=oauth.parse_dh_params(paths["dh"].read_text()),
        )
    )
    token, secret = demo.server.provision_access_token(creds.consumer_key)
    consumer = Consumer(
        creds.consumer_key, creds.realm, creds.signature_key, creds.encryption_key, creds.dh
    )
    async with connect(
        demo.base_url, consumer, AccessCredentials(token, secret), transport=demo.transport
    ) as conn:
        lst = await conn.session.current_lst()
    assert lst.value
