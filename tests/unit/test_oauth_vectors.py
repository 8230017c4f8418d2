"""Every vector of tests/data/oauth_vectors.json, reproduced intermediate by intermediate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from ibtui.ibkr import oauth

DATA = json.loads((Path(__file__).parent.parent / "data" / "oauth_vectors.json").read_text())
VECTORS: dict[str, dict[str, Any]] = {v["id"]: v for v in DATA["vectors"]}
SIGNATURE_KEY = oauth.load_rsa_key(DATA["keys"]["signature"]["private_pem_pkcs8"])
ENCRYPTION_KEY = oauth.load_rsa_key(DATA["keys"]["encryption"]["private_pem_pkcs8"])
DH = oauth.parse_dh_params(DATA["dh"]["dhparam_pem"])


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [v for v in DATA["vectors"] if v["kind"] == kind]


def ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def realm_last(header: str) -> str:
    """The IBKR-sample form: the same items with realm sorted in among the others."""
    items = header.removeprefix("OAuth ").split(", ")
    return "OAuth " + ", ".join(sorted(items, key=lambda item: item.split("=", 1)[0]))


def test_every_vector_kind_is_covered() -> None:
    kinds = {v["kind"] for v in DATA["vectors"]}
    assert kinds == {
        "percent_encode",
        "dhparam_parse",
        "access_token_secret_decrypt",
        "request_token",
        "access_token",
        "live_session_token",
        "api_request",
        "authorization_header_parse",
    }


@pytest.mark.parametrize("case", VECTORS["percent-encoding"]["cases"], ids=lambda c: c["input"])
def test_percent_encoding(case: dict[str, str]) -> None:
    assert oauth.percent_encode(case["input"]) == case["expected"]


def test_dhparam_parse() -> None:
    vector = VECTORS["dhparam-parse"]
    params = oauth.parse_dh_params(vector["inputs"]["dhparam_pem"])
    assert format(params.prime, "x") == vector["output"]["prime_hex"]
    assert params.bits == vector["output"]["prime_bits"] == 2048
    assert params.generator == vector["output"]["generator"]
    # and the PEM we write for the simulator's consumers parses back to the same numbers
    assert oauth.parse_dh_params(oauth.dh_params_pem(params)) == params


@pytest.mark.parametrize("pem_form", ["private_pem_pkcs8", "private_pem_pkcs1"])
def test_access_token_secret_decrypt(pem_form: str) -> None:
    vector = VECTORS["access-token-secret-decrypt"]
    key = oauth.load_rsa_key(DATA["keys"]["encryption"][pem_form])
    secret = vector["inputs"]["access_token_secret"]
    assert base64.b64decode(secret).hex() == vector["intermediate"]["ciphertext_hex"]
    plaintext = oauth.decrypt_access_token_secret(key, secret)
    assert len(plaintext) == vector["intermediate"]["plaintext_len"]
    assert plaintext.hex() == vector["output"]["prepend"] == DATA["credentials"]["prepend"]


def test_secret_does_not_decrypt_with_the_signature_key() -> None:
    secret = VECTORS["access-token-secret-decrypt"]["inputs"]["access_token_secret"]
    with pytest.raises(oauth.OAuthFormatError, match="cannot be decrypted"):
        oauth.decrypt_access_token_secret(SIGNATURE_KEY, secret)


@pytest.mark.parametrize(
    "vector",
    of_kind("request_token") + of_kind("access_token"),
    ids=ids(of_kind("request_token") + of_kind("access_token")),
)
def test_rsa_signed_token_requests(vector: dict[str, Any]) -> None:
    inputs, inter, out = vector["inputs"], vector["intermediate"], vector["output"]
    params = inputs["oauth_params"]
    assert oauth.param_string(params.items()) == inter["param_string"]
    signed = oauth.sign_rsa_request(
        inputs["method"], inputs["url"], inputs["realm"], params, SIGNATURE_KEY
    )
    assert signed.base_string == inter["base_string"]
    assert signed.signature == inter["signature_base64"]
    assert oauth.percent_encode(signed.signature) == out["oauth_signature"]
    assert signed.header == out["authorization_header"]
    assert realm_last(signed.header) == out["authorization_header_realm_last"]
    public = oauth.load_rsa_key(DATA["keys"]["signature"]["public_pem"])
    assert oauth.rsa_sha256_verify(public, inter["base_string"], signed.signature)


def test_authorize_url_names_the_request_token() -> None:
    vector = VECTORS["third-party-access-token"]
    token = vector["inputs"]["oauth_params"]["oauth_token"]
    assert vector["inputs"]["authorize_url"].endswith(f"?oauth_token={token}")


LST_VECTORS = of_kind("live_session_token")


@pytest.mark.parametrize("vector", LST_VECTORS, ids=ids(LST_VECTORS))
def test_live_session_token_request(vector: dict[str, Any]) -> None:
    inputs, inter, out = vector["inputs"], vector["intermediate"], vector["request_output"]
    assert format(DH.prime, "x") == DATA[inputs["dh_prime_ref"].split(".")[0]]["prime_hex"]
    plaintext = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, inputs["access_token_secret"])
    prepend = plaintext.hex()
    assert prepend == inter["prepend"]
    a = int(inputs["dh_random_a_hex"], 16)
    challenge = oauth.dh_challenge(DH, a)
    assert challenge == inter["diffie_hellman_challenge"]
    params = {
        "diffie_hellman_challenge": challenge,
        "oauth_consumer_key": inputs["consumer_key"],
        "oauth_nonce": inputs["oauth_nonce"],
        "oauth_signature_method": oauth.RSA_SHA256,
        "oauth_timestamp": inputs["oauth_timestamp"],
        "oauth_token": inputs["access_token"],
    }
    assert params == inter["oauth_params"]
    assert oauth.param_string(params.items()) == inter["param_string"]
    signed = oauth.sign_rsa_request(
        inputs["method"], inputs["url"], inputs["realm"], params, SIGNATURE_KEY, prepend
    )
    assert signed.base_string == inter["base_string_without_prepend"]
    assert prepend + signed.base_string == inter["base_string"]
    assert signed.signature == inter["signature_base64"]
    assert oauth.percent_encode(signed.signature) == out["oauth_signature"]
    assert signed.header == out["authorization_header"]
    assert realm_last(signed.header) == out["authorization_header_realm_last"]


@pytest.mark.parametrize("vector", LST_VECTORS, ids=ids(LST_VECTORS))
def test_live_session_token_derivation(vector: dict[str, Any]) -> None:
    inputs, derivation = vector["inputs"], vector["derivation"]
    response = vector["server_side"]["response"]
    a = int(inputs["dh_random_a_hex"], 16)
    secret = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, inputs["access_token_secret"])

    shared = pow(int(response["diffie_hellman_response"], 16), a, DH.prime)
    assert format(shared, "x") == derivation["K_hex"]
    assert shared.bit_length() == derivation["K_bit_length"]
    kb = oauth.k_bytes(shared)
    assert kb.hex() == derivation["K_bytes_hex"]
    assert len(kb) == derivation["K_bytes_len"]

    lst = oauth.compute_lst(DH, a, response["diffie_hellman_response"], secret)
    assert base64.b64encode(lst).decode() == derivation["live_session_token"]
    assert lst.hex() == derivation["live_session_token_bytes_hex"]
    assert (
        oauth.lst_signature(lst, inputs["consumer_key"])
        == derivation["live_session_token_signature"]
    )
    assert oauth.validate_lst(lst, inputs["consumer_key"], response["live_session_token_signature"])


@pytest.mark.parametrize("vector", LST_VECTORS, ids=ids(LST_VECTORS))
def test_live_session_token_server_side(vector: dict[str, Any]) -> None:
    """The simulator's half: from the client's challenge and its own b, the same LST."""
    inter, server = vector["intermediate"], vector["server_side"]
    b = int(server["dh_random_b_hex"], 16)
    assert oauth.dh_challenge(DH, b) == server["response"]["diffie_hellman_response"]
    secret = bytes.fromhex(inter["prepend"])
    lst = oauth.compute_lst(DH, b, inter["diffie_hellman_challenge"], secret)
    assert base64.b64encode(lst).decode() == vector["derivation"]["live_session_token"]


@pytest.mark.parametrize("vector", LST_VECTORS, ids=ids(LST_VECTORS))
def test_buggy_k_byte_forms_give_the_wrong_lst(vector: dict[str, Any]) -> None:
    """The two common K-byte bugs: where they differ from the Java form, the LST fails."""
    inputs, derivation, negative = vector["inputs"], vector["derivation"], vector["negative"]
    a = int(inputs["dh_random_a_hex"], 16)
    b_hex = vector["server_side"]["response"]["diffie_hellman_response"]
    shared = pow(int(b_hex, 16), a, DH.prime)
    secret = bytes.fromhex(vector["intermediate"]["prepend"])
    correct = derivation["live_session_token"]

    def lst_from(key: bytes) -> str:
        return base64.b64encode(hmac.new(key, secret, hashlib.sha1).digest()).decode()

    unsigned = shared.to_bytes((shared.bit_length() + 7) // 8, "big")
    padded = shared.to_bytes(256, "big")
    assert lst_from(unsigned) == negative["lst_if_K_bytes_unsigned_minimal"]
    assert lst_from(padded) == negative["lst_if_K_bytes_left_padded_to_256"]
    for wrong_key, wrong in ((unsigned, lst_from(unsigned)), (padded, lst_from(padded))):
        if wrong_key != oauth.k_bytes(shared):
            assert wrong != correct
            lst_raw = base64.b64decode(wrong)
            signature = vector["server_side"]["response"]["live_session_token_signature"]
            assert not oauth.validate_lst(lst_raw, inputs["consumer_key"], signature)
    # the four vectors between them exercise both bugs
    assert shared.bit_length() % 8 != 0 or oauth.k_bytes(shared)[0] == 0


def test_k_byte_vectors_cover_both_buggy_forms() -> None:
    differs_unsigned = differs_padded = False
    for vector in LST_VECTORS:
        negative, correct = vector["negative"], vector["derivation"]["live_session_token"]
        differs_unsigned |= negative["lst_if_K_bytes_unsigned_minimal"] != correct
        differs_padded |= negative["lst_if_K_bytes_left_padded_to_256"] != correct
    assert differs_unsigned and differs_padded


API_VECTORS = of_kind("api_request")


@pytest.mark.parametrize("vector", API_VECTORS, ids=ids(API_VECTORS))
def test_api_request_signing(vector: dict[str, Any]) -> None:
    inputs, inter, out = vector["inputs"], vector["intermediate"], vector["output"]
    base_url, query = oauth.split_url(inputs["url"])
    assert base_url == inter["base_url"]
    assert [list(pair) for pair in query] == [list(p) for p in inter["query_params"] or []]
    assert base64.b64decode(inputs["live_session_token"]).hex() == inter["hmac_key_hex"]
    params = {
        "oauth_consumer_key": inputs["consumer_key"],
        "oauth_nonce": inputs["oauth_nonce"],
        "oauth_signature_method": oauth.HMAC_SHA256,
        "oauth_timestamp": inputs["oauth_timestamp"],
        "oauth_token": inputs["access_token"],
    }
    assert oauth.realm_for(inputs["consumer_key"]) == inputs["realm"]
    assert oauth.param_string([*params.items(), *query]) == inter["param_string"]
    signed = oauth.sign_hmac_request(
        inputs["method"], inputs["url"], inputs["realm"], params, inputs["live_session_token"]
    )
    assert signed.base_string == inter["base_string"]
    assert signed.signature == inter["signature_base64"]
    assert oauth.percent_encode(signed.signature) == out["oauth_signature"]
    assert signed.header == out["authorization_header"]
    assert realm_last(signed.header) == out["authorization_header_realm_last"]


@pytest.mark.parametrize(
    "vector",
    [v for v in API_VECTORS if "accepted_variants" in v],
    ids=ids([v for v in API_VECTORS if "accepted_variants" in v]),
)
def test_api_request_accepted_variants(vector: dict[str, Any]) -> None:
    """The base strings other clients produce for queried requests (the simulator accepts them)."""
    inputs, variants = vector["inputs"], vector["accepted_variants"]
    params = {
        "oauth_consumer_key": inputs["consumer_key"],
        "oauth_nonce": inputs["oauth_nonce"],
        "oauth_signature_method": oauth.HMAC_SHA256,
        "oauth_timestamp": inputs["oauth_timestamp"],
        "oauth_token": inputs["access_token"],
    }
    base_url, _ = oauth.split_url(inputs["url"])
    omitted = oauth.base_string(inputs["method"], base_url, params.items())
    in_url = oauth.base_string(inputs["method"], inputs["url"], params.items())
    lst = inputs["live_session_token"]
    for base, variant in ((omitted, "query_omitted"), (in_url, "query_in_url")):
        assert base == variants[variant]["base_string"]
        signature = oauth.hmac_sha256_sign(lst, base)
        assert oauth.percent_encode(signature) == variants[variant]["oauth_signature"]
        header = oauth.authorization_header(
            inputs["realm"], {**params, "oauth_signature": signature}
        )
        assert header == variants[variant]["authorization_header"]


@pytest.mark.parametrize("header", VECTORS["authorization-header-parse"]["inputs"])
def test_authorization_header_parse(header: str) -> None:
    expected = dict(VECTORS["authorization-header-parse"]["output"])
    expected.pop("oauth_signature_as_sent")
    assert oauth.parse_authorization_header(header) == expected


def test_credentials_block_is_consistent() -> None:
    creds = DATA["credentials"]
    plaintext = oauth.decrypt_access_token_secret(ENCRYPTION_KEY, creds["access_token_secret"])
    assert plaintext.hex() == creds["access_token_secret_plaintext_hex"] == creds["prepend"]
    assert oauth.realm_for(creds["consumer_key"]) == creds["realm"]
