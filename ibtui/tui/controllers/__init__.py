"""The app's pieces, one concern each, that :class:`~ibtui.tui.app.IbtuiApp` composes: the idle
lock (:mod:`.idle_lock`), another login holding the brokerage session (:mod:`.competing`), picking
and opening an account (:mod:`.accounts`) and opening order tickets (:mod:`.tickets`).

Each holds the app and drives it through its public API (screens, workers, notifications); the
app keeps the screens, the global keys and the command palette. The screens a piece shows are
imported when first shown: :func:`is_a` checks whether one is on the stack without importing it.
"""

from __future__ import annotations

import sys

__all__ = ["is_a"]


def is_a(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: nothing is an instance of
    a class whose module has not been imported."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))
