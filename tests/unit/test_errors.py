"""IBKR's error envelopes mapped to the error hierarchy, with messages a trader can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ibtui.ibkr import errors as e

CATALOG: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "data" / "examples" / "errors_catalog.json").read_text()
)

# catalogue entry ("when" prefix) -> (request path, expected class)
EXPECTED: dict[str, tuple[str, type[e.IbkrError]]] = {
    "any /iserver/* call before": ("/iserver/account/orders", e.NoBridgeError),
    "GET /iserver/account/pnl/partitioned before": (
        "/iserver/account/pnl/partitioned",
        e.AccountsNotQueriedError,
    ),
    "pnl/partitioned for an account": ("/iserver/account/pnl/partitioned", e.ApiStatusError),
    "POST /iserver/account with an unknown acctId": ("/iserver/account", e.ApiStatusError),
    "signed request with bad signature": ("/portfolio/accounts", e.SessionExpiredError),
    "POST /oauth/live_session_token with unknown consumer": (
        "/oauth/live_session_token",
        e.InvalidConsumerError,
    ),
    "rate limit exceeded": ("/iserver/marketdata/history", e.RateLimitedError),
    "backend did not answer": ("/iserver/marketdata/snapshot", e.ApiStatusError),
    "history with no bars": ("/iserver/marketdata/history", e.ApiStatusError),
    "POST /iserver/reply/{id} with unknown": ("/iserver/reply/3f9c2d2e", e.OrderRejectedError),
    "DELETE or modify of an unknown order": (
        "/iserver/account/DU4820311/order/1487203399",
        e.OrderRejectedError,
    ),
    "POST /iserver/marketdata/unsubscribe": ("/iserver/marketdata/unsubscribe", e.ApiStatusError),
}


def expectation(when: str) -> tuple[str, type[e.IbkrError]]:
    matches = [v for k, v in EXPECTED.items() if when.startswith(k)]
    assert len(matches) == 1, f"no expectation for catalogue entry {when!r}"
    return matches[0]


def encode(body: object) -> bytes:
    return (body if isinstance(body, str) else json.dumps(body)).encode()


@pytest.mark.parametrize("entry", CATALOG, ids=[c["when"][:40] for c in CATALOG])
def test_catalogue_entry_maps_to_its_class(entry: dict[str, Any]) -> None:
    path, cls = expectation(entry["when"])
    err = e.error_from_response(
        entry["status"], path + "?x=1", encode(entry["body"]), entry["content_type"]
    )
    assert type(err) is cls
    assert isinstance(err, e.IbkrError)
    assert getattr(err, "endpoint", None) == path  # query dropped
    text = entry["body"] if isinstance(entry["body"], str) else entry["body"]["error"]
    said = err.text if isinstance(err, e.OrderRejectedError) else getattr(err, "server_text", None)
    assert said == text  # IBKR's words are kept for the log and the details view
    if type(err) in (e.ApiStatusError, e.OrderRejectedError, e.AuthError):
        assert text in str(err)


def test_no_bridge_message_and_attributes() -> None:
    err = e.error_from_response(
        400,
        "https://api.ibkr.com/v1/api/iserver/account/orders?force=true",
        b'{"error":"Bad Request: no bridge","statusCode":400}',
        "application/json",
    )
    assert isinstance(err, e.NoBridgeError) and isinstance(err, e.ApiStatusError)
    assert err.status == 400 and err.endpoint == "/iserver/account/orders"
    assert err.server_text == "Bad Request: no bridge"
    assert "brokerage session" in str(err)


def test_503_says_try_again() -> None:
    err = e.error_from_response(503, "/iserver/marketdata/snapshot", b'{"error":"x"}', None)
    assert isinstance(err, e.ApiStatusError) and err.status == 503
    assert "try again" in str(err)


def test_429_reads_retry_after_seconds_and_http_date() -> None:
    err = e.error_from_response(429, "/tickle", b"", None, retry_after="7")
    assert isinstance(err, e.RateLimitedError)
    assert err.retry_after == 7.0 and err.endpoint == "/tickle"
    assert "wait 7 s" in str(err)
    no_header = e.error_from_response(429, "/tickle", b"", None)
    assert isinstance(no_header, e.RateLimitedError) and no_header.retry_after is None
    now = datetime(2024, 11, 4, 15, 0, 0, tzinfo=UTC)
    assert e.parse_retry_after("Mon, 04 Nov 2024 15:00:30 GMT", now=now) == 30.0
    assert e.parse_retry_after("soon") is None
    assert e.parse_retry_after("-3") == 0.0
    assert e.parse_retry_after("nan") is None


def test_401_text_plain_and_json_envelopes() -> None:
    plain = e.error_from_response(401, "/iserver/accounts", b"invalid signature", "text/plain")
    assert isinstance(plain, e.SessionExpiredError) and plain.server_text == "invalid signature"
    assert "ibtui login" in str(plain)
    consumer = e.error_from_response(
        401,
        "oauth/live_session_token",
        b'{"error":"id: 39687, error: invalid consumer","statusCode":401}',
        "application/json",
    )
    assert isinstance(consumer, e.InvalidConsumerError) and isinstance(consumer, e.AuthError)
    assert "consumer_key" in str(consumer)
    other = e.error_from_response(
        401,
        "/oauth/live_session_token",
        b'{"error":"id: 1, error: LST failed, error: No access secret key found for X"}',
        "application/json",
    )
    assert type(other) is e.AuthError and "No access secret key" in str(other)
    verifier = e.error_from_response(401, "/oauth/access_token", b"invalid verifier", None)
    assert isinstance(verifier, e.VerifierError)


def test_410_is_a_session_to_rebuild() -> None:
    err = e.error_from_response(410, "/iserver/auth/ssodh/init", b"Gone", "text/plain")
    assert isinstance(err, e.SessionExpiredError) and err.status == 410


def test_competing_text() -> None:
    err = e.error_from_response(
        401 + 99, "/iserver/account/orders", b'{"error":"competing session"}', None
    )
    assert isinstance(err, e.CompetingSessionError)
    assert "Another IBKR login" in str(err)


def test_order_5xx_is_left_for_the_caller_to_judge() -> None:
    err = e.error_from_response(500, "/iserver/account/DU1/orders", b'{"error":"boom"}', None)
    assert type(err) is e.ApiStatusError  # not a rejection: the outcome may be unknown
    rejected = e.error_from_response(
        400, "/iserver/account/DU1/orders", b'{"error":"Order couldn\'t be submitted"}', None
    )
    assert isinstance(rejected, e.OrderRejectedError) and rejected.status == 400


def test_successful_answer_without_error_is_protocol_error() -> None:
    err = e.error_from_response(200, "/iserver/accounts", b'{"accounts":[]}', "application/json")
    assert isinstance(err, e.ProtocolError) and err.endpoint == "/iserver/accounts"


def test_unparseable_and_huge_bodies_are_shortened() -> None:
    body = b"<html>" + b"A" * 10_000 + b"</html>"
    err = e.error_from_response(502, "/tickle", body, "text/html")
    assert isinstance(err, e.ApiStatusError)
    assert err.server_text is not None and len(err.server_text) <= 200
    assert len(str(err)) < 400
    bad_json = e.error_from_response(500, "/tickle", b'{"error": ', "application/json")
    assert isinstance(bad_json, e.ApiStatusError) and bad_json.server_text == '{"error":'
    binary = e.error_from_response(500, "/tickle", b"\xff\xfe\x00", None)
    assert isinstance(binary, e.ApiStatusError)


def test_secrets_in_server_text_are_redacted() -> None:
    body = b'invalid signature for oauth_token="abcd1234", oauth_signature=c2VjcmV0 and more'
    err = e.error_from_response(401, "/portfolio/accounts", body, "text/plain")
    assert "abcd1234" not in str(err) and "c2VjcmV0" not in str(err)
    assert "oauth_token=<redacted>" in str(err)


def test_order_outcome_unknown_and_rejected_messages() -> None:
    unknown = e.OrderOutcomeUnknownError("ibtui-1", "the connection dropped after sending")
    assert unknown.coid == "ibtui-1"
    assert "may or may not have reached IBKR" in str(unknown)
    assert "order list" in str(unknown)
    rejected = e.OrderRejectedError("Insufficient funds")
    assert str(rejected) == "IBKR rejected the order: Insufficient funds"


def test_transport_errors() -> None:
    conn = e.ApiConnectionError("/tickle", "connection refused")
    timeout = e.ApiTimeoutError("/tickle", timeout=10)
    assert "Cannot reach IBKR" in str(conn) and conn.endpoint == "/tickle"
    assert "limit 10 s" in str(timeout)


def test_auth_errors_take_a_custom_message() -> None:
    err = e.LstValidationError("keys do not match")
    assert str(err) == "keys do not match" and isinstance(err, e.AuthError)
    assert "do not match" in str(e.LstValidationError())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/iserver/account/DU1/orders", True),
        ("/iserver/account/DU1/orders/whatif", True),
        ("/iserver/account/DU1/order/123", True),
        ("/iserver/reply/abc-def", True),
        ("iserver/reply/abc/", True),
        ("/iserver/account/orders", False),
        ("/iserver/account/order/status/123", False),
        ("/iserver/account/trades", False),
        ("/portfolio/accounts", False),
    ],
)
def test_order_action_paths(path: str, expected: bool) -> None:
    assert e.is_order_action_path(path) is expected


def test_endpoint_path_normalises() -> None:
    assert e.endpoint_path("http://127.0.0.1:5000/v1/api/tickle?x=1") == "/tickle"
    assert e.endpoint_path("/v1/api/iserver/account/trades/") == "/iserver/account/trades"
    assert e.endpoint_path("portfolio//accounts#frag") == "/portfolio/accounts"
    assert e.endpoint_path("/") == "/"
