"""IBKR OAuth 1.0a Extended: pure functions, no I/O.

Everything here follows ``OAUTH.md`` byte by byte: the strict percent-encoding, the signature base
string (with the live-session-token prepend), RSA-SHA256 and HMAC-SHA256 signatures, the
``Authorization`` header, the access-token-secret decryption and the Diffie-Hellman exchange that
yields the Live Session Token (LST). The client signs with these functions and the simulator
verifies with the same ones.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from Crypto.Cipher import PKCS1_v1_5 as PKCS1_v1_5_Cipher
from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.PublicKey.RSA import RsaKey
from Crypto.Signature import pkcs1_15
from Crypto.Util.asn1 import DerSequence

__all__ = [
    "HMAC_SHA256",
    "RSA_SHA256",
    "Consumer",
    "DHParams",
    "OAuthFormatError",
    "Secret",
    "SignedRequest",
    "Timestamper",
    "authorization_header",
    "base_string",
    "check_lst_signature_format",
    "compute_lst",
    "decrypt_access_token_secret",
    "dh_challenge",
    "dh_params_pem",
    "encrypt_access_token_secret",
    "generate_dh_exponent",
    "generate_nonce",
    "hmac_sha256_sign",
    "hmac_sha256_verify",
    "k_bytes",
    "load_rsa_key",
    "lst_signature",
    "mask_token",
    "normalize_base_url",
    "param_string",
    "parse_authorization_header",
    "parse_dh_params",
    "percent_encode",
    "realm_for",
    "rsa_sha256_sign",
    "rsa_sha256_verify",
    "sign_hmac_request",
    "sign_rsa_request",
    "split_url",
    "validate_lst",
]

RSA_SHA256 = "RSA-SHA256"
HMAC_SHA256 = "HMAC-SHA256"
_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_NONCE_ALPHABET = string.ascii_letters + string.digits
_NONCE_BASE = len(_NONCE_ALPHABET)
_NONCE_BYTE_LIMIT = 256 - 256 % _NONCE_BASE  # 248: the bytes that map to a character evenly


class OAuthFormatError(ValueError):
    """Malformed OAuth material: a header, a PEM file, a secret or a DH value."""


# --- keeping secrets out of reprs -----------------------------------------------------------


def mask_token(token: str | None) -> str:
    """A token as a repr may show it: its first 4 characters and "…" (enough to tell two
    tokens apart in a log, too few to use); a short one is masked whole."""
    if token is None:
        return "None"
    return token[:4] + "…" if len(token) >= 16 else "…"


class Secret:
    """Secret bytes held by an object (the decrypted access token secret): the holder's
    ``vars()``, a debugger or a traceback that shows locals sees ``Secret(<hidden>)``, never the
    bytes; :meth:`reveal` gives them to the code that needs them."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__


# --- encoding and base string (OAUTH.md §2, §3) ---------------------------------------------


def percent_encode(value: str) -> str:
    """E(x): UTF-8, keep ``A-Z a-z 0-9 - . _ ~``, every other byte as ``%XX`` (upper-case hex)."""
    return quote(value, safe="-._~")


def realm_for(consumer_key: str) -> str:
    """``test_realm`` for IBKR's shared ``TESTCONS`` key, ``limited_poa`` for every other key."""
    return "test_realm" if consumer_key == "TESTCONS" else "limited_poa"


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_base_url(url: str) -> str:
    """``scheme://host[:port]/path`` as the base string wants it: no query, no fragment,
    lower-case scheme and host, the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if not scheme or not host:
        raise OAuthFormatError(f"not an absolute URL: {url!r}")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def split_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    """The base URL and the decoded query parameters of ``url``, in the order they appear."""
    query = urlsplit(url).query
    return normalize_base_url(url), parse_qsl(query, keep_blank_values=True)


def _sorted(params: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(params, key=lambda item: (item[0].encode(), item[1].encode()))


def param_string(params: Iterable[tuple[str, str]]) -> str:
    """``name=value`` pairs sorted by name (then value), joined raw with ``&``."""
    return "&".join(f"{name}={value}" for name, value in _sorted(params))


def base_string(method: str, base_url: str, params: Iterable[tuple[str, str]]) -> str:
    """``METHOD&E(base_url)&E(param_string)``; ``base_url`` carries no query (see §3.4)."""
    return f"{method.upper()}&{percent_encode(base_url)}&{percent_encode(param_string(params))}"


# --- signatures (§4) ------------------------------------------------------------------------


def load_rsa_key(pem: bytes | str) -> RsaKey:
    """An RSA key from PEM (PKCS#1 or PKCS#8, private or public)."""
    try:
        return RSA.import_key(pem)
    except (ValueError, IndexError, TypeError) as exc:
        raise OAuthFormatError("not an RSA key in PEM format") from exc


def rsa_sha256_sign(key: RsaKey, text: str) -> str:
    """RSASSA-PKCS1-v1_5 over SHA-256 of the UTF-8 text; base64."""
    if not key.has_private():
        raise OAuthFormatError("signing needs the private signature key, got a public key")
    digest = SHA256.new(text.encode("utf-8"))
    return base64.b64encode(pkcs1_15.new(key).sign(digest)).decode("ascii")


def rsa_sha256_verify(key: RsaKey, text: str, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid RSA-SHA256 signature of ``text`` under ``key``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        pkcs1_15.new(key.public_key()).verify(SHA256.new(text.encode("utf-8")), signature)
    except (ValueError, binascii.Error, TypeError):
        return False
    return True


def _lst_key(lst: str) -> bytes:
    try:
        return base64.b64decode(lst, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise OAuthFormatError("the live session token is not base64") from exc


def hmac_sha256_sign(lst: str, text: str) -> str:
    """HMAC-SHA256 keyed by the base64-decoded LST over the UTF-8 text; base64."""
    mac = hmac.new(_lst_key(lst), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def hmac_sha256_verify(lst: str, text: str, signature_b64: str) -> bool:
    """Constant-time check of an HMAC-SHA256 signature."""
    expected = hmac_sha256_sign(lst, text)
    return hmac.compare_digest(expected.encode("ascii"), signature_b64.encode("utf-8", "replace"))


# --- the Authorization header (§5.1) --------------------------------------------------------


def authorization_header(realm: str, params: Mapping[str, str]) -> str:
    """``OAuth realm="…", name="E(value)", …`` with the other parameters sorted by name.

    ``params`` holds raw values (the signature as plain base64); each value is percent-encoded
    exactly once here.
    """
    items = [f'realm="{percent_encode(realm)}"']
    items += [f'{name}="{percent_encode(params[name])}"' for name in sorted(params)]
    return "OAuth " + ", ".join(items)


_HEADER_ITEM = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*"([^"]*)"\s*')


def parse_authorization_header(value: str) -> dict[str, str]:
    """Parse an ``OAuth`` header into decoded ``{name: value}``; ``realm`` included.

    Items may come in any order with optional whitespace around the commas; a repeated name, a
    missing scheme or an item that is not ``name="value"`` raises :class:`OAuthFormatError`.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "OAuth":
        raise OAuthFormatError("the Authorization header does not use the OAuth scheme")
    result: dict[str, str] = {}
    for raw in rest.split(","):
        if not raw.strip():
            continue
        match = _HEADER_ITEM.fullmatch(raw)
        if match is None:
            raise OAuthFormatError(f"malformed Authorization header item: {raw.strip()[:40]!r}")
        name, item_value = match.groups()
        if name in result:
            raise OAuthFormatError(f"repeated Authorization header parameter: {name}")
        result[name] = unquote(item_value)
    return result


# --- access token secret (§6) ---------------------------------------------------------------


def decrypt_access_token_secret(encryption_key: RsaKey, secret_b64: str) -> bytes:
    """The plaintext of the access token secret (RSAES-PKCS1-v1_5); its hex is the prepend."""
    try:
        ciphertext = base64.b64decode(secret_b64.strip(), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise OAuthFormatError("the access token secret is not valid base64") from exc
    if not encryption_key.has_private():
        raise OAuthFormatError("decryption needs the private encryption key, got a public key")
    if len(ciphertext) != encryption_key.size_in_bytes():
        raise OAuthFormatError(
            "the access token secret does not match the encryption key's size "
            "(was it copied completely, and is it the right encryption key?)"
        )
    sentinel = object()
    try:
        plaintext = PKCS1_v1_5_Cipher.new(encryption_key).decrypt(ciphertext, sentinel)
    except ValueError:  # a ciphertext of the right length but not below this key's modulus
        plaintext = sentinel
    if plaintext is sentinel or not isinstance(plaintext, bytes):
        raise OAuthFormatError(
            "the access token secret cannot be decrypted with this encryption key"
        )
    return plaintext


def encrypt_access_token_secret(public_encryption_key: RsaKey, plaintext: bytes) -> str:
    """Server side of §6: base64 of the PKCS#1 v1.5 ciphertext of the secret."""
    ciphertext = PKCS1_v1_5_Cipher.new(public_encryption_key.public_key()).encrypt(plaintext)
    return base64.b64encode(ciphertext).decode("ascii")


# --- Diffie-Hellman and the LST (§7) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DHParams:
    """Diffie-Hellman prime and generator."""

    prime: int = field(repr=False)
    generator: int

    @property
    def bits(self) -> int:
        return self.prime.bit_length()


@dataclass(frozen=True, slots=True)
class Consumer:
    """An OAuth consumer: its key, realm and the private material registered with IBKR.

    Plain data (here rather than with the session that uses it) so that the simulator's demo
    bootstrap can hand one over without importing the client."""

    consumer_key: str
    realm: str
    signature_key: RsaKey = field(repr=False)
    encryption_key: RsaKey = field(repr=False)
    dh: DHParams = field(repr=False)


_PEM_BLOCK = re.compile(
    r"-----BEGIN DH PARAMETERS-----(?P<body>[A-Za-z0-9+/=\s]+)-----END DH PARAMETERS-----"
)


def parse_dh_params(pem: bytes | str) -> DHParams:
    """p and g from a PKCS#3 ``DH PARAMETERS`` PEM (a third INTEGER is ignored)."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    match = _PEM_BLOCK.search(text)
    if match is None:
        raise OAuthFormatError("no '-----BEGIN DH PARAMETERS-----' block found")
    try:
        der = base64.b64decode("".join(match.group("body").split()), validate=True)
        seq = DerSequence()
        seq.decode(der, nr_elements=(2, 3), only_ints_expected=True)
        prime, generator = int(seq[0]), int(seq[1])
    except (ValueError, IndexError, TypeError, binascii.Error) as exc:
        raise OAuthFormatError("the DH PARAMETERS block is not a DER SEQUENCE of INTEGERs") from exc
    if prime < 3 or generator < 2 or generator >= prime:
        raise OAuthFormatError("the DH parameters are out of range")
    return DHParams(prime=prime, generator=generator)


def dh_params_pem(params: DHParams) -> str:
    """A PKCS#3 PEM for ``params`` (what ``openssl dhparam`` writes)."""
    der = DerSequence([params.prime, params.generator]).encode()
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN DH PARAMETERS-----\n" + "\n".join(lines) + "\n-----END DH PARAMETERS-----\n"


def generate_dh_exponent() -> int:
    """A 256-bit secret exponent from the CSPRNG (never below 2)."""
    while True:
        value = secrets.randbits(256)
        if value >= 2:
            return value


def dh_challenge(params: DHParams, exponent: int) -> str:
    """``hex(g^a mod p)``: lower case, no leading zeros."""
    return format(pow(params.generator, exponent, params.prime), "x")


def k_bytes(k: int) -> bytes:
    """Minimal big-endian two's-complement bytes of a positive ``K`` (Java ``toByteArray``)."""
    return k.to_bytes(k.bit_length() // 8 + 1, "big")


_HEX = re.compile(r"[0-9a-fA-F]{1,4096}")


def _parse_hex_int(value: str, what: str) -> int:
    """Plain hex digits only: ``int(x, 16)`` alone would also take ``0x``, ``_``, signs and
    spaces, which no IBKR peer sends."""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise OAuthFormatError(f"{what} is not a hexadecimal number")
    return int(value, 16)


def check_dh_public(params: DHParams, value: int) -> None:
    """Reject a DH public value outside ``1 < value < p-1``."""
    if not 1 < value < params.prime - 1:
        raise OAuthFormatError("the Diffie-Hellman value is outside 1 < x < p-1")


def compute_lst(
    params: DHParams, exponent: int, peer_public_hex: str, secret_plaintext: bytes
) -> bytes:
    """The raw 20-byte LST: HMAC-SHA1(K bytes, access token secret plaintext).

    ``peer_public_hex`` is the other side's DH value (B for the client, A for the server).
    """
    peer = _parse_hex_int(peer_public_hex, "the Diffie-Hellman response")
    check_dh_public(params, peer)
    shared = pow(peer, exponent, params.prime)
    return hmac.new(k_bytes(shared), secret_plaintext, hashlib.sha1).digest()


def lst_signature(lst_raw: bytes, consumer_key: str) -> str:
    """``hex(HMAC-SHA1(LST, consumer_key))``, what the server sends to prove the LST."""
    return hmac.new(lst_raw, consumer_key.encode("utf-8"), hashlib.sha1).hexdigest()


_SHA1_HEX = re.compile(r"[0-9a-fA-F]{40}")


def check_lst_signature_format(signature_hex: object) -> str:
    """The server's ``live_session_token_signature`` if it is what one looks like (the 40 hex
    digits of an HMAC-SHA1, surrounding whitespace allowed); else :class:`OAuthFormatError`."""
    text = signature_hex.strip() if isinstance(signature_hex, str) else None
    if text is None or not _SHA1_HEX.fullmatch(text):
        raise OAuthFormatError(
            "the live_session_token_signature is not the 40 hexadecimal digits of an HMAC-SHA1"
        )
    return text.lower()


def validate_lst(lst_raw: bytes, consumer_key: str, signature_hex: str) -> bool:
    """True when the server's ``live_session_token_signature`` matches our LST (any text that
    is not one is simply False)."""
    expected = lst_signature(lst_raw, consumer_key)
    given = signature_hex.strip().lower() if isinstance(signature_hex, str) else ""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


# --- nonces, timestamps, whole requests -----------------------------------------------------


def generate_nonce(length: int = 16) -> str:
    """A fresh nonce of ``[A-Za-z0-9]`` characters from the CSPRNG, read in one go: a byte
    under 248 (4 × 62) is a character (``byte % 62``, unbiased), a byte from 248 up is skipped.
    (``secrets.choice`` a character asked the system for random bytes once per character: 25
    system calls a signed request, measured as a quarter of the client's CPU when polling.)"""
    chars: list[str] = []
    while len(chars) < length:
        for byte in secrets.token_bytes(length - len(chars) + 4):
            if byte < _NONCE_BYTE_LIMIT:
                chars.append(_NONCE_ALPHABET[byte % _NONCE_BASE])
                if len(chars) == length:
                    break
    return "".join(chars)


class Timestamper:
    """Whole-second timestamps that never go backwards within a process (§5.2)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self._last = max(int(self._clock()), self._last)
            return str(self._last)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A signed request's OAuth material; ``header`` is the ``Authorization`` value."""

    base_string: str = field(repr=False)
    signature: str = field(repr=False)
    header: str = field(repr=False)
    params: Mapping[str, str] = field(repr=False)


def sign_rsa_request(
    method: str,
    url: str,
    realm: str,
    oauth_params: Mapping[str, str],
    key: RsaKey,
    prepend: str = "",
) -> SignedRequest:
    """Sign one of the three ``/oauth/*`` requests with RSA-SHA256.

    ``oauth_params`` are the header parameters of §3.1 without ``realm`` and the signature;
    ``prepend`` is set only for the live session token request.
    """
    base_url, query = split_url(url)
    base = base_string(method, base_url, [*oauth_params.items(), *query])
    signature = rsa_sha256_sign(key, prepend + base)
    params = {**oauth_params, "oauth_signature": signature}
    return SignedRequest(base, signature, authorization_header(realm, params), params)


def sign_hmac_request(
    method: str,
    url: str,
    realm: str,
    oauth_params: Mapping[str, str],
    lst: str,
) -> SignedRequest:
    """Sign an API request with HMAC-SHA256; query parameters join the base string (§3.4 (c))."""
    base_url, query = split_url(url)
    base = base_string(method, base_url, [*oauth_params.items(), *query])
    signature = hmac_sha256_sign(lst, base)
    params = {**oauth_params, "oauth_signature": signature}
    return SignedRequest(base, signature, authorization_header(realm, params), params)
