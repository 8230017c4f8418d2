"""The console on the real in-process simulator: oob login, account picker, live positions."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from textual.pilot import Pilot
from textual.widgets import Input

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.login import LoginScreen
from ibtui.tui.screens.positions import PositionsScreen
from tests.simulated import trading_demo


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the console did not get there in time"
        await pilot.pause(0.05)


async def test_login_account_and_live_positions_from_the_simulator() -> None:
    demo = trading_demo(5)
    backend = ClientBackend(demo.base_url, demo.consumer, transport=demo.transport, demo=demo)
    app = IbtuiApp(backend, login=backend, poll=PollSettings(interval=0.2), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
        screen = app.screen
        assert isinstance(screen, LoginScreen)
        await wait_for(pilot, lambda: "oauth_token=" in str(screen.query_one("#url").render()))

        # a wrong verifier: the error is on the screen and what was typed stays
        await pilot.press(*"00000000deadbeef0000", "enter")
        await wait_for(pilot, lambda: bool(screen.error))
        assert "verifier" in (screen.error or "").lower()
        assert screen.query_one("#verifier", Input).value == "00000000deadbeef0000"
        assert isinstance(app.screen, LoginScreen)
        assert "ctrl+n" in (screen.error or "")

        # the link is used up: its right verifier is not sent, the screen says to press ctrl+n
        used = str(screen.query_one("#hint").render()).split()[-1]
        screen.query_one("#verifier", Input).value = used
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert "already used" not in (screen.error or "")
        assert "ctrl+n" in (screen.error or "") and isinstance(app.screen, LoginScreen)

        # a new link (the box emptied), and the verifier the simulated IBKR page shows for it
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: used not in str(screen.query_one("#hint").render()))
        assert screen.query_one("#verifier", Input).value == ""
        verifier = str(screen.query_one("#hint").render()).split()[-1]
        screen.query_one("#verifier", Input).value = verifier
        await pilot.press("enter")

        await wait_for(pilot, lambda: isinstance(app.screen, AccountsScreen))
        await pilot.press("enter")  # the paper account is first
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        assert isinstance(positions, PositionsScreen) and positions.account.account_id == (
            PAPER_ACCOUNT
        )
        await wait_for(pilot, lambda: len(positions.table.visible_keys) > 0)
        key = next(k for k in positions.table.visible_keys if k.endswith(":265598"))
        await wait_for(pilot, lambda: positions.table.cell(key, "last").text not in ("", "—"))
        first = positions.table.cell(key, "last").text
        assert float(first.replace(",", "")) > 0
    await backend.aclose()


class Unplugged(httpx.AsyncBaseTransport):
    """The simulator's transport, with a switch that makes the server unreachable."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_the_status_bar_does_not_say_connected_while_the_server_is_unreachable() -> None:
    demo = trading_demo(5)
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    wire = Unplugged(demo.transport)
    backend = ClientBackend(
        demo.base_url, demo.consumer, access=AccessCredentials(token, secret), transport=wire
    )
    poll = PollSettings(interval=0.2, first_backoff=0.2, max_backoff=0.4)
    app = IbtuiApp(backend, last_account=PAPER_ACCOUNT, poll=poll, cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen))
        screen = app.screen
        assert isinstance(screen, PositionsScreen)

        def bar() -> str:
            return screen.status_bar.render().plain

        await wait_for(pilot, lambda: "session connected" in bar() and "quotes 0s" in bar())
        wire.down = True
        await wait_for(pilot, lambda: "Cannot reach IBKR" in bar())
        await wait_for(pilot, lambda: "session unreachable" in bar())
        assert "connected" not in bar()
        assert len(bar()) <= 120 and "(retrying" in bar()  # the countdown is never cut off
        wire.down = False
        await wait_for(pilot, lambda: "session connected" in bar() and "Cannot" not in bar())
    await backend.aclose()
