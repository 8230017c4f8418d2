"""The console on the in-process simulator behind a hostile transport, scripted end to end.

``python -m tests.e2e.hostile_console RESULT_FILE STATE_DIR`` runs in a pseudo-terminal (see
``test_hostile_server``): the positions (AAPL's symbol and names hostile), an order ticket for it,
IBKR's question (hostile) answered yes, the orders screen (statuses hostile), then the positions
answering a 400 whose error text is hostile. Each step reached is written to ``RESULT_FILE`` as a
JSON list; the terminal's bytes are the test's to check.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr.session import AccessCredentials
from ibtui.sim import PAPER_ACCOUNT, ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import build_demo, trading_offset
from ibtui.trading.settings import OrderSettings
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.orders import OrdersScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.question import QuestionScreen
from ibtui.tui.screens.ticket import TicketScreen
from tests.e2e.hostile import HostileTransport

AAPL = 265598
SHOWN_SECONDS = 1.0  # each hostile screen stays up this long: several frames reach the terminal


async def until(pilot: Pilot[None], what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} in time")
        await pilot.pause(0.05)


def main(result: Path, state: Path) -> int:
    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    demo = build_demo(key_bits=1024, config=SimConfig(seed=7, clock=clock, pacing_enabled=False))
    token, secret = demo.server.provision_access_token(demo.consumer.consumer_key)
    transport = HostileTransport(demo.transport, mode="text")
    backend = ClientBackend(
        demo.base_url, demo.consumer, access=AccessCredentials(token, secret), transport=transport
    )
    app = IbtuiApp(
        backend,
        trader=backend.trader(OrderSettings(max_order_value=1_000_000.0), state),
        last_account=PAPER_ACCOUNT,
        poll=PollSettings(interval=0.3, positions_every=0.5),
        cursor_blink=False,
    )
    steps: list[str] = []

    async def script(pilot: Pilot[None]) -> None:
        try:
            await until(pilot, "positions", lambda: isinstance(app.screen, PositionsScreen))
            positions = app.screen
            assert isinstance(positions, PositionsScreen)
            key = f"{PAPER_ACCOUNT}:{AAPL}"
            await until(pilot, "AAPL's price", lambda: AAPL in positions.quotes)
            positions.table.grid.move_to(key)
            steps.append("positions")
            await pilot.pause(SHOWN_SECONDS)

            await pilot.press("b")
            await until(pilot, "ticket", lambda: isinstance(app.screen, TicketScreen))
            ticket = app.screen
            assert isinstance(ticket, TicketScreen)
            last = positions.quotes[AAPL].last
            assert last is not None
            price = (last * Decimal("1.05")).quantize(Decimal("0.01"))  # IBKR asks about it
            ticket.query_one("#quantity", Input).value = "3"
            ticket.query_one("#limit", Input).value = str(price)
            await pilot.pause()
            await pilot.press("enter")
            await until(pilot, "preview", lambda: ticket.preview is not None)
            steps.append("ticket")
            await pilot.press("ctrl+s")
            await until(pilot, "question", lambda: isinstance(app.screen, QuestionScreen))
            steps.append("question")
            while isinstance(app.screen, QuestionScreen):
                await pilot.pause(SHOWN_SECONDS)
                await pilot.press("y")
                await pilot.pause(0.5)
            await until(pilot, "positions again", lambda: app.screen is positions)

            await pilot.press("o")
            await until(pilot, "orders", lambda: isinstance(app.screen, OrdersScreen))
            orders = app.screen
            assert isinstance(orders, OrdersScreen)
            await until(pilot, "an order", lambda: orders.query_one("#orders-table").row_count > 0)  # type: ignore[attr-defined]
            steps.append("orders")
            await pilot.pause(SHOWN_SECONDS)
            await pilot.press("escape")
            await until(pilot, "positions again", lambda: app.screen is positions)

            transport.mode = "error"
            bar = positions.status_bar
            await until(pilot, "the error", lambda: "bad request" in str(bar.render()))
            steps.append("error")
            await pilot.pause(SHOWN_SECONDS)
        finally:
            app.exit()

    app.run(auto_pilot=script)
    result.write_text(json.dumps(steps))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
