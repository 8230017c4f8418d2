"""Text from outside (IBKR's answers, files on disk) made safe to show in a terminal.

A terminal obeys the control characters in what it is sent: ESC starts an escape sequence
(``ESC ] 52 ;`` writes the clipboard, ``ESC [ 2 J`` clears the screen), U+009B is a one-character
CSI, BEL rings, backspace and carriage return overwrite what is shown. Server text is cleaned
once where it is parsed (:mod:`ibtui.ibkr.models`) and again where it is written (the command
line's output, error messages), both with :func:`clean_text`.

What goes: every C0 control (U+0000-U+001F), DEL (U+007F), every C1 control (U+0080-U+009F)
and every lone surrogate (a ``"\\ud800"`` escape in JSON, which cannot even be encoded to UTF-8).
Each becomes U+FFFD (the replacement character, one cell wide) rather than nothing, so that text
which carried control codes does not pass for clean text (``"AB\\bC"`` is not shown as ``"ABC"``)
and what was left of a sequence stays visible as the harmless text it now is.

Tab and line breaks: in one-line text (a symbol, a name, an id, an error) each becomes a space.
Where a field allows several lines (IBKR's order questions and warnings), ``lines=True`` keeps
tab and newline and turns ``\\r\\n`` and a lone ``\\r`` into ``\\n``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clean_data", "clean_text"]

REPLACEMENT = "\ufffd"

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_IN_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = frozenset("\t\n\r")


def _one_line(match: re.Match[str]) -> str:
    return " " if match.group() in _SPACES else REPLACEMENT


def clean_text(text: str, *, lines: bool = False) -> str:
    """``text`` without control characters or lone surrogates (see the module's docstring)."""
    if text.isprintable():  # no control, surrogate or tab (and no other non-printable): as is
        return text
    if lines:
        return _UNSAFE_IN_LINES.sub(REPLACEMENT, text.replace("\r\n", "\n").replace("\r", "\n"))
    return _UNSAFE.sub(_one_line, text)


def clean_data(value: Any, *, lines: bool = False) -> Any:
    """Decoded JSON (or a row about to be written) with every text in it, keys included, passed
    through :func:`clean_text`; other values as they are."""
    if isinstance(value, str):
        return clean_text(value, lines=lines)
    if isinstance(value, dict):
        return {clean_data(k, lines=lines): clean_data(v, lines=lines) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(item, lines=lines) for item in value]
    return value
