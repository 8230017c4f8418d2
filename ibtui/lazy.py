"""A package's names imported on first use (PEP 562): the modules a start does not need (order
models, chart views, the trading core) are not imported until one of their names is asked for.

    _HOMES = {"History": "ibtui.ibkr.models.history", ...}
    if not TYPE_CHECKING:
        __getattr__ = lazy_names(__name__, _HOMES)

The package imports its lazy names under ``TYPE_CHECKING`` too, for the type checker.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module``: a name of ``homes`` (name -> the module it lives
    in) is imported from its home when first asked for and kept in ``module``; any other name
    is an ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[module], name, value)
        return value

    return __getattr__
