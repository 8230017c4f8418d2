"""Compare a simulator body with an example body from tests/data/examples: same keys, same JSON
types (the quirks — string prices, int ids, float sizes — are types)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    return "object"


def assert_shape(
    expected: Any, actual: Any, path: str = "$", *, skip: frozenset[str] = frozenset()
) -> None:
    """Every key of ``expected`` exists in ``actual`` with the same JSON type (recursively).

    ``null`` in the example accepts anything (IBKR fills those for some instruments only)."""
    ek, ak = _kind(expected), _kind(actual)
    if ek == "null":
        return
    if ek != ak:
        raise AssertionError(f"{path}: expected {ek} like {expected!r}, got {ak} {actual!r}")
    if ek == "object":
        for key, value in expected.items():
            if key in skip:
                continue
            assert key in actual, f"{path}: missing key {key!r}"
            assert_shape(value, actual[key], f"{path}.{key}", skip=skip)
    elif ek == "list" and expected and actual:
        assert_shape(expected[0], actual[0], f"{path}[0]", skip=skip)
