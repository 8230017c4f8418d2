"""The console through the real client on a simulator answering every request 2 s late: keys are
handled (help opens and closes, the cursor moves) while a request is still outstanding."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from textual.pilot import Pilot

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.help import HelpScreen
from ibtui.tui.screens.positions import PositionsScreen
from tests.simulated import trading_demo

LATENCY = 2.0
WAIT = 30.0  # generous: the machine is shared


@dataclass
class Flight:
    path: str
    done: bool = False


@dataclass
class Watched(httpx.AsyncBaseTransport):
    """The in-process transport, noting which requests are on their way."""

    inner: httpx.AsyncBaseTransport
    flights: list[Flight] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        flight = Flight(request.url.path)
        self.flights.append(flight)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            flight.done = True

    def started_after(self, count: int) -> Callable[[], bool]:
        """True once a request after the first ``count`` is outstanding."""
        return lambda: any(not flight.done for flight in self.flights[count:])

    def outstanding(self) -> list[Flight]:
        return [flight for flight in self.flights if not flight.done]


async def wait_for(pilot: Pilot[None], what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in time"
        await pilot.pause(0.02)


async def test_keys_are_handled_while_a_slow_request_is_outstanding() -> None:
    demo = trading_demo(5)
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    transport = Watched(demo.transport)
    backend = ClientBackend(
        demo.base_url, demo.consumer, access=AccessCredentials(token, secret), transport=transport
    )
    app = IbtuiApp(
        backend,
        poll=PollSettings(interval=0.2),
        last_account=PAPER_ACCOUNT,  # straight to its positions
        cursor_blink=False,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, "positions screen", lambda: isinstance(app.screen, PositionsScreen))
        screen = app.screen
        assert isinstance(screen, PositionsScreen)
        assert screen.account.account_id == PAPER_ACCOUNT
        grid = screen.table.grid
        await wait_for(pilot, "positions", lambda: grid.row_count > 2)

        # from now on the simulator sleeps 2 s (real time, awaited) before every answer
        demo.sim.faults.latency(LATENCY)
        seen = len(transport.flights)
        attempts = 0
        while True:
            attempts += 1
            assert attempts <= 3, "the keys were never handled within one slow request"
            await wait_for(pilot, "slow request", transport.started_after(seen))
            flight = next(f for f in transport.flights[seen:] if not f.done)
            seen = len(transport.flights)
            assert flight.path.startswith("/v1/api/")

            row = grid.cursor_row
            await pilot.press("question_mark")
            help_shown = isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            help_closed = app.screen is screen
            await pilot.press("j")
            moved_down = grid.cursor_row == row + 1
            await pilot.press("k")
            moved_up = grid.cursor_row == row
            if not flight.done:  # all of that happened while the request was outstanding
                break
        assert help_shown and help_closed and moved_down and moved_up
        assert transport.outstanding()  # the poller is still waiting for the simulator
    await backend.aclose()
