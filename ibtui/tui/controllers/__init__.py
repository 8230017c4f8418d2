"""The app's pieces, one concern each, that :class:`~ibtui.tui.app.IbtuiApp` composes: the idle
lock (:mod:`.idle_lock`), another login holding the brokerage session (:mod:`.competing`), picking
and opening an account (:mod:`.accounts`) and opening order tickets (:mod:`.tickets`).

Each holds the app and drives it through its public API (screens, workers, notifications); the
app keeps the screens, the global keys and the command palette. The screens a piece shows are
imported when first shown: :func:`is_a` checks whether one is on the stack without importing it.
Their workers are the app's (:func:`exclusive`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import Any

from textual.app import App
from textual.worker import Worker

__all__ = ["exclusive", "is_a"]


def is_a(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``: nothing is an instance of
    a class whose module has not been imported."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, name))


def exclusive(
    app: App[Any],
    work: Callable[[], Coroutine[None, None, None]],
    name: str,
    group: str,
    *,
    exit_on_error: bool = True,
) -> Worker[None]:
    """``work`` in ``app``'s exclusive worker of ``group`` (as ``@work(exclusive=True)`` on an
    app's method)."""
    worker: Worker[None] = app.run_worker(
        work, name=name, group=group, exclusive=True, exit_on_error=exit_on_error
    )
    return worker
