"""Textual's strips with their caches made when first used, not seven of them up front.

Every line Textual draws is a ``Strip``, and a changed line makes several (the widget's line, the
line with the widget's styles, the line through the colour filter, a cropped line for the
terminal). Each ``Strip.__init__`` makes seven ``FIFOCache`` objects (for division, cropping,
styles, filters, lengths, offsets), each with a dict: fourteen objects for the garbage collector
to count a strip, most of them never used (a strip is divided or filtered once, if at all). In a
1,000-position tick that was about 5% of the CPU and a collection or two of the young generation.

:func:`lazy_strip_caches` leaves the cache slots empty in ``__init__`` and makes a cache, of the
same size as Textual's, the first time a method reads it (``__getattr__``, which Python calls for
an empty slot). The caches behave as before. Nothing changes when ``Strip`` is not what this was
written against (its slots and their initial values are checked first).

Upstream: ``textual/strip.py`` (``Strip.__init__``), Textual 8.2; not reported upstream yet.
Guard: the shape of ``Strip`` (its slots, which of them hold caches, the others' initial values);
when it differs nothing changes and the log says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.segment import Segment
from textual.cache import FIFOCache
from textual.strip import Strip

from ibtui.tui.textual_compat._guard import skipped

__all__ = ["lazy_strip_caches"]

# The slots Textual's ``Strip.__init__`` sets to None, which stay as they are.
_PLAIN = {"_render_cache": None, "_link_ids": None, "_cell_count": None}


def lazy_strip_caches() -> Callable[[], None] | None:
    """Make ``Strip`` create its caches on first use; the function that undoes it, or None when
    it is not applied (not the ``Strip`` this was written for, or already done)."""
    if getattr(Strip, "_ibtui_lazy_caches", False):
        return None
    if "__getattr__" in Strip.__dict__:
        skipped("lazy_strip_caches", "Strip has a __getattr__ of its own")
        return None
    probe = Strip([])
    sizes: dict[str, int] = {}
    plain: dict[str, Any] = {}
    for name in Strip.__slots__:
        value = getattr(probe, name, None)
        if isinstance(value, FIFOCache):
            sizes[name] = value._maxsize
        elif name not in ("_segments", "_cell_length"):
            plain[name] = value
    if not sizes or plain != _PLAIN:
        skipped("lazy_strip_caches", "Strip's slots are not those of Textual 8.2")
        return None
    original = Strip.__init__

    def __init__(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
        self._segments = list(segments)
        self._cell_length = cell_length
        self._render_cache = None
        self._link_ids = None
        self._cell_count = None

    def __getattr__(self: Strip, name: str) -> Any:
        size = sizes.get(name)
        if size is None:
            raise AttributeError(f"'Strip' object has no attribute {name!r}")
        cache: FIFOCache[Any, Any] = FIFOCache(size)
        setattr(self, name, cache)
        return cache

    Strip.__init__ = __init__  # type: ignore[method-assign]
    Strip.__getattr__ = __getattr__  # type: ignore[attr-defined]
    Strip._ibtui_lazy_caches = True  # type: ignore[attr-defined]

    def undo() -> None:
        Strip.__init__ = original  # type: ignore[method-assign]
        del Strip.__getattr__  # type: ignore[attr-defined]
        del Strip._ibtui_lazy_caches  # type: ignore[attr-defined]

    return undo
