"""The console and the command line of one user on one ``ibtui sim`` (IBKR's pacing on): a
console started right after ``ibtui accounts``, and commands run while it is open, meet no 429.

IBKR allows ``/portfolio/accounts`` once in 5 s per user and boxes a violator for up to 10
minutes; the console and each command are separate processes, so only the pacing they share
through the state folder keeps them apart (a console started within 5 s of a command sat on
"Connecting…" and then failed with 429; the running console could not load its orders).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ibtui.tui.screens.orders import OrdersScreen
from ibtui.tui.screens.positions import PositionsScreen
from tests.command import ibtui
from tests.e2e.sim_process import sim_process
from tests.e2e.test_misbehaving_ibkr import AAPL, RATE_LIMIT, Seen, console, until


async def test_a_console_after_a_command_and_commands_beside_it_meet_no_429(
    tmp_path: Path,
) -> None:
    sim_state = tmp_path / "sim"
    with sim_process(["--port", "0", "--key-bits", "1024", "--state-dir", str(sim_state)]):
        config = sim_state / "config.toml"
        state = tmp_path / "state"  # the user's: shared by the console and the commands
        config.write_text(config.read_text() + f'\n[paths]\nstate_dir = "{state}"\n')
        first = ibtui("accounts", "--config", str(config))
        assert first.returncode == 0, first.stderr

        app = console(config)  # within 5 s of the command
        seen = Seen()
        async with app.run_test(headless=True, size=(120, 40), message_hook=seen.hook) as pilot:
            await until(
                pilot,
                "positions with prices",
                lambda: isinstance(app.screen, PositionsScreen) and AAPL in app.screen.quotes,
                30,
                lambda: f"(notifications: {seen.notifications})",
            )
            # the commands again, while the console polls
            done = await asyncio.to_thread(
                lambda: [
                    ibtui("accounts", "--config", str(config)),
                    ibtui("accounts", "--config", str(config)),
                    ibtui("positions", "--config", str(config), "--format", "json"),
                ]
            )
            await pilot.press("o")
            await until(
                pilot, "the orders screen", lambda: isinstance(app.screen, OrdersScreen), 10
            )
            orders = app.screen
            assert isinstance(orders, OrdersScreen)
            # two polls of the orders after the commands: both loaded
            await until(pilot, "two polls of the orders", lambda: orders.polls >= 2, 30)
            assert orders.loaded and orders.error is None, orders.error
            app.exit()

    for command in (first, *done):
        assert command.returncode == 0, (command.args, command.stderr)
        assert not RATE_LIMIT.search(command.stderr), command.stderr
    assert not [n for n in seen.notifications if RATE_LIMIT.search(n)], seen.notifications
    log = (state / "ibtui.log").read_text() if (state / "ibtui.log").exists() else ""
    assert not RATE_LIMIT.search(log), [line for line in log.splitlines() if "429" in line]
