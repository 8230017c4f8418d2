"""Fixtures for every test."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _textual_unpatched_after() -> Iterator[None]:
    """Textual's classes as Textual made them after each test: the Textual-wide patches a test
    applied (``run_app``, the soak, the ``textual_patches`` fixture) are undone, so no test's
    result depends on which ran before it."""
    yield
    compat = sys.modules.get("ibtui.tui.textual_compat")
    if compat is not None:  # imported: some test may have applied them
        compat.revert_patches()
