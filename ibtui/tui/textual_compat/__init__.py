"""Every use of Textual's private code in ibtui, fenced in one package.

Each module here fixes or speeds up one thing in Textual, names the upstream issue (or the code
it copies), and checks the installed Textual (its version, or the shape of what it changes)
before it changes anything: when Textual is not what it was written for, it does nothing and
says so in the log (``ibtui.textual_compat``). Outside this package, ibtui uses Textual's
public API only.

- :mod:`.styles_cache`: the styles cache's memory leak (Textualize/textual#6665); Textual-wide.
- :mod:`.footer`: the footer's memory leak (Textualize/textual#6666); a widget class.
- :mod:`.background`: a screen under a pop-up repainted in full every frame (a loop that came
  with Textualize/textual#6307); Textual-wide.
- :mod:`.display`: the seam to the terminal writer (only changed cells, benchmark 4); per app.

Speed patches stay only while they buy at least 10% of a benchmark's figure. Three did not and
are gone (the tick benchmark, 1,000 positions, 12 ticks a run, each patch left out in turn,
four alternating rounds, medians of app CPU a tick: 22.7 ms with all three; without the strips'
lazy caches 24.2 ms, 1.07x; without the compositor's render-only-overlapping 20.0 ms, 0.88x;
without the truecolor filter that hands back unchanged lines 20.3 ms, 0.89x; without all three
22.5 ms, 0.99x): a copied ``Compositor._get_renders``, a patched ``Strip.__init__`` /
``__getattr__`` and an ``ANSIToTruecolor`` subclass put in ``App._filters``.

The Textual-wide patches are applied once, by :func:`apply_patches` (``run_app`` calls it, and
the test fixtures that need them, through :func:`patched`, which undoes them afterwards); the
per-app one by :func:`install` on the app ``run_app`` runs. Nothing is applied on import or by
``IbtuiApp`` itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from textual.app import App

from ibtui.tui.terminal import TerminalWriter
from ibtui.tui.textual_compat.background import quiet_background_refresh
from ibtui.tui.textual_compat.display import install_terminal_writer
from ibtui.tui.textual_compat.styles_cache import release_styles_caches

__all__ = ["PATCHES", "apply_patches", "install", "patched", "revert_patches"]

# The Textual-wide patches, by name: each applies itself and hands back how to undo it (None when
# it was not applied: already applied, or Textual is not what it was written for).
PATCHES: dict[str, Callable[[], Callable[[], None] | None]] = {
    "styles_cache": release_styles_caches,
    "background_refresh": quiet_background_refresh,
}
_undo: dict[str, Callable[[], None]] = {}


def apply_patches() -> list[str]:
    """Apply the Textual-wide patches not applied yet; the names of those that are in place."""
    for name, apply in PATCHES.items():
        if name not in _undo:
            undo = apply()
            if undo is not None:
                _undo[name] = undo
    return [name for name in PATCHES if name in _undo]


def revert_patches() -> None:
    """Undo what :func:`apply_patches` applied (for tests)."""
    for name in reversed(list(_undo)):
        _undo.pop(name)()


@contextlib.contextmanager
def patched() -> Iterator[list[str]]:
    """The Textual-wide patches applied for the ``with`` block (those already applied stay)."""
    before = set(_undo)
    applied = apply_patches()
    try:
        yield applied
    finally:
        for name in [name for name in _undo if name not in before]:
            _undo.pop(name)()


def install(app: App[Any]) -> TerminalWriter | None:
    """The per-app patch on ``app``: its output through a terminal writer (returned; None when
    Textual is not what the seam was written for)."""
    return install_terminal_writer(app)
