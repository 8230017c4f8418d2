"""Frozen slotted dataclasses made without their ``__init__``, for the objects a tick makes by the
hundred (quotes, the views' replacements, the grid's cells): every layer may use it (standard
library only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from functools import partial
from typing import Any, TypeVar

__all__ = ["constructor", "replacer"]

_T = TypeVar("_T")


def replacer(cls: type[_T], *changed: str) -> Callable[..., _T]:
    """``f(base, *values)``: ``dataclasses.replace(base, **dict(zip(changed, values)))`` for a
    frozen slotted dataclass, at a third of the cost of even calling the class.

    A tick reprices every position (and stamps every quote); the frozen ``__init__`` sets each
    field through ``object.__setattr__``, which was most of a 1,000-position tick's repricing.
    The function is generated from the class's fields, as ``dataclasses`` generates
    ``__init__``: it makes the instance and sets every slot directly, the changed ones from its
    arguments, the others from ``base``. Only for classes without ``__post_init__`` or field
    converters (there is nothing to run but the assignments)."""
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__}: only a slotted dataclass without __post_init__")
    names = [field.name for field in fields(cls)]  # type: ignore[arg-type]
    unknown = set(changed) - set(names)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {sorted(unknown)}")
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = ["    made = _new(_cls)"]
    for name in names:
        scope[f"_set_{name}"] = getattr(cls, name).__set__  # the slot's member descriptor
        body.append(f"    _set_{name}(made, {name if name in changed else 'base.' + name})")
    source = f"def replace(base, {', '.join(changed)}):\n" + "\n".join(body) + "\n    return made"
    exec(source, scope)  # noqa: S102 - generated from the class's own field names
    function: Callable[..., _T] = scope["replace"]
    return function


def constructor(cls: type[_T]) -> Callable[..., _T]:
    """``f(*values)``: ``cls(*values)``, every field given in order, for a frozen slotted
    dataclass without ``__post_init__``, as :func:`replacer` makes it (its base is never read
    when every field is given)."""
    return partial(replacer(cls, *(field.name for field in fields(cls))), None)  # type: ignore[arg-type]
