"""A ready first-party consumer setup for clients of the simulator (OAUTH.md §9).

:func:`write_state_dir` plays the consumer *and* IBKR's self-service portal: it generates (or
reuses) the two RSA key pairs and the DH parameters in a folder, registers the consumer with an
:class:`~ibtui.sim.oauth_server.OAuthServer`, issues (or re-installs) a first-party access token
and writes ``config.toml`` for ``ibtui --config`` plus ``ibind.env`` for ibind.
"""

from __future__ import annotations

import json
import secrets
import shlex
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from Crypto.PublicKey import RSA
from Crypto.PublicKey.RSA import RsaKey

from ibtui.ibkr.oauth import (
    DHParams,
    OAuthFormatError,
    decrypt_access_token_secret,
    dh_params_pem,
    load_rsa_key,
    parse_dh_params,
    realm_for,
)
from ibtui.local.files import ensure_private_dir, write_private
from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.oauth_tokens import TESTCONS_DH_PRIME, Consumer

__all__ = [
    "CONFIG_FILE",
    "DH_FILE",
    "ENCRYPTION_KEY_FILE",
    "IBIND_ENV_FILE",
    "SIGNATURE_KEY_FILE",
    "TESTCONS_DH_PRIME",
    "ConsumerSetup",
    "ProvisionError",
    "ibind_environment",
    "write_state_dir",
]

CONFIG_FILE = "config.toml"
SIGNATURE_KEY_FILE = "private_signature.pem"
ENCRYPTION_KEY_FILE = "private_encryption.pem"
DH_FILE = "dhparam.pem"
IBIND_ENV_FILE = "ibind.env"

_CONSUMER_KEY_ALPHABET = string.digits + string.ascii_uppercase


class ProvisionError(Exception):
    """The state folder holds material that cannot be used (the message names the file)."""


@dataclass(frozen=True)
class ConsumerSetup:
    """What a client needs to talk to the simulator; every path is absolute."""

    state_dir: Path
    config_path: Path
    base_url: str
    consumer_key: str
    realm: str
    access_token: str
    access_token_secret: str = field(repr=False)  # base64 ciphertext, as the portal shows it
    signature_key_path: Path
    encryption_key_path: Path
    dh_params_path: Path
    dh: DHParams
    ibind_env_path: Path


def write_state_dir(
    directory: Path,
    base_url: str,
    server: OAuthServer,
    *,
    key_bits: int = 2048,
    is_paper: bool = True,
) -> ConsumerSetup:
    """Provision ``directory`` for a client of ``server`` reachable at ``base_url``.

    Keys and DH parameters already in the folder are reused, and so are the consumer key and the
    access token of a previous ``config.toml`` when its secret still decrypts with the folder's
    encryption key; so a client configured once keeps working across restarts (only
    ``base_url`` is rewritten). Private files are written atomically with mode 0600.
    """
    directory = directory.expanduser().absolute()
    ensure_private_dir(directory)
    signature_key = _load_or_create_key(directory / SIGNATURE_KEY_FILE, key_bits)
    encryption_key = _load_or_create_key(directory / ENCRYPTION_KEY_FILE, key_bits)
    dh = _load_or_create_dh(directory / DH_FILE)
    previous = _previous_settings(directory / CONFIG_FILE)

    consumer_key = previous.get("consumer_key") or _new_consumer_key()
    realm = realm_for(consumer_key)
    server.register_consumer(Consumer(consumer_key, realm, signature_key, encryption_key, dh))
    token = _reinstall_token(server, consumer_key, encryption_key, previous, is_paper)
    if token is None:
        token = server.provision_access_token(consumer_key, is_paper=is_paper)
    access_token, secret = token

    setup = ConsumerSetup(
        state_dir=directory,
        config_path=directory / CONFIG_FILE,
        base_url=base_url,
        consumer_key=consumer_key,
        realm=realm,
        access_token=access_token,
        access_token_secret=secret,
        signature_key_path=directory / SIGNATURE_KEY_FILE,
        encryption_key_path=directory / ENCRYPTION_KEY_FILE,
        dh_params_path=directory / DH_FILE,
        dh=dh,
        ibind_env_path=directory / IBIND_ENV_FILE,
    )
    write_private(setup.config_path, config_toml(setup))
    write_private(setup.ibind_env_path, ibind_env_file(setup))
    return setup


def _load_or_create_key(path: Path, bits: int) -> RsaKey:
    if path.exists():
        try:
            key = load_rsa_key(path.read_bytes())
        except OAuthFormatError as exc:
            raise ProvisionError(f"{path}: not an RSA private key in PEM format") from exc
        if not key.has_private():
            raise ProvisionError(f"{path}: holds a public key, a private key is needed")
        return key
    key = RSA.generate(bits)
    write_private(path, key.export_key("PEM", pkcs=8))
    return key


def _load_or_create_dh(path: Path) -> DHParams:
    if path.exists():
        try:
            return parse_dh_params(path.read_bytes())
        except OAuthFormatError as exc:
            raise ProvisionError(f"{path}: not a DH PARAMETERS file") from exc
    params = DHParams(prime=TESTCONS_DH_PRIME, generator=2)
    write_private(path, dh_params_pem(params))
    return params


def _previous_settings(path: Path) -> dict[str, str]:
    """The string values of ``[ibkr]`` in an earlier config.toml (empty when unusable)."""
    try:
        section = tomllib.loads(path.read_text("utf-8")).get("ibkr", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    if not isinstance(section, dict):
        return {}
    return {k: v for k, v in section.items() if isinstance(v, str) and v}


def _reinstall_token(
    server: OAuthServer,
    consumer_key: str,
    encryption_key: RsaKey,
    previous: dict[str, str],
    is_paper: bool,
) -> tuple[str, str] | None:
    token, secret = previous.get("access_token"), previous.get("access_token_secret")
    if token is None or secret is None or previous.get("consumer_key") != consumer_key:
        return None
    try:
        plaintext = decrypt_access_token_secret(encryption_key, secret)
    except OAuthFormatError:
        return None  # the keys changed: issue a new token
    server.install_access_token(consumer_key, token, plaintext, is_paper=is_paper)
    return token, secret


def _new_consumer_key() -> str:
    """Nine characters of ``[0-9A-Z]``, like the self-service portal's keys."""
    return "".join(secrets.choice(_CONSUMER_KEY_ALPHABET) for _ in range(9))


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII text is a valid TOML basic string


def config_toml(setup: ConsumerSetup) -> str:
    """``config.toml`` in the format ``ibtui.config`` reads (paths relative to the file)."""
    values = [
        ("base_url", setup.base_url),
        ("consumer_key", setup.consumer_key),
        ("realm", setup.realm),
        ("signature_key", SIGNATURE_KEY_FILE),
        ("encryption_key", ENCRYPTION_KEY_FILE),
        ("dh_params", DH_FILE),
        ("access_token", setup.access_token),
        ("access_token_secret", setup.access_token_secret),
    ]
    lines = [
        "# Written by `ibtui sim`: a first-party consumer of the simulated IBKR server.",
        "# Key paths are relative to this file's folder.",
        "[ibkr]",
        *(f"{name} = {_toml_string(value)}" for name, value in values),
    ]
    return "\n".join(lines) + "\n"


def ibind_environment(setup: ConsumerSetup) -> dict[str, str]:
    """ibind's OAuth 1.0a settings (``ibind/var.py``) for this setup."""
    ws_url = setup.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return {
        "IBIND_USE_OAUTH": "true",
        "IBIND_OAUTH1A_REST_URL": setup.base_url,
        "IBIND_OAUTH1A_WS_URL": ws_url.rstrip("/") + "/ws",
        "IBIND_OAUTH1A_CONSUMER_KEY": setup.consumer_key,
        "IBIND_OAUTH1A_REALM": setup.realm,
        "IBIND_OAUTH1A_ACCESS_TOKEN": setup.access_token,
        "IBIND_OAUTH1A_ACCESS_TOKEN_SECRET": setup.access_token_secret,
        "IBIND_OAUTH1A_SIGNATURE_KEY_FP": str(setup.signature_key_path),
        "IBIND_OAUTH1A_ENCRYPTION_KEY_FP": str(setup.encryption_key_path),
        "IBIND_OAUTH1A_DH_PRIME": format(setup.dh.prime, "x"),
        "IBIND_OAUTH1A_DH_GENERATOR": str(setup.dh.generator),
    }


def ibind_env_file(setup: ConsumerSetup) -> str:
    """The :func:`ibind_environment` as a POSIX shell file (``. ibind.env``)."""
    lines = ["# ibind settings for the simulated IBKR server; load with: . ibind.env"]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in ibind_environment(setup).items()]
    return "\n".join(lines) + "\n"
