"""A pop-up over a live screen: each change under it is sent as that change, not as a repaint of
the whole screen every frame (#22 item 6; the loop came with Textualize/textual#6307)."""

from __future__ import annotations

from typing import Any

from textual._compositor import ChopsUpdate
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class Popup(ModalScreen[None]):
    DEFAULT_CSS = "Popup { align: center middle; } Popup Vertical { width: 30; height: 5; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("a pop-up")


class Live(App[None]):
    """A price line at the top, rows below it, and what the app would send for each frame."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static("price 100", id="price")
        for index in range(20):
            yield Label(f"row {index}")

    def _display(self, screen: Any, renderable: Any) -> None:
        if renderable is not None:
            self.sent.append(renderable)
        super()._display(screen, renderable)


def rows_sent(update: Any, height: int) -> int:
    """How many of the screen's rows the update writes (a full update writes them all)."""
    if isinstance(update, ChopsUpdate):
        return len({y for y, _, _ in update.spans})
    return height


async def frames_under(app: Live, popup: ModalScreen[None]) -> list[int]:
    """The rows each frame writes while the price under ``popup`` changes ten times."""
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(popup)
        for _ in range(5):  # the pop-up's first frames (the screen under it is restyled)
            await pilot.pause(0.05)
        app.sent.clear()
        for tick in range(10):
            app.screen_stack[0].query_one("#price", Static).update(f"price {101 + tick}")
            await pilot.pause(0.05)
        return [rows_sent(update, 24) for update in app.sent]


async def test_a_change_under_a_popup_is_sent_as_that_change(textual_patches: list[str]) -> None:
    assert "background_refresh" in textual_patches
    frames = await frames_under(Live(), Popup())
    assert len(frames) >= 5  # the price under the pop-up is still shown as it changes
    assert max(frames) <= 2, frames  # its line, not the 24 rows of the screen
