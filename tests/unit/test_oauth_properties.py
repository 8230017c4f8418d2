"""Property-based and negative tests for the OAuth core."""

from __future__ import annotations

import base64
import json
import string
from pathlib import Path
from unittest import mock
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibtui.ibkr import oauth

DATA = json.loads((Path(__file__).parent.parent / "data" / "oauth_vectors.json").read_text())
DH = oauth.parse_dh_params(DATA["dh"]["dhparam_pem"])
UNRESERVED = set(string.ascii_letters + string.digits + "-._~")
LST = "nYcvFhg42IdVz2Im0uCojcMWyas="

names = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=20)
values = st.text(max_size=40)  # arbitrary unicode: spaces, &=+%/, quotes, emoji, ...


@given(st.text())
def test_encoding_leaves_exactly_the_unreserved_set_alone(text: str) -> None:
    encoded = oauth.percent_encode(text)
    # every literal character is unreserved, every other byte is %XX with upper-case hex
    i = 0
    while i < len(encoded):
        if encoded[i] == "%":
            assert all(c in "0123456789ABCDEF" for c in encoded[i + 1 : i + 3])
            i += 3
        else:
            assert encoded[i] in UNRESERVED
            i += 1
    assert unquote(encoded, errors="strict") == text
    assert encoded == "".join(
        ch if ch in UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text
    )


@given(st.dictionaries(names, values, min_size=1, max_size=8), st.text(max_size=20))
def test_header_build_parse_round_trip(params: dict[str, str], realm: str) -> None:
    params.pop("realm", None)
    header = oauth.authorization_header(realm, params)
    assert oauth.parse_authorization_header(header) == {"realm": realm, **params}


@given(st.lists(st.tuples(names, values), max_size=10), st.randoms())
def test_base_string_is_independent_of_parameter_order(
    params: list[tuple[str, str]], rnd: object
) -> None:
    shuffled = list(params)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    url = "https://api.ibkr.com/v1/api/x"
    assert oauth.base_string("GET", url, params) == oauth.base_string("GET", url, shuffled)


@given(st.lists(st.tuples(names, values), min_size=1, max_size=6))
def test_query_parameters_survive_the_wire(query: list[tuple[str, str]]) -> None:
    """What the client puts in the URL is what split_url (and so the server) reads back."""
    url = "https://api.ibkr.com/v1/api/x?" + "&".join(
        f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in query
    )
    base_url, parsed = oauth.split_url(url)
    assert base_url == "https://api.ibkr.com/v1/api/x"
    assert parsed == query


@given(st.text(min_size=1, max_size=60))
def test_signed_request_verifies_and_any_change_breaks_it(payload: str) -> None:
    params = {
        "oauth_consumer_key": "IBTUITEST",
        "oauth_nonce": "n0nce",
        "oauth_signature_method": oauth.HMAC_SHA256,
        "oauth_timestamp": "1735732800",
        "oauth_token": "51bcd62fee798d942b04",
    }
    url = "https://api.ibkr.com/v1/api/x?q=" + quote(payload, safe="")
    signed = oauth.sign_hmac_request("GET", url, "limited_poa", params, LST)
    assert oauth.hmac_sha256_verify(LST, signed.base_string, signed.signature)
    tampered = signed.base_string[:-1] + ("A" if signed.base_string[-1] != "A" else "B")
    assert not oauth.hmac_sha256_verify(LST, tampered, signed.signature)


def test_base_url_normalisation() -> None:
    assert oauth.normalize_base_url("HTTPS://API.IBKR.COM:443/v1/api/x?y=1#f") == (
        "https://api.ibkr.com/v1/api/x"
    )
    assert oauth.normalize_base_url("http://127.0.0.1:8123/v1/api/x/") == (
        "http://127.0.0.1:8123/v1/api/x/"
    )
    with pytest.raises(oauth.OAuthFormatError):
        oauth.normalize_base_url("/v1/api/x")


@pytest.mark.parametrize(
    "header",
    [
        'Bearer realm="x"',
        'OAuth realm="a", realm="b"',
        "OAuth oauth_nonce=unquoted",
        'OAuth oauth_nonce="a" oauth_token="b"',
    ],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    with pytest.raises(oauth.OAuthFormatError):
        oauth.parse_authorization_header(header)


def test_dh_values_outside_the_group_are_rejected() -> None:
    secret = b"\x01" * 32
    for bad in (0, 1, DH.prime - 1, DH.prime, DH.prime + 5):
        with pytest.raises(oauth.OAuthFormatError, match="outside"):
            oauth.compute_lst(DH, 12345, format(bad, "x"), secret)
    for junk in ("not hex", "0x1f3", "1_f3", "+1f3", " 1f3", "", "１２３"):
        with pytest.raises(oauth.OAuthFormatError, match="hexadecimal"):
            oauth.compute_lst(DH, 12345, junk, secret)


def test_bad_dh_pem_is_rejected() -> None:
    with pytest.raises(oauth.OAuthFormatError, match="BEGIN DH PARAMETERS"):
        oauth.parse_dh_params(DATA["keys"]["signature"]["public_pem"])
    broken = "-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n"
    with pytest.raises(oauth.OAuthFormatError):
        oauth.parse_dh_params(broken)


def test_secret_errors_are_specific() -> None:
    key = oauth.load_rsa_key(DATA["keys"]["encryption"]["private_pem_pkcs8"])
    with pytest.raises(oauth.OAuthFormatError, match="not valid base64"):
        oauth.decrypt_access_token_secret(key, "***")
    with pytest.raises(oauth.OAuthFormatError, match="copied completely"):
        oauth.decrypt_access_token_secret(key, base64.b64encode(b"short").decode())
    public = oauth.load_rsa_key(DATA["keys"]["encryption"]["public_pem"])
    with pytest.raises(oauth.OAuthFormatError, match="private encryption key"):
        oauth.decrypt_access_token_secret(public, DATA["credentials"]["access_token_secret"])
    with pytest.raises(oauth.OAuthFormatError, match="not an RSA key"):
        oauth.load_rsa_key("-----BEGIN RSA PRIVATE KEY-----\ngarbage\n")


def test_a_secret_for_another_key_of_the_same_size_is_a_format_error() -> None:
    # A ciphertext as long as the key but not below its modulus (as a secret encrypted for
    # another key of the same size can be) once escaped as pycryptodome's bare ValueError.
    key = oauth.load_rsa_key(DATA["keys"]["encryption"]["private_pem_pkcs8"])
    too_large = base64.b64encode(b"\xff" * key.size_in_bytes()).decode()
    with pytest.raises(oauth.OAuthFormatError, match="cannot be decrypted with this"):
        oauth.decrypt_access_token_secret(key, too_large)


def test_secret_round_trip_through_the_simulator_side() -> None:
    key = oauth.load_rsa_key(DATA["keys"]["encryption"]["private_pem_pkcs1"])
    secret = bytes(range(32))
    encrypted = oauth.encrypt_access_token_secret(key.public_key(), secret)
    assert oauth.decrypt_access_token_secret(key, encrypted) == secret


def test_dh_round_trip_gives_both_sides_the_same_valid_lst() -> None:
    a, b = oauth.generate_dh_exponent(), oauth.generate_dh_exponent()
    secret = bytes(range(32))
    client = oauth.compute_lst(DH, a, oauth.dh_challenge(DH, b), secret)
    server = oauth.compute_lst(DH, b, oauth.dh_challenge(DH, a), secret)
    assert client == server and len(client) == 20
    assert oauth.validate_lst(client, "IBTUITEST", oauth.lst_signature(server, "IBTUITEST"))
    assert not oauth.validate_lst(client, "OTHER", oauth.lst_signature(server, "IBTUITEST"))


def test_nonces_and_timestamps() -> None:
    nonces = {oauth.generate_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(len(n) == 16 and n.isalnum() and n.isascii() for n in nonces)
    readings = iter([100.9, 99.0, 101.2])
    stamp = oauth.Timestamper(lambda: next(readings))
    assert [stamp(), stamp(), stamp()] == ["100", "100", "101"]


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=40))
def test_a_nonce_maps_random_bytes_evenly_and_reads_them_in_one_go(
    pool: bytes, length: int
) -> None:
    # the random bytes the system gives (repeated as needed): each under 248 is one character,
    # byte % 62 of [A-Za-z0-9]; 248 and up are skipped, so every character is equally likely
    reads: list[int] = []
    stream = iter(pool * 1000 + bytes(range(62)) * length)

    def token_bytes(n: int) -> bytes:
        reads.append(n)
        return bytes(next(stream) for _ in range(n))

    with mock.patch.object(oauth.secrets, "token_bytes", token_bytes):
        nonce = oauth.generate_nonce(length)
    alphabet = string.ascii_letters + string.digits
    usable = [b for b in (pool * 1000)[: sum(reads)] if b < 248]
    expected = "".join(alphabet[b % 62] for b in usable)[:length]
    assert len(nonce) == length and nonce.isascii() and nonce.isalnum()
    if len(expected) == length:
        assert nonce == expected
    if all(b < 248 for b in pool):
        assert len(reads) == 1  # one read of the system's random bytes for the whole nonce


def test_signed_request_repr_hides_the_material() -> None:
    params = {"oauth_consumer_key": "K", "oauth_nonce": "n", "oauth_timestamp": "1"}
    signed = oauth.sign_hmac_request("GET", "https://h/x", "limited_poa", params, LST)
    assert signed.signature not in repr(signed)
    assert LST not in repr(signed)
    assert str(DH.prime) not in repr(DH)
