"""Textual's styles cache without its memory leak (Textualize/textual#6665).

``StylesCache.get_inner_outer`` is an ``lru_cache`` on an instance method, so each entry's key
holds a widget's ``StylesCache``, and with it every line the widget last rendered: the styles
caches of the last 1,024 widgets to be drawn outlive their widgets. Each watchlist, order or chart
screen opened and closed left its widgets' caches behind, about 1,300 objects a screen; the memory
benchmark (a watchlist opened once a minute) saw the app grow by 0.6 MB a minute. The method reads
only its two colours, so here it is cached on the colours alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from rich.style import Style
from textual._styles_cache import StylesCache
from textual.color import Color

__all__ = ["release_styles_caches"]


def release_styles_caches() -> None:
    """Key ``StylesCache.get_inner_outer``'s cache on its colours only, and drop the styles
    caches its old cache held. Nothing changes when Textual's method is not the leaking
    ``lru_cache`` (fixed upstream, or already replaced here)."""
    method = StylesCache.__dict__.get("get_inner_outer")
    if method is None or isinstance(method, staticmethod) or not hasattr(method, "cache_clear"):
        return
    textual: Callable[[object, Color, Color], tuple[Style, Style]] = method.__wrapped__
    method.cache_clear()

    @lru_cache(maxsize=1024)
    def get_inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
        return textual(None, base_background, background)  # it never reads its instance

    setattr(StylesCache, "get_inner_outer", staticmethod(get_inner_outer))  # noqa: B010
