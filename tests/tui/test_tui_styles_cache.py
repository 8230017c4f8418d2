"""A closed screen's widgets leave no styles cache behind (Textual's ``get_inner_outer`` cache
kept the last 1,024 widgets' caches, each with the lines it last drew: Textualize/textual#6665)."""

from __future__ import annotations

import gc
import weakref

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Label

from ibtui.tui.textual_compat.styles_cache import release_styles_caches


class Cards(Screen[None]):
    DEFAULT_CSS = "Label { background: $panel; padding: 0 1; }"

    def compose(self) -> ComposeResult:
        for index in range(20):
            yield Label(f"card {index} " * 5)


async def open_and_close(app: App[None]) -> list[weakref.ref[object]]:
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(Cards())
        await pilot.pause()
        caches = [weakref.ref(label._styles_cache) for label in app.screen.query(Label)]
        await app.pop_screen()
        await pilot.pause()
    gc.collect()
    return caches


async def test_a_closed_screens_widgets_leave_no_styles_cache_behind(
    textual_patches: list[str],
) -> None:
    assert "styles_cache" in textual_patches
    caches = await open_and_close(App())
    assert len(caches) == 20
    assert [cache for cache in caches if cache() is not None] == []
    assert release_styles_caches() is None  # again: nothing changes
    assert (await open_and_close(App()))[0]() is None


async def test_without_the_fix_textual_keeps_them() -> None:
    """The test above can fail: Textual's own cache holds a closed screen's styles caches
    (every test starts with Textual unpatched: tests/conftest.py)."""
    caches = await open_and_close(App())
    assert [cache for cache in caches if cache() is not None] != []
