"""``write_state_dir``: the consumer folder a client of ``ibtui sim`` is pointed at."""

from __future__ import annotations

import base64
import shlex
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from ibtui.config import load_settings
from ibtui.config.credentials import load_credentials
from ibtui.ibkr import oauth
from ibtui.sim import provision
from ibtui.sim.oauth_server import OAuthServer

from .oauth_support import DATA, DH, FakeClock, client_for, reason

BASE_URL = "http://127.0.0.1:8123/v1/api/"
PRIVATE_FILES = ("config.toml", "private_signature.pem", "private_encryption.pem", "ibind.env")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One provisioned folder (1024-bit keys: quick to make); tests copy it."""
    directory = tmp_path_factory.mktemp("template") / "state"
    provision.write_state_dir(directory, BASE_URL, OAuthServer(), key_bits=1024)
    return directory


def copy_of(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "state"
    shutil.copytree(template, target)
    return target


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def handshake(server: OAuthServer, setup: provision.ConsumerSetup, clock: FakeClock) -> str:
    """What a client does with the folder alone: read it, get an LST, make a signed call."""
    config = tomllib.loads(setup.config_path.read_text())["ibkr"]
    folder = setup.config_path.parent
    signature_key = oauth.load_rsa_key((folder / config["signature_key"]).read_bytes())
    encryption_key = oauth.load_rsa_key((folder / config["encryption_key"]).read_bytes())
    dh = oauth.parse_dh_params((folder / config["dh_params"]).read_bytes())
    secret = oauth.decrypt_access_token_secret(encryption_key, config["access_token_secret"])
    base = config["base_url"].rstrip("/")
    exponent = oauth.generate_dh_exponent()

    def params(**extra: str) -> dict[str, str]:
        return {
            "oauth_consumer_key": config["consumer_key"],
            "oauth_nonce": oauth.generate_nonce(),
            "oauth_timestamp": str(int(clock())),
            "oauth_token": config["access_token"],
            **extra,
        }

    async with client_for(server, base_url="http://127.0.0.1:8123") as client:
        url = f"{base}/oauth/live_session_token"
        signed = oauth.sign_rsa_request(
            "POST",
            url,
            config["realm"],
            params(
                oauth_signature_method="RSA-SHA256",
                diffie_hellman_challenge=oauth.dh_challenge(dh, exponent),
            ),
            signature_key,
            prepend=secret.hex(),
        )
        response = await client.post(url, headers={"Authorization": signed.header})
        if response.status_code != 200:
            return reason(response)
        body = response.json()
        raw = oauth.compute_lst(dh, exponent, body["diffie_hellman_response"], secret)
        assert oauth.validate_lst(raw, config["consumer_key"], body["live_session_token_signature"])
        lst = base64.b64encode(raw).decode()
        url = f"{base}/portfolio/accounts"
        header = oauth.sign_hmac_request(
            "GET", url, config["realm"], params(oauth_signature_method="HMAC-SHA256"), lst
        ).header
        response = await client.get(url, headers={"Authorization": header})
        return "ok" if response.status_code == 200 else reason(response)


def test_config_toml_has_exactly_the_documented_format(template: Path) -> None:
    text = (template / "config.toml").read_text()
    config = tomllib.loads(text)
    assert list(config) == ["ibkr"]
    ibkr = config["ibkr"]
    assert list(ibkr) == [
        "base_url",
        "consumer_key",
        "realm",
        "signature_key",
        "encryption_key",
        "dh_params",
        "access_token",
        "access_token_secret",
    ]
    assert ibkr["base_url"] == BASE_URL
    assert len(ibkr["consumer_key"]) == 9 and ibkr["consumer_key"].isalnum()
    assert ibkr["consumer_key"] == ibkr["consumer_key"].upper()
    assert ibkr["realm"] == "limited_poa"
    assert ibkr["signature_key"] == "private_signature.pem"
    assert ibkr["encryption_key"] == "private_encryption.pem"
    assert ibkr["dh_params"] == "dhparam.pem"
    assert len(ibkr["access_token"]) == 20 and int(ibkr["access_token"], 16) >= 0
    # 1024-bit encryption key here: 128-byte ciphertext
    assert len(base64.b64decode(ibkr["access_token_secret"])) == 128


def test_private_files_are_0600_and_keys_are_usable(template: Path) -> None:
    for name in PRIVATE_FILES:
        assert mode(template / name) == 0o600, name
    assert mode(template) == 0o700
    for name in ("private_signature.pem", "private_encryption.pem"):
        key = oauth.load_rsa_key((template / name).read_bytes())
        assert key.has_private() and key.size_in_bits() == 1024
    signature = (template / "private_signature.pem").read_bytes()
    assert signature != (template / "private_encryption.pem").read_bytes()
    assert not list(template.glob(".*.tmp"))  # atomic writes left no temporary file behind


def test_dh_params_are_the_bundled_testcons_prime(template: Path) -> None:
    params = oauth.parse_dh_params((template / "dhparam.pem").read_bytes())
    assert params == DH
    assert format(provision.TESTCONS_DH_PRIME, "x") == DATA["dh"]["prime_hex"]
    assert params.bits == 2048 and params.generator == 2


async def test_a_client_using_only_the_folder_gets_an_lst(tmp_path: Path) -> None:
    clock = FakeClock()
    server = OAuthServer(clock=clock)
    setup = provision.write_state_dir(tmp_path / "s", BASE_URL, server, key_bits=1024)
    assert setup.access_token_secret not in repr(setup)
    assert await handshake(server, setup, clock) == "ok"


async def test_restart_reuses_keys_consumer_and_access_token(
    template: Path, tmp_path: Path
) -> None:
    state = copy_of(template, tmp_path)
    before = {name: (state / name).read_bytes() for name in (*PRIVATE_FILES, "dhparam.pem")}
    clock = FakeClock()
    server = OAuthServer(clock=clock)  # a new process: it knows nothing yet
    setup = provision.write_state_dir(state, "http://127.0.0.1:9999/v1/api/", server)
    for name in ("private_signature.pem", "private_encryption.pem", "dhparam.pem"):
        assert (state / name).read_bytes() == before[name]
    old = tomllib.loads(before["config.toml"].decode())["ibkr"]
    new = tomllib.loads((state / "config.toml").read_text())["ibkr"]
    assert new == {**old, "base_url": "http://127.0.0.1:9999/v1/api/"}
    assert setup.access_token == old["access_token"]
    assert await handshake(server, setup, clock) == "ok"


async def test_new_encryption_key_means_a_new_access_token(template: Path, tmp_path: Path) -> None:
    state = copy_of(template, tmp_path)
    old = tomllib.loads((state / "config.toml").read_text())["ibkr"]
    (state / "private_encryption.pem").unlink()
    clock = FakeClock()
    server = OAuthServer(clock=clock)
    setup = provision.write_state_dir(state, BASE_URL, server, key_bits=1024)
    assert setup.consumer_key == old["consumer_key"]
    assert setup.access_token != old["access_token"]
    assert await handshake(server, setup, clock) == "ok"


async def test_the_old_token_is_unknown_to_a_server_that_did_not_provision_it(
    template: Path, tmp_path: Path
) -> None:
    state = copy_of(template, tmp_path)
    clock = FakeClock()
    setup = provision.write_state_dir(state, BASE_URL, OAuthServer(clock=clock))
    stranger = OAuthServer(clock=clock)
    setup_elsewhere = provision.write_state_dir(
        tmp_path / "other", BASE_URL, stranger, key_bits=1024
    )
    assert setup_elsewhere.consumer_key != setup.consumer_key
    assert await handshake(stranger, setup, clock) == "invalid consumer"


def test_unusable_key_file_is_reported_by_name(tmp_path: Path) -> None:
    state = tmp_path / "s"
    state.mkdir()
    (state / "private_signature.pem").write_text("not a key")
    with pytest.raises(provision.ProvisionError, match=r"private_signature\.pem"):
        provision.write_state_dir(state, BASE_URL, OAuthServer(), key_bits=1024)


def test_ibind_env_file_matches_ibind_settings(template: Path) -> None:
    text = (template / "ibind.env").read_text()
    exported = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            exported[name] = shlex.split(value)[0]
    config = tomllib.loads((template / "config.toml").read_text())["ibkr"]
    assert exported == {
        "IBIND_USE_OAUTH": "true",
        "IBIND_OAUTH1A_REST_URL": BASE_URL,
        "IBIND_OAUTH1A_WS_URL": "ws://127.0.0.1:8123/v1/api/ws",
        "IBIND_OAUTH1A_CONSUMER_KEY": config["consumer_key"],
        "IBIND_OAUTH1A_REALM": "limited_poa",
        "IBIND_OAUTH1A_ACCESS_TOKEN": config["access_token"],
        "IBIND_OAUTH1A_ACCESS_TOKEN_SECRET": config["access_token_secret"],
        "IBIND_OAUTH1A_SIGNATURE_KEY_FP": str(template / "private_signature.pem"),
        "IBIND_OAUTH1A_ENCRYPTION_KEY_FP": str(template / "private_encryption.pem"),
        "IBIND_OAUTH1A_DH_PRIME": DATA["dh"]["prime_hex"],
        "IBIND_OAUTH1A_DH_GENERATOR": "2",
    }


def test_ibtui_config_loader_accepts_the_folder(template: Path) -> None:
    settings = load_settings(config_path=template / "config.toml", env={}, require_credentials=True)
    ibkr = settings.ibkr
    assert ibkr.base_url == BASE_URL and ibkr.first_party
    assert ibkr.signature_key == template / "private_signature.pem"
    credentials = load_credentials(ibkr, template / "tokens.json")
    config = tomllib.loads((template / "config.toml").read_text())["ibkr"]
    assert credentials.consumer_key == config["consumer_key"]
    assert credentials.access_token == config["access_token"]
    assert credentials.token_source == "config" and not credentials.needs_login
    assert credentials.dh == DH
