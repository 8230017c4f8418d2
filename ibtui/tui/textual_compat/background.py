"""A screen under a pop-up refreshes only what changed on it, not the whole screen every frame.

Since Textualize/textual#6307 (Textual 8), a screen under a modal screen that changes hands its
changed regions to the screen on top (``app.screen.refresh(*regions)``), and also marks those
regions dirty on itself with ``_repaint_required`` set. Its next update (a background screen is
"current" while it shows under a pop-up) then takes the whole screen as a dirty widget, finds
the regions it marked, and hands them on again, marking them once more: every region that was
ever dirty stays dirty. The first frame after a pop-up opens marks the whole screen (the screen
under it is restyled), so from then on every change under the pop-up (a price, the status bar's
clock) repaints the whole terminal: a Textual ``LayoutUpdate`` a frame, 150-200 KB per 10 s on
the demo's positions at 120x40 against 5-7 KB without the pop-up.

Here the screen under a pop-up hands its changed regions to the screen on top and forgets them
(as Textual's own inline branch of the same method does): nothing re-marks them, so the next
frame carries only the next changes, as a partial update that the terminal writer cuts down to
the changed cells. When the pop-up closes, Textual repaints the screen under it in full anyway
(the screen is resumed).

Upstream: the loop comes with https://github.com/Textualize/textual/pull/6307 ("node refresh":
update screens under modal screens); it undoes what #3062 (2023, "only the changed portions")
gave background screens. No issue is filed for it yet; the report, ready to file:

    Title: A screen under a ModalScreen repaints the whole terminal every frame once it changes

    Textual 8.2.8 (since 8.0, #6307), Python 3.11, Linux; any terminal, and headless.

    Repro (counts what each frame would write: ``App._display`` gets every compositor update)::

        import asyncio
        from collections import Counter
        from textual.app import App
        from textual.screen import ModalScreen
        from textual.widgets import Label, Static

        class PopUp(ModalScreen[None]):
            DEFAULT_CSS = "PopUp { align: center middle; } Label { border: round white; }"
            def compose(self):
                yield Label("a pop-up")

        class Ticker(App[None]):
            def compose(self):
                yield Static("0")
            def on_mount(self):
                self.ticks = 0
                self.set_interval(0.1, self.tick)
            def tick(self):
                self.ticks += 1
                self.query_one(Static).update(str(self.ticks))
            def _display(self, screen, update):
                if update is not None:
                    spans = getattr(update, "spans", None)
                    cells = update.region.area if spans is None else sum(b - a for _, a, b in spans)
                    frames.append((type(update).__name__, cells))
                super()._display(screen, update)

        async def main():
            app = Ticker()
            async with app.run_test(size=(80, 24)) as pilot:
                for label, popup in (("without a pop-up", None), ("under a pop-up", PopUp)):
                    if popup:
                        app.push_screen(popup())
                    await pilot.pause(0.3)
                    frames.clear()
                    await pilot.pause(1.0)
                    kinds = Counter(kind for kind, _ in frames)
                    print(f"{label}: {dict(kinds)}, cells {sum(c for _, c in frames)}")

        frames = []
        asyncio.run(main())

    Expected: under the pop-up, as without it, each tick sends the one line that changed:
        without a pop-up: {'ChopsUpdate': 10}, cells 800
        under a pop-up: {'ChopsUpdate': 10}, cells 800
    Actual: under the pop-up every frame is a full-screen LayoutUpdate (80 x 24 cells):
        without a pop-up: {'ChopsUpdate': 10}, cells 800
        under a pop-up: {'LayoutUpdate': 10}, cells 19200
    On a real terminal that is the whole screen's escape codes every frame (about 30 times the
    bytes on a 120 x 40 table of prices), for as long as the pop-up is open.

    Cause: ``Screen._compositor_refresh``, textual/screen.py lines 1226-1233 (8.2.8), the branch
    for a screen in ``app._background_screens``: besides handing its dirty regions to
    ``app.screen``, it calls ``self._set_dirty(*self._compositor._dirty_regions)`` (line 1229)
    and sets ``self._repaint_required = True`` (line 1231). The screen's next update
    (``Screen._on_timer_update``, lines 1248-1254) then adds the screen itself to the dirty
    widgets, the compositor finds the regions marked on it, and they are handed on and marked
    again: a region, once dirty, stays dirty, and the first frame under a new pop-up (the
    screen under it is restyled) marks all of it.

    Suggested fix: hand the regions on and clear them without marking them on the background
    screen, as the inline branch above does (lines 1211-1216)::

        elif self in self.app._background_screens and self._compositor._dirty_regions:
            app.screen.refresh(*self._compositor._dirty_regions)
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()

    (The screen on top composes the background through its compositor, whose widgets have
    already updated their own render caches on ``refresh``; with this change the screen under
    a pop-up still shows every change, only as partial updates.)

Guard: Textual 8.2, and ``Screen._compositor_refresh`` must still re-mark the regions
(``self._set_dirty(*self._compositor._dirty_regions)`` and ``self._repaint_required = True`` in
its branch for a screen under another); otherwise nothing changes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from textual.screen import Screen

from ibtui.tui.textual_compat._guard import skipped, version_tested

__all__ = ["quiet_background_refresh"]

_MARKS = (
    "self._set_dirty(*self._compositor._dirty_regions)",
    "app.screen.refresh(*self._compositor._dirty_regions)",
    "self._repaint_required = True",
)


def _shape_ok(method: Callable[..., Any]) -> bool:
    try:
        source = inspect.getsource(method)
    except (OSError, TypeError):
        return False
    return all(mark in source for mark in _MARKS)


def quiet_background_refresh() -> Callable[[], None] | None:
    """Have a screen under a pop-up hand on its changed regions without re-marking them; the
    function that undoes it (None when already applied, or Textual is not what this was
    written for)."""
    original = Screen.__dict__.get("_compositor_refresh")
    if original is None or getattr(original, "_ibtui", False):
        return None
    if not version_tested() or not _shape_ok(original):
        skipped("quiet_background_refresh", "Screen._compositor_refresh is not the one patched")
        return None

    def _compositor_refresh(self: Screen[Any]) -> None:
        app = self.app
        dirty = self._compositor._dirty_regions
        if app.is_inline or self is app.screen or not dirty:
            original(self)
            return
        if self in app._background_screens:  # shows under a pop-up: its changes go on top
            regions = list(dirty)
            dirty.clear()
            self._dirty_widgets.clear()
            app.screen.refresh(*regions)
        app._update_mouse_over(self)

    _compositor_refresh._ibtui = True  # type: ignore[attr-defined]
    setattr(Screen, "_compositor_refresh", _compositor_refresh)  # noqa: B010

    def undo() -> None:
        setattr(Screen, "_compositor_refresh", original)  # noqa: B010

    return undo
