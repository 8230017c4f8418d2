"""Textual's styles cache without its memory leak (Textualize/textual#6665).

``StylesCache.get_inner_outer`` is an ``lru_cache`` on an instance method, so each entry's key
holds a widget's ``StylesCache``, and with it every line the widget last rendered: the styles
caches of the last 1,024 widgets to be drawn outlive their widgets. Each watchlist, order or chart
screen opened and closed left its widgets' caches behind, about 1,300 objects a screen; the memory
benchmark (a watchlist opened once a minute) saw the app grow by 0.6 MB a minute. The method reads
only its two colours, so here it is cached on the colours alone.

Upstream: https://github.com/Textualize/textual/issues/6665 (open), which carries the report
(cause: ``textual/_styles_cache.py``, ``@lru_cache(maxsize=1024)`` on the instance method
``StylesCache.get_inner_outer``; fix: cache on the two colours, as here) and a repro that grows
the process's memory. A repro that counts what it keeps instead (Textual 8.2.8)::

    import asyncio, gc
    from textual._styles_cache import StylesCache
    from textual.app import App
    from textual.containers import Vertical
    from textual.widgets import Label

    class Rebuild(App[None]):
        def compose(self):
            yield Vertical()

    async def main():  # asyncio.run(main())
        app = Rebuild()
        async with app.run_test() as pilot:
            for _ in range(30):  # 40 labels replaced 30 times
                await app.query_one(Vertical).remove_children()
                await app.query_one(Vertical).mount(*(Label(f"card {i}") for i in range(40)))
                await pilot.pause()
            gc.collect()
            print(sum(isinstance(o, StylesCache) for o in gc.get_objects()))

Expected: one ``StylesCache`` a widget alive (42). Actual: 738, the removed labels' caches held
by the ``lru_cache``; with this patch applied, 42.

Guard: the method must be the leaking ``lru_cache`` on an instance method (once fixed upstream it
is not, and nothing changes).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from rich.style import Style
from textual._styles_cache import StylesCache
from textual.color import Color

from ibtui.tui.textual_compat._guard import skipped

__all__ = ["release_styles_caches"]


def release_styles_caches() -> Callable[[], None] | None:
    """Key ``StylesCache.get_inner_outer``'s cache on its colours only, and drop the styles
    caches its old cache held; the function that undoes it. Nothing changes (None) when
    Textual's method is not the leaking ``lru_cache`` (fixed upstream, or already replaced)."""
    method = StylesCache.__dict__.get("get_inner_outer")
    if isinstance(method, staticmethod) and getattr(method, "_ibtui", False):
        return None  # already replaced
    if method is None or isinstance(method, staticmethod) or not hasattr(method, "cache_clear"):
        skipped("release_styles_caches", "StylesCache.get_inner_outer is not the leaking cache")
        return None
    textual: Callable[[object, Color, Color], tuple[Style, Style]] = method.__wrapped__
    method.cache_clear()

    @lru_cache(maxsize=1024)
    def get_inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
        return textual(None, base_background, background)  # it never reads its instance

    replacement = staticmethod(get_inner_outer)
    replacement._ibtui = True  # type: ignore[attr-defined]
    setattr(StylesCache, "get_inner_outer", replacement)  # noqa: B010

    def undo() -> None:
        get_inner_outer.cache_clear()
        setattr(StylesCache, "get_inner_outer", method)  # noqa: B010

    return undo
