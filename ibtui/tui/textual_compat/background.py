"""A screen under a pop-up refreshes only what changed on it, not the whole screen every frame.

Since Textualize/textual#6307 (Textual 8), a screen under a modal screen that changes hands its
changed regions to the screen on top (``app.screen.refresh(*regions)``), and also marks those
regions dirty on itself with ``_repaint_required`` set. Its next update (a background screen is
"current" while it shows under a pop-up) then takes the whole screen as a dirty widget, finds
the regions it marked, and hands them on again, marking them once more: every region that was
ever dirty stays dirty. The first frame after a pop-up opens marks the whole screen (the screen
under it is restyled), so from then on every change under the pop-up (a price, the status bar's
clock) repaints the whole terminal: a Textual ``LayoutUpdate`` a frame, 150-200 KB per 10 s on
the demo's positions at 120x40 against 5-7 KB without the pop-up (#22 item 6).

Here the screen under a pop-up hands its changed regions to the screen on top and forgets them:
nothing re-marks them, so the next frame carries only the next changes, as a partial update
that the terminal writer cuts down to the changed cells. When the pop-up closes, Textual
repaints the screen under it in full anyway (the screen is resumed).

Upstream: the loop comes with https://github.com/Textualize/textual/pull/6307 (no issue filed
for it yet). Guard: Textual 8.2, and ``Screen._compositor_refresh`` must still re-mark the
regions (``self._set_dirty(*self._compositor._dirty_regions)`` and
``self._repaint_required = True`` in its branch for a screen under another); otherwise nothing
changes.
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
