"""A hostile or broken server cannot crash the client, fill its memory or mislead the trader.

* the live session token exchange: any text or JSON value in its three fields is either a usable
  token or one clear error (never a TypeError), and an expiry that is no usable instant (NaN, past,
  absurdly far) costs one Diffie-Hellman exchange, not one per request, and is said once;
* an answer larger than the cap is refused with a clear error, having read no more than the cap
  (declared, streamed, compressed, on a 401, for an order, for the token exchange);
* a TLS certificate that cannot be verified says so (and is not retried, and no order outcome is
  "unknown" for it), a refused connection says it was refused;
* a 500 while exchanging the verifier says the server failed, not that the verifier was wrong;
* an answer that cannot be read names the log file that holds what was received.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import logging
import math
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.ibkr.connect import Connection, connect
from ibtui.ibkr.errors import (
    ApiConnectionError,
    ApiStatusError,
    IbkrError,
    LstValidationError,
    OrderOutcomeUnknownError,
    ProtocolError,
    ResponseTooLargeError,
    TlsVerificationError,
    VerifierError,
)
from ibtui.ibkr.http_client import BODY_LIMIT, new_http_client
from ibtui.ibkr.login import ThirdPartyLogin
from ibtui.ibkr.models import OrderRequest, OrderType, Side
from ibtui.ibkr.pacing import Pacer, RetryPolicy
from ibtui.ibkr.session import (
    DEFAULT_LST_LIFETIME,
    MAX_LST_LIFETIME,
    MIN_LST_LIFETIME,
    AccessCredentials,
    LiveSession,
    lst_expiry,
)
from ibtui.logfile import setup_logging, stop_logging
from ibtui.sim import PAPER_ACCOUNT
from ibtui.sim.demo import DemoEnvironment, build_demo

LST_PATH = "/v1/api/oauth/live_session_token"
BASE = "https://api.ibkr.com/v1/api/"
CHUNK = 64 * 1024


@functools.cache
def _world() -> tuple[DemoEnvironment, AccessCredentials]:
    demo = build_demo(key_bits=1024)
    return demo, AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))


def unpaced() -> Pacer:
    return Pacer(global_limit=None, rules=())


def through(demo: DemoEnvironment, wire: httpx.AsyncBaseTransport) -> Connection:
    """A connection to the simulator over ``wire``, with a fresh access token and no pacing."""
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    return connect(demo.base_url, demo.consumer, access, transport=wire, pacer=unpaced())


class Hostile(httpx.AsyncBaseTransport):
    """The simulator behind a man in the middle: ``answer(request)`` may replace its answer."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        answer: Callable[[httpx.Request], httpx.Response | None],
    ) -> None:
        self.inner = inner
        self.answer = answer
        self.lst_requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == LST_PATH:
            self.lst_requests += 1
        replaced = self.answer(request)
        if replaced is not None:
            return replaced
        return await self.inner.handle_async_request(request)


class Flood(httpx.AsyncByteStream):
    """``total`` bytes in 64 KB chunks, counting what the client actually pulled."""

    def __init__(self, total: int, byte: bytes = b" ") -> None:
        self.total = total
        self.byte = byte
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            size = min(CHUNK, self.total - self.sent)
            self.sent += size
            yield self.byte * size


# --- the live session token exchange ----------------------------------------------------------


def lst_answer(text: str) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(
            200, content=text.encode(), headers={"content-type": "application/json"}
        )
    )


async def exchange(transport: httpx.AsyncBaseTransport) -> float:
    demo, access = _world()
    async with new_http_client(transport=transport) as http:
        # an empty Diffie-Hellman answer is asked again (with back-off): no waiting here
        session = LiveSession(http, BASE, demo.consumer, access, sleep=_no_wait)
        return (await session.current_lst()).expires_at


async def _no_wait(seconds: float) -> None:
    return None


def expect_one_line_error(body: dict[str, object]) -> IbkrError:
    with pytest.raises(IbkrError) as caught:
        asyncio.run(exchange(lst_answer(json.dumps(body))))
    text = str(caught.value)
    assert text and "\n" not in text
    return caught.value


def good_lst_fields() -> dict[str, object]:
    return {
        "diffie_hellman_response": "5" * 64,
        "live_session_token_signature": "0" * 40,
        "live_session_token_expiration": (time.time() + 86400) * 1000,
    }


def test_a_non_ascii_lst_signature_is_a_protocol_error_not_a_type_error() -> None:
    error = expect_one_line_error({**good_lst_fields(), "live_session_token_signature": "ä" * 40})
    assert isinstance(error, ProtocolError)
    assert "live_session_token_signature is not the 40 hexadecimal digits" in str(error)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("live_session_token_signature", "", "live_session_token_signature"),
        ("live_session_token_signature", "f" * 4000, "live_session_token_signature"),
        ("live_session_token_signature", 1234, "live_session_token_signature"),
        ("diffie_hellman_response", "not hex", "Diffie-Hellman response is not"),
        ("diffie_hellman_response", "", "empty Diffie-Hellman response"),  # asked again first
        ("diffie_hellman_response", "f" * 100_000, "Diffie-Hellman response is not"),
        ("diffie_hellman_response", "0x1f", "Diffie-Hellman response is not"),
        ("diffie_hellman_response", "1", "outside 1 < x < p-1"),
        ("diffie_hellman_response", 12345, "no diffie_hellman_response"),
        ("diffie_hellman_response", None, "no diffie_hellman_response"),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_each_unusable_lst_field_is_a_clear_protocol_error(
    field: str, value: object, says: str
) -> None:
    error = expect_one_line_error({**good_lst_fields(), field: value})
    assert isinstance(error, ProtocolError)
    assert "/oauth/live_session_token" in str(error) or "oauth/live_session_token" in str(error)
    assert says in str(error)


def test_a_well_formed_signature_that_does_not_match_blames_the_keys() -> None:
    error = expect_one_line_error(good_lst_fields())
    assert isinstance(error, LstValidationError)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
text_fields = st.text() | st.text(alphabet="0123456789abcdefABCDEF \n") | json_values


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dh=text_fields, signature=text_fields, expiration=json_values)
def test_any_lst_answer_is_a_token_or_one_clear_error(
    dh: object, signature: object, expiration: object
) -> None:
    body = {
        "diffie_hellman_response": dh,
        "live_session_token_signature": signature,
        "live_session_token_expiration": expiration,
    }
    try:
        asyncio.run(exchange(lst_answer(json.dumps(body))))  # NaN and Infinity as JSON allows
    except (ProtocolError, LstValidationError) as exc:
        assert str(exc) and "\n" not in str(exc)


@given(value=json_values | st.from_type(float) | st.integers(min_value=-(10**30)))
def test_an_lst_expiry_is_always_a_usable_instant(value: object) -> None:
    now = 1_700_000_000.0
    expires_at, problem = lst_expiry(value, now)
    assert math.isfinite(expires_at)
    assert now + MIN_LST_LIFETIME <= expires_at <= now + MAX_LST_LIFETIME
    if problem is not None:
        assert expires_at == now + DEFAULT_LST_LIFETIME


class RewriteExpiry(Hostile):
    """The simulator's LST answer with ``live_session_token_expiration`` replaced by raw JSON
    text (``None``: left out)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, expiration_json: str | None) -> None:
        super().__init__(inner, lambda request: None)
        self.expiration_json = expiration_json

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path != LST_PATH or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        del body["live_session_token_expiration"]
        text = json.dumps(body)
        if self.expiration_json is not None:
            now_ms = time.time() * 1000
            value = self.expiration_json.format(
                an_hour_ago=round(now_ms - 3_600_000), in_two_seconds=round(now_ms + 2000)
            )
            text = text[:-1] + f', "live_session_token_expiration": {value}}}'
        return httpx.Response(200, content=text.encode(), headers=response.headers)


@pytest.mark.parametrize(
    ("expiration_json", "problem"),
    [
        ("NaN", "is not a finite number"),
        ("1e400", "is not a finite number"),
        ('"soon"', "is not a number"),
        ("0", "in the past"),
        ("{an_hour_ago}", "3600 s in the past"),
        ("{in_two_seconds}", "is only 2.0 s away"),
        ("1" + "0" * 30, "days away"),
        ("true", "is a bool"),
        (None, "is missing"),
    ],
)
async def test_an_unusable_lst_expiry_costs_one_exchange_and_is_said_once(
    demo: DemoEnvironment,
    caplog: pytest.LogCaptureFixture,
    expiration_json: str | None,
    problem: str,
) -> None:
    caplog.set_level(logging.INFO, logger="ibtui")
    wire = RewriteExpiry(demo.transport, expiration_json)
    async with through(demo, wire) as conn:
        await conn.start()
        for _ in range(20):
            assert await conn.client.portfolio_accounts()
        assert wire.lst_requests == 1  # one Diffie-Hellman exchange for all of them
        lst = conn.session.lst
        assert lst is not None
        assert lst.remaining(time.time()) == pytest.approx(DEFAULT_LST_LIFETIME, abs=60)
        demo.sim.faults.expire_lsts()  # the server ends it early: renewed on its 401, said once
        assert await conn.client.portfolio_accounts()
    assert wire.lst_requests == 2
    said = [
        r.getMessage() for r in caplog.records if "live_session_token_expiration" in r.getMessage()
    ]
    assert len(said) == 1
    assert problem in said[0] and "60 minutes" in said[0]


# --- the cap on an answer's size -------------------------------------------------------------


async def test_a_streamed_answer_over_the_cap_is_refused_having_read_no_more(
    demo: DemoEnvironment,
) -> None:
    flood = Flood(50 * 2**20)
    wire = Hostile(
        demo.transport,
        lambda r: httpx.Response(200, stream=flood) if r.url.path.endswith("/accounts") else None,
    )
    async with through(demo, wire) as conn:
        with pytest.raises(ResponseTooLargeError) as caught:
            await conn.client.portfolio_accounts()
    assert str(caught.value).startswith(
        "IBKR's answer to GET /portfolio/accounts was larger than 8 MB; refused"
    )
    assert "\n" not in str(caught.value)
    assert flood.sent <= BODY_LIMIT + CHUNK  # the other 42 MB were never read


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    demo: DemoEnvironment,
) -> None:
    flood = Flood(50 * 2**20)
    headers = {"content-length": str(flood.total)}
    wire = Hostile(
        demo.transport,
        lambda r: (
            httpx.Response(200, headers=headers, stream=flood)
            if r.url.path.endswith("/accounts")
            else None
        ),
    )
    async with through(demo, wire) as conn:
        with pytest.raises(ResponseTooLargeError):
            await conn.client.portfolio_accounts()
    assert flood.sent == 0


async def test_a_small_compressed_answer_that_unpacks_past_the_cap_is_refused(
    demo: DemoEnvironment,
) -> None:
    bomb = gzip.compress(b"[" + b" " * (20 * 2**20) + b"]")
    assert len(bomb) < 100_000
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    wire = Hostile(
        demo.transport,
        lambda r: (
            httpx.Response(200, headers=headers, content=bomb)
            if r.url.path.endswith("/accounts")
            else None
        ),
    )
    async with through(demo, wire) as conn:
        with pytest.raises(ResponseTooLargeError):
            await conn.client.portfolio_accounts()


async def test_a_huge_401_is_refused_before_the_signer_retries(demo: DemoEnvironment) -> None:
    flood = Flood(50 * 2**20)
    wire = Hostile(
        demo.transport,
        lambda r: httpx.Response(401, stream=flood) if r.url.path.endswith("/accounts") else None,
    )
    async with through(demo, wire) as conn:
        with pytest.raises(ResponseTooLargeError):
            await conn.client.portfolio_accounts()
    assert flood.sent <= BODY_LIMIT + CHUNK


async def test_a_huge_lst_answer_is_refused(demo: DemoEnvironment) -> None:
    flood = Flood(50 * 2**20)
    wire = Hostile(
        demo.transport,
        lambda r: httpx.Response(200, stream=flood) if r.url.path == LST_PATH else None,
    )
    async with through(demo, wire) as conn:
        with pytest.raises(ResponseTooLargeError) as caught:
            await conn.start()
    assert "answer to POST /oauth/live_session_token was larger than 8 MB" in str(caught.value)
    assert flood.sent <= BODY_LIMIT + CHUNK


def aapl_order() -> OrderRequest:
    return OrderRequest(
        conid=265598,
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.LIMIT,
        price=Decimal("1.00"),
        coid="hostile-1",
    )


async def test_a_huge_answer_to_an_order_leaves_its_outcome_unknown(
    demo: DemoEnvironment,
) -> None:
    flood = Flood(50 * 2**20)
    wire = Hostile(
        demo.transport,
        lambda r: (
            httpx.Response(200, stream=flood)
            if r.method == "POST" and r.url.path.endswith("/orders")
            else None
        ),
    )
    async with through(demo, wire) as conn:
        await conn.start()
        with pytest.raises(OrderOutcomeUnknownError) as caught:
            await conn.client.place_order(PAPER_ACCOUNT, aapl_order())
    assert "larger than 8 MB" in str(caught.value)
    assert "Check the order list" in str(caught.value)


# --- connection failures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=x"]
    subprocess.run(
        [openssl, *request, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


class TlsServer:
    """A TLS server on 127.0.0.1 whose self-signed certificate no client trusts."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.handshakes = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.context, ssl_handshake_timeout=5
        )
        port = self.server.sockets[0].getsockname()[1]
        return f"https://127.0.0.1:{port}/v1/api/"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()


async def test_an_unverifiable_certificate_says_so_and_is_not_retried(
    self_signed: tuple[Path, Path],
) -> None:
    demo, access = _world()
    async with (
        TlsServer(*self_signed) as base_url,
        connect(base_url, demo.consumer, access) as conn,
    ):
        with pytest.raises(TlsVerificationError) as caught:
            await conn.start()
    message = str(caught.value)
    assert message.startswith(
        "The server's TLS certificate could not be verified (for /oauth/live_session_token): "
        "self-signed certificate."
    )
    assert "ConnectError" not in message and "\n" not in message
    assert caught.value.needs_attention  # the console waits for the trader instead of retrying


async def _tls_failure(cert: Path, key: Path) -> httpx.ConnectError:
    """The exception httpx raises for a certificate it cannot verify (its whole chain)."""
    async with TlsServer(cert, key) as base_url, httpx.AsyncClient() as http:
        try:
            await http.get(base_url)
        except httpx.ConnectError as exc:
            return exc
    raise AssertionError("the handshake succeeded")


async def test_an_unverifiable_certificate_on_a_get_or_an_order(
    self_signed: tuple[Path, Path], demo: DemoEnvironment
) -> None:
    failure = await _tls_failure(*self_signed)
    broken = False

    def answer(request: httpx.Request) -> None:
        if broken:
            raise failure
        return None

    wire = Hostile(demo.transport, answer)
    sent = 0
    async with through(demo, wire) as conn:
        await conn.start()
        conn.client.retry = RetryPolicy(base_delay=0.0, max_delay=0.0)
        broken = True
        original = wire.answer

        def counting(request: httpx.Request) -> None:
            nonlocal sent
            sent += 1
            return original(request)

        wire.answer = counting
        with pytest.raises(TlsVerificationError):
            await conn.client.portfolio_accounts()
        assert sent == 1  # another try reaches the same certificate
        # the request never left: the order was not placed, its outcome is not "unknown"
        with pytest.raises(TlsVerificationError):
            await conn.client.place_order(PAPER_ACCOUNT, aapl_order())


async def test_a_refused_connection_says_it_was_refused() -> None:
    demo, access = _world()
    async with connect("http://127.0.0.1:1/v1/api/", demo.consumer, access) as conn:
        with pytest.raises(ApiConnectionError) as caught:
            await conn.start()
    assert "the connection was refused" in str(caught.value)
    assert "ConnectError" not in str(caught.value)


# --- the third-party login ---------------------------------------------------------------------


async def test_a_500_while_exchanging_the_verifier_says_the_server_failed(
    demo: DemoEnvironment,
) -> None:
    async with new_http_client(transport=demo.transport) as http:
        login = ThirdPartyLogin(http, demo.base_url, demo.consumer)
        request = await login.request_token()
        verifier = demo.demo_verifier(request.token)
        demo.sim.faults.errors(500, path="/v1/api/oauth/access_token", count=1)
        with pytest.raises(ApiStatusError) as caught:
            await login.access_token(request, verifier)
        assert not isinstance(caught.value, VerifierError)
        assert str(caught.value).startswith(
            "IBKR's server failed (500) while exchanging the verifier"
        )
        assert "try again" in str(caught.value)
        assert "did not accept the verifier" not in str(caught.value)
        # and trying again with the same verifier works, as the message says
        access = await login.access_token(request, verifier)
    assert access.access_token


# --- an answer that cannot be read ---------------------------------------------------------------


async def test_an_unreadable_answer_names_the_log_file_that_holds_it(
    demo: DemoEnvironment, tmp_path: Path
) -> None:
    path = setup_logging(tmp_path / "state", "test")
    assert path is not None
    try:
        wire = Hostile(
            demo.transport,
            lambda r: (
                httpx.Response(200, content=b"<html>\x1b[2Jmaintenance</html>")
                if r.url.path.endswith("/portfolio/accounts")
                else None
            ),
        )
        async with through(demo, wire) as conn:
            with pytest.raises(ProtocolError) as caught:
                await conn.client.portfolio_accounts()
    finally:
        stop_logging()
    assert str(caught.value).endswith(f"please report it with the log file {path}.")
    logged = path.read_text()
    assert "GET /portfolio/accounts" in logged
    assert "<html>\\x1b[2Jmaintenance</html>" in logged  # what came, escaped


async def test_without_a_log_file_no_message_mentions_one(demo: DemoEnvironment) -> None:
    stop_logging()
    error = ProtocolError("/portfolio/accounts", "the answer is not valid JSON")
    assert "log file" not in str(error)
    assert str(error).endswith("please report it.")
