"""Loading the key material: what works, and a precise, secret-free message for what does not."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from Crypto.PublicKey import RSA
from Crypto.Util.asn1 import DerSequence

from ibtui.config import IbkrSettings, load_settings, save_tokens
from ibtui.config.credentials import (
    RFC3526_GROUP14_PRIME,
    Credentials,
    CredentialsError,
    KeyFileError,
    dh_weakness,
    load_credentials,
)
from ibtui.ibkr.oauth import (
    DHParams,
    decrypt_access_token_secret,
    dh_params_pem,
    load_rsa_key,
    parse_dh_params,
)
from ibtui.local.files import ConfigError, InsecureFileError

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")

VECTORS = json.loads(
    (Path(__file__).parent.parent / "data" / "oauth_vectors.json").read_text(encoding="utf-8")
)
SIGNATURE_PEM: str = VECTORS["keys"]["signature"]["private_pem_pkcs8"]
ENCRYPTION_PEM: str = VECTORS["keys"]["encryption"]["private_pem_pkcs8"]
DH_PEM: str = VECTORS["dh"]["dhparam_pem"]
DH_PARAMS = parse_dh_params(DH_PEM)
CREDS = VECTORS["credentials"]
TOKEN: str = CREDS["access_token"]
SECRET: str = CREDS["access_token_secret"]

SMALL_KEY = RSA.generate(1024)  # once per module: a key of the wrong size for the secret


def secret_fragments() -> list[str]:
    """Strings that must never show up in a message or a repr."""
    keys = [RSA.import_key(SIGNATURE_PEM), RSA.import_key(ENCRYPTION_PEM)]
    pem_lines = [line for pem in (SIGNATURE_PEM, ENCRYPTION_PEM) for line in pem.splitlines()[1:-1]]
    return [
        SECRET,
        SECRET[:24],
        TOKEN,
        CREDS["prepend"],
        *(str(k.d) for k in keys),
        *(str(k.p) for k in keys),
        *pem_lines[:3],
    ]


def assert_no_secret(text: str) -> None:
    for fragment in secret_fragments():
        assert fragment not in text


@pytest.fixture(autouse=True)
def platform_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def write(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    path.chmod(mode)
    return path


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A config folder like a first-party user has it; returns the config path."""
    folder = tmp_path / "conf"
    write(folder / "private_signature.pem", SIGNATURE_PEM)
    write(folder / "private_encryption.pem", ENCRYPTION_PEM)
    write(folder / "dhparam.pem", DH_PEM, mode=0o644)  # public: no permission check
    return write(
        folder / "config.toml",
        f"""[ibkr]
consumer_key = "{CREDS["consumer_key"]}"
signature_key = "private_signature.pem"
encryption_key = "private_encryption.pem"
dh_params = "dhparam.pem"
access_token = "{TOKEN}"
access_token_secret = "{SECRET}"
""",
    )


def third_party(config: Path) -> Path:
    """Drop the first-party token lines from the config."""
    lines = config.read_text().splitlines()
    config.write_text("\n".join(ln for ln in lines if not ln.startswith("access_token")) + "\n")
    return config


def load(config: Path, env: dict[str, str] | None = None) -> Credentials:
    settings = load_settings(config, env=env or {}, require_credentials=True)
    return load_credentials(settings.ibkr, settings.token_file)


def failure(config: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(config, env)
    message = str(info.value)
    assert_no_secret(message)
    return message


# --- what works -----------------------------------------------------------------------------


def test_first_party_credentials_load_from_the_config(setup: Path) -> None:
    creds = load(setup)
    assert creds.consumer_key == "IBTUITEST" and creds.realm == "limited_poa"
    assert creds.signature_key.n == RSA.import_key(SIGNATURE_PEM).n
    assert creds.signature_key.has_private() and creds.encryption_key.has_private()
    assert creds.encryption_key.n == RSA.import_key(ENCRYPTION_PEM).n
    assert creds.dh.prime == int(VECTORS["dh"]["prime_hex"], 16) and creds.dh.generator == 2
    assert (creds.access_token, creds.access_token_secret) == (TOKEN, SECRET)
    assert creds.token_source == "config" and not creds.needs_login
    # the material is usable: the secret decrypts to the vector's prepend
    assert creds.access_token_secret is not None
    plaintext = decrypt_access_token_secret(creds.encryption_key, creds.access_token_secret)
    assert plaintext.hex() == CREDS["prepend"]


def test_pkcs1_keys_load_too(setup: Path) -> None:
    folder = setup.parent
    pkcs1 = RSA.import_key(SIGNATURE_PEM).export_key(pkcs=1)
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    write(folder / "private_signature.pem", pkcs1)
    assert load(setup).signature_key.n == RSA.import_key(SIGNATURE_PEM).n


def test_third_party_without_token_file_needs_login(setup: Path, tmp_path: Path) -> None:
    creds = load(third_party(setup))
    assert creds.needs_login and creds.token_source is None
    assert creds.access_token is None and creds.access_token_secret is None


def test_third_party_tokens_come_from_the_token_file(setup: Path, tmp_path: Path) -> None:
    config = third_party(setup)
    settings = load_settings(config, env={}, require_credentials=True)
    save_tokens(settings.token_file, TOKEN, SECRET, is_paper=True)
    creds = load_credentials(settings.ibkr, settings.token_file)
    assert (creds.access_token, creds.access_token_secret) == (TOKEN, SECRET)
    assert creds.is_paper is True and creds.token_source == "token_file"
    assert not creds.needs_login


def test_config_tokens_win_over_the_token_file(setup: Path) -> None:
    settings = load_settings(setup, env={}, require_credentials=True)
    write(settings.token_file, "{broken")  # not even read
    assert load_credentials(settings.ibkr, settings.token_file).token_source == "config"


def test_testcons_gets_the_test_realm(setup: Path) -> None:
    creds = load(setup, env={"IBTUI_IBKR_CONSUMER_KEY": "TESTCONS"})
    assert (creds.consumer_key, creds.realm) == ("TESTCONS", "test_realm")


def test_repr_and_str_show_no_secret_material(setup: Path) -> None:
    creds = load(setup)
    for text in (repr(creds), str(creds)):
        assert_no_secret(text)
        assert "signature_key=<RSA 2048-bit private key>" in text
        assert "dh=<2048-bit prime, g=2>" in text
        assert "access_token='***'" in text and "access_token_secret='***'" in text
    with pytest.raises(TypeError):  # no __dict__: a dump of it cannot show a key's numbers
        vars(creds)


# --- key files: permissions, missing, unparseable, public --------------------------------------


@pytest.mark.parametrize("setting", ["signature", "encryption"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_private_key_readable_by_others_is_refused(setup: Path, setting: str, mode: int) -> None:
    key = setup.parent / f"private_{setting}.pem"
    key.chmod(mode)
    with pytest.raises(InsecureFileError):
        load(setup)
    assert failure(setup) == (
        f"{key}: permissions {mode:04o} are too open: this file holds secret material and must "
        f"be accessible only by you. Fix: chmod 600 {key}"
    )


@pytest.mark.parametrize(
    ("setting", "role"),
    [
        ("signature", "the RSA private key (PEM) used to sign requests"),
        ("encryption", "the RSA private key (PEM) that decrypts the access token secret"),
    ],
)
def test_missing_key_file_names_the_file_and_its_content(
    setup: Path, setting: str, role: str
) -> None:
    key = setup.parent / f"private_{setting}.pem"
    key.unlink()
    with pytest.raises(KeyFileError) as info:
        load(setup)
    assert info.value.path == key
    assert str(info.value) == f"{key}: no such file (ibkr.{setting}_key); it should contain {role}"


def test_unparseable_key_names_the_expected_format(setup: Path) -> None:
    key = write(setup.parent / "private_signature.pem", "hello, I am not a key\n")
    assert failure(setup) == (
        f"{key}: not an RSA key in PEM format (ibkr.signature_key); it should contain the RSA "
        "private key (PEM) used to sign requests: '-----BEGIN RSA PRIVATE KEY-----' (PKCS#1) "
        "or '-----BEGIN PRIVATE KEY-----' (PKCS#8)"
    )


def test_truncated_key_is_unparseable(setup: Path) -> None:
    key = write(setup.parent / "private_encryption.pem", ENCRYPTION_PEM[: len(ENCRYPTION_PEM) // 2])
    assert failure(setup).startswith(f"{key}: not an RSA key in PEM format (ibkr.encryption_key)")


def test_public_key_where_the_private_one_belongs(setup: Path) -> None:
    public = RSA.import_key(SIGNATURE_PEM).public_key().export_key()
    key = write(setup.parent / "private_signature.pem", public)
    assert failure(setup) == (
        f"{key}: holds a PUBLIC key, but ibkr.signature_key must be the PRIVATE key; the "
        "public half is what you upload to IBKR, keep the private one here"
    )


def test_passphrase_protected_key_is_explained(setup: Path) -> None:
    locked = RSA.import_key(ENCRYPTION_PEM).export_key(passphrase="pw", pkcs=1)
    key = write(setup.parent / "private_encryption.pem", locked)
    message = failure(setup)
    assert message.startswith(
        f"{key}: the private key is protected by a passphrase (ibkr.encryption_key)"
    )
    assert f"openssl pkey -in {key} -out NEW_FILE" in message


def test_passphrase_protected_pkcs8_key_is_explained(setup: Path) -> None:
    locked = RSA.import_key(SIGNATURE_PEM).export_key(
        passphrase="pw", pkcs=8, protection="PBKDF2WithHMAC-SHA1AndAES128-CBC"
    )
    assert locked.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = write(setup.parent / "private_signature.pem", locked)
    assert failure(setup).startswith(
        f"{key}: the private key is protected by a passphrase (ibkr.signature_key)"
    )


def test_dh_parameters_in_a_key_slot(setup: Path) -> None:
    key = write(setup.parent / "private_signature.pem", DH_PEM)
    assert failure(setup).startswith(
        f"{key}: holds DH parameters, not an RSA key (ibkr.signature_key)"
    )


def test_directory_in_a_key_slot(setup: Path) -> None:
    key = setup.parent / "private_signature.pem"
    key.unlink()
    key.mkdir()
    assert failure(setup).startswith(f"{key}: not a regular file (ibkr.signature_key)")


# --- DH parameters --------------------------------------------------------------------------


def test_missing_dh_file_names_what_it_should_contain(setup: Path) -> None:
    dh = setup.parent / "dhparam.pem"
    dh.unlink()
    assert failure(setup) == (
        f"{dh}: no such file (ibkr.dh_params); it should contain the Diffie-Hellman parameters "
        "(PEM '-----BEGIN DH PARAMETERS-----', made with `openssl dhparam -out dhparam.pem 2048`)"
    )


def test_rsa_key_in_the_dh_slot_is_not_dh_parameters(setup: Path) -> None:
    dh = write(setup.parent / "dhparam.pem", SIGNATURE_PEM)
    message = failure(setup)
    assert message.startswith(f"{dh}: not valid DH parameters (no '-----BEGIN DH PARAMETERS-----'")
    assert "openssl dhparam -out dhparam.pem 2048" in message


def test_garbled_dh_block(setup: Path) -> None:
    dh = write(setup.parent / "dhparam.pem", DH_PEM.replace("MIIBCAKCAQEA", "MIIBCAKCAQ"))
    assert failure(setup).startswith(f"{dh}: not valid DH parameters (")


@pytest.mark.parametrize(
    ("params", "weakness"),
    [
        (DHParams(prime=(1 << 2047) + 2, generator=2), "the DH prime p is not a prime number"),
        (  # no small factor: two 1024-bit primes (an RSA modulus), past the trial division
            DHParams(prime=load_rsa_key(SIGNATURE_PEM).n, generator=2),
            "the DH prime p is not a prime number",
        ),
        (
            DHParams(prime=DH_PARAMS.prime, generator=DH_PARAMS.prime - 1),
            "the DH generator g = p-1 is not between 2 and p-2",
        ),
    ],
    ids=["even", "composite", "g=p-1"],
)
def test_weak_dh_parameters_are_refused_when_loaded(
    setup: Path, params: DHParams, weakness: str
) -> None:
    assert params.bits == 2048
    dh = write(setup.parent / "dhparam.pem", dh_params_pem(params))
    assert failure(setup) == (
        f"{dh}: {weakness}, so the key exchange would not be secure; make new parameters "
        "(`openssl dhparam -out dhparam.pem 2048`) and register them with IBKR"
    )


def test_the_known_dh_primes_pass_the_check() -> None:
    assert dh_weakness(DH_PARAMS) is None  # IBKR's TESTCONS prime (the vectors)
    assert dh_weakness(DHParams(prime=RFC3526_GROUP14_PRIME, generator=2)) is None  # ibtui init


def test_dh_prime_of_the_wrong_size(setup: Path) -> None:
    small = DHParams(prime=(1 << 1023) | 1, generator=2)
    dh = write(setup.parent / "dhparam.pem", dh_params_pem(small))
    assert failure(setup) == (
        f"{dh}: the DH prime has 1024 bits; IBKR uses 2048-bit parameters "
        "(`openssl dhparam -out dhparam.pem 2048`, then register the file with IBKR)"
    )


def test_dh_third_integer_is_ignored(setup: Path) -> None:
    prime = int(VECTORS["dh"]["prime_hex"], 16)
    der = DerSequence([prime, 2, 256]).encode()
    body = base64.encodebytes(der).decode()
    write(
        setup.parent / "dhparam.pem",
        f"-----BEGIN DH PARAMETERS-----\n{body}-----END DH PARAMETERS-----\n",
    )
    assert load(setup).dh.prime == prime


# --- settings and tokens --------------------------------------------------------------------


def test_unset_settings_name_the_key_and_variable(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as info:
        load_credentials(IbkrSettings(), tmp_path / "tokens.json")
    assert str(info.value) == (
        "'ibkr.consumer_key' is not set (add it under [ibkr] in the config file "
        "or set IBTUI_IBKR_CONSUMER_KEY)"
    )
    with pytest.raises(CredentialsError, match="IBTUI_IBKR_DH_PARAMS"):
        load_credentials(
            IbkrSettings(
                consumer_key="ABCDEFGHI",
                signature_key=tmp_path / "s",
                encryption_key=tmp_path / "e",
            ),
            tmp_path / "tokens.json",
        )


def test_config_secret_that_does_not_fit_the_encryption_key(setup: Path) -> None:
    # the signature key is a valid 2048-bit key, but not the one IBKR encrypted to
    env = {"IBTUI_IBKR_ENCRYPTION_KEY": str(setup.parent / "private_signature.pem")}
    message = failure(setup, env)
    assert message == (
        f"ibkr.access_token_secret does not fit the encryption key "
        f"{setup.parent / 'private_signature.pem'} (the access token secret cannot be "
        "decrypted with this encryption key); check that it was copied completely and that "
        "ibkr.encryption_key is right"
    )


def test_token_file_secret_from_another_key_says_to_log_in_again(setup: Path) -> None:
    config = third_party(setup)
    write(config.parent / "private_encryption.pem", SMALL_KEY.export_key())
    settings = load_settings(config, env={}, require_credentials=True)
    save_tokens(settings.token_file, TOKEN, SECRET, is_paper=False)
    message = failure(config)
    assert message.startswith(
        f"the access token secret stored in {settings.token_file} does not fit the encryption "
        f"key {config.parent / 'private_encryption.pem'} (the access token secret does not "
        "match the encryption key's size"
    )
    assert message.endswith(f"delete {settings.token_file} and log in again (ibtui login)")


def test_world_readable_token_file_is_refused(setup: Path) -> None:
    config = third_party(setup)
    settings = load_settings(config, env={}, require_credentials=True)
    save_tokens(settings.token_file, TOKEN, SECRET, is_paper=None)
    settings.token_file.chmod(0o640)
    assert failure(config).startswith(f"{settings.token_file}: permissions 0640 are too open")
