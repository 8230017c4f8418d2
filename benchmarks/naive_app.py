"""The anchor of benchmarks 3 and 4: the positions screen as a user would write it with stock
Textual, run side by side with the console on the same fake broker.

A stock ``DataTable`` with the positions grid's columns (the same labels and the same cell
texts, numbers right-aligned, gains green and losses red), filled from
:class:`~benchmarks.fakes.FakeBroker` and kept up to date by a worker that asks for quotes in
batches of 100 every second and, for each position a quote moves, calls ``update_cell`` for each
price column whose value changed. Nothing of ibtui's Textual patches, terminal writer or
interpreter settings: the repricing and the cell texts are ibtui's view-models and formatters,
so the two apps differ only in how they get the cells to the screen.

``python -m benchmarks.naive_app`` runs it in a terminal for benchmark 4, with ``BENCH_MARK_FD``
naming a pipe for phase markers (``name monotonic-seconds [value]`` lines, as
:mod:`benchmarks.pty_app` writes them): ``ready``, then ``ticks_start`` and ``ticks_end`` (with
the polling rounds) around ``BENCH_TICK_SECONDS`` of polling, then ``done``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from benchmarks.bench_tick import wait_until
from benchmarks.fakes import FakeBroker, make_positions
from ibtui.tui.viewmodels import PositionView, QuoteView
from ibtui.tui.widgets.columns import COLUMNS, PRICE_COLUMNS, Column

BATCH = 100
INTERVAL = 1.0


def cell(column: Column, view: PositionView) -> Text:
    """A cell as a user would write it: the text, right-aligned if a number, coloured by sign."""
    raw = column.value(view)
    text = column.formatter(view, raw)
    style = ""
    if column.signed_tone and raw is not None and not isinstance(raw, str) and raw:
        style = "green" if raw > 0 else "red"
    return Text(text, style=style, justify="right" if column.numeric else "left")


class NaiveApp(App[None]):
    """Positions in a DataTable, repriced with ``update_cell``."""

    def __init__(self, broker: FakeBroker, positions: Sequence[PositionView]) -> None:
        super().__init__()
        self.broker = broker
        self.views = {view.conid: view for view in positions}

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    async def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column.label, width=column.width, key=column.key)
        for conid, view in self.views.items():
            table.add_row(*(cell(column, view) for column in COLUMNS), key=str(conid))
        self.run_worker(self.poll(), group="poller")

    async def poll(self) -> None:
        conids = list(self.views)
        while True:
            started = time.monotonic()
            for start in range(0, len(conids), BATCH):
                quotes = await self.broker.quotes(conids[start : start + BATCH])
                self.apply({quote.conid: quote for quote in quotes})
            await asyncio.sleep(max(0.0, INTERVAL - (time.monotonic() - started)))

    def apply(self, quotes: Mapping[int, QuoteView]) -> None:
        """Reprice each quoted position and update the cells whose value changed."""
        table = self.query_one(DataTable)
        for conid, quote in quotes.items():
            old = self.views.get(conid)
            if old is None:
                continue
            new = old.with_quote(quote)
            self.views[conid] = new
            for column in PRICE_COLUMNS:
                if column.value(new) != column.value(old) or new.is_close != old.is_close:
                    table.update_cell(str(conid), column.key, cell(column, new))


class MarkedApp(NaiveApp):
    """The naive app scripted for benchmark 4's pseudo-terminal."""

    def __init__(self, broker: FakeBroker, rows: int, tick_seconds: float, mark_fd: int) -> None:
        super().__init__(broker, make_positions(rows))
        self.tick_seconds = tick_seconds
        self.mark_fd = mark_fd

    def mark(self, name: str, value: object = "") -> None:
        os.write(self.mark_fd, f"{name} {time.monotonic():.6f} {value}\n".encode())

    def on_mount(self) -> None:  # after NaiveApp's (Textual calls each class's handler)
        self.run_worker(self.script(), group="bench")

    async def script(self) -> None:
        table = self.query_one(DataTable)
        await wait_until(
            lambda: table.row_count >= len(self.views) and self.broker.round > 0, 120, "the rows"
        )
        self.mark("ready")
        await asyncio.sleep(2.0)
        rounds = self.broker.round
        self.mark("ticks_start")
        await asyncio.sleep(self.tick_seconds)
        self.mark("ticks_end", self.broker.round - rounds)
        self.mark("done")
        self.exit()


def main() -> None:
    rows = int(os.environ.get("BENCH_POSITIONS", "100"))
    broker = FakeBroker(make_positions(rows), latency=0.005)
    tick_seconds = float(os.environ.get("BENCH_TICK_SECONDS", "20"))
    MarkedApp(broker, rows, tick_seconds, int(os.environ["BENCH_MARK_FD"])).run()


if __name__ == "__main__":
    main()
