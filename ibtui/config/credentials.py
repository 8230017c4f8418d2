"""Load the OAuth material the settings point to: keys, DH parameters, access token.

Parsing is :mod:`ibtui.ibkr.oauth`'s (``load_rsa_key``, ``parse_dh_params``,
``decrypt_access_token_secret``); this module reads the files, checks them the way ssh checks a
private key and turns every failure into a :class:`CredentialsError` that names the file, what it
should hold and how to fix it, without ever showing key material or the secret.
"""

from __future__ import annotations

import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from Crypto.Math.Primality import COMPOSITE, test_probable_prime
from Crypto.PublicKey.RSA import RsaKey

from ibtui.config.settings import IbkrSettings
from ibtui.config.tokens import StoredTokens, load_tokens
from ibtui.ibkr.oauth import (
    DHParams,
    OAuthFormatError,
    decrypt_access_token_secret,
    load_rsa_key,
    parse_dh_params,
)
from ibtui.local.files import ConfigError, check_private_permissions

__all__ = ["Credentials", "CredentialsError", "KeyFileError", "dh_weakness", "load_credentials"]

DH_PRIME_BITS = 2048
# The 2048-bit MODP group of RFC 3526 (group 14), which `ibtui init` writes: known prime.
RFC3526_GROUP14_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
TokenSource = Literal["config", "token_file"]

_SIGNATURE_ROLE = "the RSA private key (PEM) used to sign requests"
_ENCRYPTION_ROLE = "the RSA private key (PEM) that decrypts the access token secret"
_DH_ROLE = (
    "the Diffie-Hellman parameters (PEM '-----BEGIN DH PARAMETERS-----', "
    "made with `openssl dhparam -out dhparam.pem 2048`)"
)


def _armour(label: str) -> str:
    """The first line of a PEM block of ``label`` (the messages name the lines a key file holds;
    built here so that the source holds no key armour of its own)."""
    return f"-----BEGIN {label}-----"


class CredentialsError(ConfigError):
    """Credential material is missing, unreadable or wrong."""


class KeyFileError(CredentialsError):
    """A key or DH parameter file is missing or does not hold what it should."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True, eq=False, repr=False, slots=True)
class Credentials:
    """Everything the OAuth layer needs; ``access_token`` is None until a login provides one.

    The repr masks the tokens and the keys; slots keep them out of ``vars()`` (a private key's
    own repr shows its private numbers)."""

    consumer_key: str
    realm: str
    signature_key: RsaKey
    encryption_key: RsaKey
    dh: DHParams
    access_token: str | None = None
    access_token_secret: str | None = None  # base64 ciphertext, as IBKR issues it
    is_paper: bool | None = None
    token_source: TokenSource | None = None

    @property
    def needs_login(self) -> bool:
        """True when neither the config nor the token file supplies an access token."""
        return self.access_token is None or self.access_token_secret is None

    def __repr__(self) -> str:
        def masked(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"Credentials(consumer_key={self.consumer_key!r}, realm={self.realm!r}, "
            f"signature_key=<RSA {self.signature_key.size_in_bits()}-bit private key>, "
            f"encryption_key=<RSA {self.encryption_key.size_in_bits()}-bit private key>, "
            f"dh=<{self.dh.bits}-bit prime, g={self.dh.generator}>, "
            f"access_token={masked(self.access_token)}, "
            f"access_token_secret={masked(self.access_token_secret)}, "
            f"is_paper={self.is_paper}, token_source={self.token_source!r})"
        )


def _not_set(key: str) -> CredentialsError:
    return CredentialsError(
        f"'ibkr.{key}' is not set (add it under [ibkr] in the config file "
        f"or set IBTUI_IBKR_{key.upper()})"
    )


def _read(path: Path, setting: str, role: str, *, private: bool) -> bytes:
    """The bytes of ``path``; for a private key, refuse group/other access first."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyFileError(path, f"no such file ({setting}); it should contain {role}") from None
    except OSError as exc:
        raise KeyFileError(path, f"cannot access it ({setting}): {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(path, f"not a regular file ({setting}); it should contain {role}")
    if private:
        check_private_permissions(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(path, f"cannot read it ({setting}): {exc.strerror}") from None


def _load_private_key(path: Path, setting: str, role: str) -> RsaKey:
    data = _read(path, setting, role, private=True)
    text = data.decode("ascii", "replace")
    expected = (
        f"it should contain {role}: '{_armour('RSA PRIVATE KEY')}' (PKCS#1) or "
        f"'{_armour('PRIVATE KEY')}' (PKCS#8)"
    )
    if _armour("ENCRYPTED PRIVATE KEY") in text or "Proc-Type: 4,ENCRYPTED" in text:
        raise KeyFileError(
            path,
            f"the private key is protected by a passphrase ({setting}); ibtui needs it "
            f"unencrypted: openssl pkey -in {shlex.quote(str(path))} -out NEW_FILE, "
            "then chmod 600 NEW_FILE",
        )
    if "BEGIN DH PARAMETERS" in text:
        raise KeyFileError(path, f"holds DH parameters, not an RSA key ({setting}); {expected}")
    try:
        key = load_rsa_key(data)
    except OAuthFormatError:
        raise KeyFileError(path, f"not an RSA key in PEM format ({setting}); {expected}") from None
    if not key.has_private():
        raise KeyFileError(
            path,
            f"holds a PUBLIC key, but {setting} must be the PRIVATE key; the public half is "
            "what you upload to IBKR, keep the private one here",
        )
    return key


def _load_dh(path: Path) -> DHParams:
    data = _read(path, "ibkr.dh_params", _DH_ROLE, private=False)
    try:
        params = parse_dh_params(data)
    except OAuthFormatError as exc:
        raise KeyFileError(
            path, f"not valid DH parameters ({exc}); it should contain {_DH_ROLE}"
        ) from None
    if params.bits != DH_PRIME_BITS:
        raise KeyFileError(
            path,
            f"the DH prime has {params.bits} bits; IBKR uses {DH_PRIME_BITS}-bit parameters "
            "(`openssl dhparam -out dhparam.pem 2048`, then register the file with IBKR)",
        )
    weakness = dh_weakness(params)
    if weakness is not None:
        raise KeyFileError(
            path,
            f"{weakness}, so the key exchange would not be secure; make new parameters "
            "(`openssl dhparam -out dhparam.pem 2048`) and register them with IBKR",
        )
    return params


def dh_weakness(params: DHParams) -> str | None:
    """What makes ``params`` unfit for the exchange, or None: g must lie in 2..p-2 (g = 1 or
    p-1 confines the shared secret to {1, p-1}) and p must be prime (Miller-Rabin rounds and a
    Lucas test, false positives below 1e-30: about 20 ms of CPU for 2048 bits, once per start;
    the published safe prime ``ibtui init`` writes is known and skips it)."""
    prime, generator = params.prime, params.generator
    if not 2 <= generator <= prime - 2:
        shown = "p-1" if generator == prime - 1 else str(generator)
        return f"the DH generator g = {shown} is not between 2 and p-2"
    if prime != RFC3526_GROUP14_PRIME and test_probable_prime(prime) == COMPOSITE:
        return "the DH prime p is not a prime number"
    return None


def _tokens(
    ibkr: IbkrSettings, token_file: Path | None
) -> tuple[StoredTokens | None, TokenSource | None]:
    if ibkr.access_token is not None and ibkr.access_token_secret is not None:
        return StoredTokens(ibkr.access_token, ibkr.access_token_secret, None), "config"
    stored = None if token_file is None else load_tokens(token_file)
    return stored, ("token_file" if stored is not None else None)


def load_credentials(ibkr: IbkrSettings, token_file: Path | None) -> Credentials:
    """Read and check every file ``ibkr`` names; tokens from the config, else ``token_file``
    (None: ignore any stored token, as a new login does).

    The access token secret is test-decrypted with the encryption key, so a wrong key or a
    secret damaged when copied is reported here rather than as a 401 later. Raises
    :class:`CredentialsError` / :class:`KeyFileError`, :class:`ibtui.local.files.InsecureFileError`
    (all :class:`ConfigError`).
    """
    if ibkr.consumer_key is None:
        raise _not_set("consumer_key")
    if ibkr.signature_key is None:
        raise _not_set("signature_key")
    if ibkr.encryption_key is None:
        raise _not_set("encryption_key")
    if ibkr.dh_params is None:
        raise _not_set("dh_params")
    encryption_path = ibkr.encryption_key

    signature_key = _load_private_key(ibkr.signature_key, "ibkr.signature_key", _SIGNATURE_ROLE)
    encryption_key = _load_private_key(encryption_path, "ibkr.encryption_key", _ENCRYPTION_ROLE)
    dh = _load_dh(ibkr.dh_params)

    tokens, source = _tokens(ibkr, token_file)
    if tokens is not None:
        try:
            decrypt_access_token_secret(encryption_key, tokens.access_token_secret)
        except OAuthFormatError as exc:
            if source == "config":
                origin = "ibkr.access_token_secret"
                fix = "check that it was copied completely and that ibkr.encryption_key is right"
            else:
                origin = f"the access token secret stored in {token_file}"
                fix = f"delete {token_file} and log in again (ibtui login)"
            raise CredentialsError(
                f"{origin} does not fit the encryption key {encryption_path} ({exc}); {fix}"
            ) from None
    return Credentials(
        consumer_key=ibkr.consumer_key,
        realm=ibkr.realm,
        signature_key=signature_key,
        encryption_key=encryption_key,
        dh=dh,
        access_token=tokens.access_token if tokens else None,
        access_token_secret=tokens.access_token_secret if tokens else None,
        is_paper=tokens.is_paper if tokens else None,
        token_source=source,
    )
