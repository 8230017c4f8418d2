"""Textual's compositor rendering, for a partial update, only the widgets the update reaches.

Upstream: ``textual/_compositor.py`` (``Compositor._get_renders``), Textual 8.2; not reported
upstream yet. Guard: Textual 8.2.x only (the method is a copy of that release's), and the
method must still be Textual's own; otherwise nothing changes and the log says so.

For a partial update (a tick's changed cells), ``Compositor._get_renders`` picks the widgets to
render by whether their *clip* overlaps the box around the changed regions. The clip is the
region of the container a widget is in: for everything laid out on the screen, the whole screen.
So every widget on the screen rendered its lines at every frame: the status bar at the top and
the footer at the bottom for a price in the middle, and all the grid's lines for a change of the
totals line below it. What a widget outside the box renders is never used: the update's lines
are all inside it.

:func:`render_only_overlapping` replaces the method with Textual's own code that tests the
widget's visible part (its region within its clip) instead. Widgets inside the box render as
before; the lines of the update are the same (the terminal writer's equality tests and the
snapshots check them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip

from ibtui.tui.textual_compat._guard import skipped, version_tested

__all__ = ["render_only_overlapping"]


def _get_renders(
    self: Compositor, crop: Region | None = None
) -> Iterable[tuple[Region, Region, list[Strip]]]:
    """Textual 8.2's ``Compositor._get_renders``, a widget chosen by whether its visible part
    overlaps ``crop`` (Textual's tests its clip)."""
    intersection = Region.intersection
    contains_region = Region.contains_region
    visible_widgets = self.visible_widgets
    if crop:
        crop_overlaps = crop.overlaps
        widget_regions = [
            (widget, region, clip)
            for widget, (region, clip) in visible_widgets.items()
            if crop_overlaps(intersection(region, clip))
        ]
    else:
        widget_regions = [
            (widget, region, clip) for widget, (region, clip) in visible_widgets.items()
        ]
    for widget, region, clip in widget_regions:
        if contains_region(clip, region):
            yield (
                region,
                clip,
                widget.render_lines(Region(0, 0, region.width, region.height)),
            )
        else:
            new_x, new_y, new_width, new_height = intersection(region, clip)
            if new_width and new_height:
                yield (
                    region,
                    clip,
                    widget.render_lines(
                        Region(new_x - region.x, new_y - region.y, new_width, new_height)
                    ),
                )


def render_only_overlapping() -> Callable[[], None] | None:
    """Have Textual's compositor render only the widgets a partial update reaches; the function
    that undoes it, or None when it is not applied (another Textual release, or already done)."""
    original = Compositor.__dict__.get("_get_renders")
    if original is _get_renders:
        return None
    if (
        not version_tested()
        or original is None
        or original.__qualname__ != "Compositor._get_renders"
    ):
        skipped("render_only_overlapping", "a copy of Textual 8.2's Compositor._get_renders")
        return None
    Compositor._get_renders = _get_renders  # type: ignore[method-assign]

    def undo() -> None:
        Compositor._get_renders = original  # type: ignore[method-assign]

    return undo
