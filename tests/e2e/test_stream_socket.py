"""ibtui's own stream client (:class:`~ibtui.ibkr.stream.MarketStream`) on the production path:
the client ``ibtui --config`` builds (httpx over a real socket, its request deadline, the LST
signer) and httpx-ws's upgrade over it, against ``ibtui sim`` on a loopback port, whose uvicorn
serves the WebSocket with wsproto."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from ibtui.config import load_settings
from ibtui.config.credentials import load_credentials
from ibtui.ibkr.connect import connect
from ibtui.ibkr.session import AccessCredentials, Consumer
from ibtui.ibkr.stream import MarketStream, StreamTiming
from tests.client.stream_fakes import Recorder
from tests.e2e.open_market_sim import CODE
from tests.e2e.sim_process import sim_process

AAPL, IBM = 265598, 8314


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 (a condition on another task's state)
            await asyncio.sleep(0.02)


def test_market_stream_over_a_socket(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    args = ["--port", "0", "--state-dir", str(state), "--no-pacing", "--faults", "wsdrop:every=12"]
    with sim_process(args, code=CODE):  # its market open: prices move, frames flow
        settings = load_settings(state / "config.toml", require_credentials=True)
        creds = load_credentials(settings.ibkr, settings.token_file)
        assert creds.access_token is not None and creds.access_token_secret is not None
        consumer = Consumer(
            creds.consumer_key, creds.realm, creds.signature_key, creds.encryption_key, creds.dh
        )
        access = AccessCredentials(creds.access_token, creds.access_token_secret)

        async def run() -> Recorder:
            events = Recorder()
            async with connect(settings.ibkr.base_url, consumer, access) as conn:
                await conn.start()
                stream = MarketStream(
                    conn.client,
                    events,
                    access_token=access.access_token,
                    timing=StreamTiming(tick=0.1, backoff_first=0.1),
                )
                stream.want_quotes([AAPL, IBM])
                task = asyncio.create_task(stream.run())
                try:
                    await until(lambda: stream.streamed() == {AAPL, IBM})
                    # the wsdrop fault closes the socket now and then: back, and subscribed
                    await until(lambda: sum(s.status == "live" for s in events.states) >= 2)
                    await until(lambda: stream.streamed() == {AAPL, IBM})
                finally:
                    task.cancel()
            return events

        with caplog.at_level(logging.DEBUG):
            events = asyncio.run(run())
    assert {q.conid for q in events.got_quotes} == {AAPL, IBM}
    assert events.last_quote(AAPL).last is not None
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("ibtui")]
    assert ours and not any(access.access_token in line for line in ours)
