"""Textual's compositor rendering, for a partial update, only the widgets the update reaches.

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

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip

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


def render_only_overlapping() -> None:
    """Have Textual's compositor render only the widgets a partial update reaches."""
    Compositor._get_renders = _get_renders  # type: ignore[method-assign]
