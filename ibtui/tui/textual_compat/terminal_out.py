"""Escape sequences written to the terminal as they are, between frames.

Textual has a public ``App.bell()`` and ``App.copy_to_clipboard()`` (OSC 52), each writing its
sequence through the app's driver (``App._driver.write``), but no public way to write another
one: the desktop notifications of an alert (OSC 9, OSC 777, :mod:`ibtui.tui.desktop_notify`)
go through that same driver here. Nothing is written by a headless app (as ``App.bell()``) or
when the driver is not there (the app not running). No upstream issue filed: a ``write`` for
sequences Textual does not know is a feature request, and the driver's ``write`` is the one
place all of its own output goes through.

Guard: the app's ``_driver`` is a :class:`textual.driver.Driver` (or None) with ``write``;
otherwise nothing is written and the log says so once.
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.driver import Driver

from ibtui.tui.textual_compat._guard import skipped

__all__ = ["write_to_terminal"]

_warned: list[bool] = []


def write_to_terminal(app: App[Any], text: str) -> bool:
    """Write ``text`` (escape sequences made of clean text) to ``app``'s terminal; whether it
    was written."""
    driver = getattr(app, "_driver", None)
    if driver is None or app.is_headless:
        return False
    if not isinstance(driver, Driver) or not callable(getattr(driver, "write", None)):
        if not _warned:
            _warned.append(True)
            skipped("terminal_out", "the app's driver is not a textual.driver.Driver")
        return False
    driver.write(text)
    return True
