"""The console on a fake broker in a real terminal, for :mod:`benchmarks.bench_terminal`.

Run in a pseudo-terminal: ``python -m benchmarks.pty_app`` with ``BENCH_MARK_FD`` naming a pipe
for phase markers (``name monotonic-seconds [value]`` lines). Once the positions grid holds
every row it scripts the run:

1. ``ticks``: ``BENCH_TICK_SECONDS`` of polling at a 1 s interval with every price moving (all
   visible rows change on every tick); the marker carries the number of polling rounds.
2. ``ticket``: an order ticket open over the positions (a pop-up), another
   ``BENCH_TICK_SECONDS`` of polling with every price moving under it; the marker carries the
   rounds. The ticket is opened 1.5 s before the phase starts (its own first frames are not
   counted) and closed after it.
3. ``idle``: prices frozen (the poller still polls, the status bar still counts quote age).
4. ``quiet``: the poller stopped, prices already greyed as stale (only the status bar's clock
   still ticks).
5. ``full`` (3 times, 1 s apart): the screen's compositor renders a full update
   (``render_update(full=True)``, what Textual sends after a resize) and the app writes it
   (through ibtui's terminal writer, :mod:`ibtui.tui.terminal`).
6. ``full_textual`` (3 times): the same, written as Textual itself writes it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from textual.app import App

from benchmarks.bench_tick import wait_until
from benchmarks.fakes import PAPER, FakeBroker, ShownTicketTrader, make_positions
from ibtui.tui import textual_compat
from ibtui.tui.app import IbtuiApp, console_runtime
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.positions import PositionsScreen


class BenchApp(IbtuiApp):
    def __init__(self, broker: FakeBroker, rows: int, tick_seconds: float, mark_fd: int) -> None:
        super().__init__(
            broker, poll=PollSettings(interval=1.0), cursor_blink=False, freeze_settled=True
        )  # as run_app runs it
        self._terminal = textual_compat.install(self)
        self.fake = broker
        self.rows = rows
        self.tick_seconds = tick_seconds
        self.mark_fd = mark_fd

    def mark(self, name: str, value: object = "") -> None:
        os.write(self.mark_fd, f"{name} {time.monotonic():.6f} {value}\n".encode())

    def on_mount(self) -> None:
        super().on_mount()
        self.run_worker(self.script(), exclusive=True, group="bench")

    def _loaded(self) -> bool:
        screen = self.screen
        if not isinstance(screen, PositionsScreen):
            return False
        table = screen.table
        return not table.filling and table.grid.row_count >= self.rows

    async def script(self) -> None:
        await wait_until(self._loaded, 120.0, "the positions grid")
        self.mark("ready")
        await asyncio.sleep(2.0)
        rounds = self.fake.round
        self.mark("ticks_start")
        await asyncio.sleep(self.tick_seconds)
        self.mark("ticks_end", self.fake.round - rounds)
        await self.ticket_phase()
        self.fake.moving = False
        await asyncio.sleep(2.5)  # flashes end
        self.mark("idle_start")
        await asyncio.sleep(5.0)
        self.mark("idle_end")
        self.workers.cancel_group(self, "poller")  # nothing but the status bar's clock from here
        await asyncio.sleep(5.0)  # after 3 s the prices turn stale (grey): one more repaint
        self.mark("quiet_start")
        await asyncio.sleep(3.0)
        self.mark("quiet_end")
        for _ in range(3):
            await asyncio.sleep(1.0)
            self.mark("full_start")
            self.full_repaint()
        for _ in range(3):
            await asyncio.sleep(1.0)
            self.mark("full_textual_start")
            self.full_repaint(textual=True)
        await asyncio.sleep(1.0)
        self.mark("done")
        self.exit()

    async def ticket_phase(self) -> None:
        """The prices moving under an open order ticket (a pop-up over the positions)."""
        from ibtui.trading import Side
        from ibtui.tui.screens.ticket import TicketScreen

        view = next(iter(self.screen.table.views.values()))  # type: ignore[attr-defined]
        ticket = TicketScreen(
            ShownTicketTrader(),  # type: ignore[arg-type]
            PAPER,
            conid=view.conid,
            symbol=view.symbol,
            description=view.description,
            side=Side.BUY,
            limit_price=view.last,
            currency=view.currency,
            cursor_blink=False,
        )
        self.push_screen(ticket)
        await asyncio.sleep(1.5)  # the ticket's own first frames
        rounds = self.fake.round
        self.mark("ticket_start")
        await asyncio.sleep(self.tick_seconds)
        self.mark("ticket_end", self.fake.round - rounds)
        self.pop_screen()
        await asyncio.sleep(1.0)

    def full_repaint(self, *, textual: bool = False) -> None:
        """What the app writes for a full repaint; with ``textual``, what Textual's own output
        (without ibtui's terminal writer) would be."""
        screen: Any = self.screen
        update = screen._compositor.render_update(full=True, screen_stack=self._background_screens)
        if textual:
            App._display(self, screen, update)
            if self._terminal is not None:
                self._terminal.reset()
        else:
            self._display(screen, update)


def main() -> None:
    rows = int(os.environ.get("BENCH_POSITIONS", "100"))
    broker = FakeBroker(make_positions(rows), latency=0.005)
    textual_compat.apply_patches()  # as run_app
    app = BenchApp(
        broker,
        rows,
        float(os.environ.get("BENCH_TICK_SECONDS", "20")),
        int(os.environ["BENCH_MARK_FD"]),
    )
    with console_runtime():  # as run_app runs it
        app.run()


if __name__ == "__main__":
    main()
