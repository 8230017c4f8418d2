"""A QR code drawn with Unicode half blocks, two modules per character cell, for a phone to scan.

The colours are explicit (dark modules black on a white quiet zone) so the code scans whatever the
terminal's theme is.
"""

from __future__ import annotations

import segno
from rich.style import Style
from rich.text import Text
from textual.widgets import Static

__all__ = ["QrCode", "qr_lines"]

_DARK = "#000000"
_LIGHT = "#ffffff"
_UPPER = "▀"


def qr_lines(data: str, *, border: int = 2) -> list[list[tuple[bool, bool]]]:
    """Pairs of module rows as ``(top_dark, bottom_dark)`` per column, quiet zone included."""
    code = segno.make(data, error="l", micro=False)
    matrix = [[bool(bit) for bit in row] for row in code.matrix_iter(scale=1, border=border)]
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    return [
        list(zip(matrix[row], matrix[row + 1], strict=True)) for row in range(0, len(matrix), 2)
    ]


def qr_text(data: str, *, border: int = 2) -> Text:
    """The QR code as Rich text: each cell's upper half is one module, its lower half the next."""
    text = Text(no_wrap=True, end="")
    styles = {
        (top, bottom): Style(color=_DARK if top else _LIGHT, bgcolor=_DARK if bottom else _LIGHT)
        for top in (False, True)
        for bottom in (False, True)
    }
    rows = qr_lines(data, border=border)
    for index, row in enumerate(rows):
        for pair in row:
            text.append(_UPPER, style=styles[pair])
        if index < len(rows) - 1:
            text.append("\n")
    return text


class QrCode(Static):
    """Shows ``data`` as a QR code (empty when there is nothing to encode)."""

    DEFAULT_CSS = """
    QrCode { width: auto; height: auto; }
    """

    def __init__(self, data: str = "", *, id: str | None = None) -> None:
        super().__init__(qr_text(data) if data else "", id=id)
        self.data = data

    def show(self, data: str) -> None:
        self.data = data
        self.update(qr_text(data) if data else "")
