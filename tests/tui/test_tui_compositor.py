"""A partial update renders the widgets it reaches and no others
(``ibtui.tui.textual_compat.compositor``): a change in the middle of the screen leaves the status
line above and the footer below alone, and the screen shows what a full render shows."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Label

NAMES = ("top", "middle", "bottom")


class Counted(Label):
    def __init__(self, text: str, id: str) -> None:
        super().__init__(text, id=id)
        self.renders = 0

    def render_lines(self, crop: Region) -> list[Strip]:
        self.renders += 1
        return super().render_lines(crop)


class Three(App[None]):
    CSS = "#top { dock: top; } #bottom { dock: bottom; } Label { width: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Counted("status", id="top")
        yield Counted("price 1.00", id="middle")
        yield Counted("footer", id="bottom")


async def test_a_change_in_the_middle_renders_only_the_middle(textual_patches: list[str]) -> None:
    assert "compositor" in textual_patches
    app = Three()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        top, middle, bottom = (app.query_one(f"#{name}", Counted) for name in NAMES)
        before = (top.renders, middle.renders, bottom.renders)
        middle.update("price 1.05")
        await pilot.pause()
        assert middle.renders > before[1]
        assert (top.renders, bottom.renders) == (before[0], before[2])
        shown = [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]
        assert shown[0] == "status" and shown[1] == "price 1.05" and shown[-1] == "footer"
