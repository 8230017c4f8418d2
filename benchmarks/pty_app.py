"""The console on a fake broker in a real terminal, for :mod:`benchmarks.bench_terminal`.

Run in a pseudo-terminal: ``python -m benchmarks.pty_app`` with ``BENCH_MARK_FD`` naming a pipe
for phase markers (``name monotonic-seconds [value]`` lines). Once the positions grid holds
every row it scripts the run:

1. ``ticks``: ``BENCH_TICK_SECONDS`` of polling at a 1 s interval with every price moving (all
   visible rows change on every tick); the marker carries the number of polling rounds.
2. ``idle``: prices frozen (the poller still polls, the status bar still counts quote age).
3. ``quiet``: the poller stopped, prices already greyed as stale (only the status bar's clock
   still ticks).
4. ``full`` (3 times, 1 s apart): the screen's compositor renders a full update
   (``render_update(full=True)``, what Textual sends after a resize) and the app writes it
   (through ibtui's terminal writer, :mod:`ibtui.tui.terminal`).
5. ``full_textual`` (3 times): the same, written as Textual itself writes it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from textual.app import App

from benchmarks.bench_tick import wait_until
from benchmarks.fakes import FakeBroker, make_positions
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
