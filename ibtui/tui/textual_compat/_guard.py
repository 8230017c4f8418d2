"""The version and shape checks every patch in this package makes before it touches Textual."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

__all__ = ["TESTED", "log", "skipped", "textual_version", "version_tested"]

log = logging.getLogger("ibtui.textual_compat")

# The Textual releases (major.minor) the patches here were written against and tested with.
TESTED = ("8.2",)


def textual_version() -> str:
    try:
        return version("textual")
    except PackageNotFoundError:  # pragma: no cover - Textual is a dependency
        return "unknown"


def version_tested(tested: tuple[str, ...] = TESTED) -> bool:
    """Whether the installed Textual is one of the ``tested`` releases."""
    return ".".join(textual_version().split(".")[:2]) in tested


def skipped(patch: str, why: str) -> None:
    """Say in the log that ``patch`` was left out: Textual is not what it was written for."""
    log.warning(
        "ibtui: Textual patch %r not applied (Textual %s): %s", patch, textual_version(), why
    )
