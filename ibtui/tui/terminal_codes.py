"""The escape codes the terminal writer sends: cursor moves, and pens with the shortest SGR
transition from one to another.

A *pen* is what a terminal draws with after an SGR sequence: the attribute bits that are on, the
foreground and the background. :class:`Pens` interns them, finds the pen of each Rich style as
Textual's output would leave the terminal in, and the shortest sequence from one pen to the next
(only the attributes and colours that change, or a reset and the new pen when that is shorter).
:func:`cursor_move` is the shortest cursor move between two cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from operator import is_

from rich.color import ColorSystem
from rich.style import Style

__all__ = ["DEFAULT_PEN", "Fallback", "Pen", "Pens", "cursor_move"]


class Fallback(Exception):
    """The update has something the writer does not vouch for: use Textual's own output."""


# A pen: (attribute bits that are on, foreground SGR codes, background SGR codes); "" = default.
Pen = tuple[int, str, str]
_Cells = tuple[tuple[Style | None, ...], list[int]]  # a line's styles, its cells' pens

DEFAULT_PEN = 0

# Rich's attribute bits, in order (textual.strip.SGR_STYLES): bold, dim, italic, underline,
# blink, blink2, reverse, conceal, strike, underline2, frame, encircle, overline.
_ON = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "21", "51", "52", "53")
_OFF = ("22", "22", "23", "24", "25", "25", "27", "28", "29", "24", "54", "54", "55")
# the bits each "off" code clears
_CLEARS = {code: sum(1 << bit for bit, c in enumerate(_OFF) if c == code) for code in _OFF}
_ATTRIBUTE_BITS = len(_ON)

_STYLE_CACHE_LIMIT = 4096
_TRANSITION_CACHE_LIMIT = 16384


def _csi(count: int, final: str) -> str:
    return f"\x1b[{final}" if count == 1 else f"\x1b[{count}{final}"


def _cup(x: int, y: int) -> str:
    if x == 0:
        return "\x1b[H" if y == 0 else f"\x1b[{y + 1}H"
    return f"\x1b[{y + 1};{x + 1}H"


def cursor_move(cx: int | None, cy: int | None, x: int, y: int) -> str:
    """The shortest sequence from the cursor at (cx, cy) (None: not known) to (x, y)."""
    best = _cup(x, y)
    if cy is None:
        return best
    if cy == y:
        vertical = ""
    else:
        vertical = _csi(y - cy, "B") if y > cy else _csi(cy - y, "A")
        absolute_row = f"\x1b[{y + 1}d"
        if len(absolute_row) < len(vertical):
            vertical = absolute_row
    horizontal = f"\x1b[{x + 1}G" if x else "\x1b[G"
    if cx is not None:
        if cx == x:
            horizontal = ""
        else:
            relative = _csi(x - cx, "C") if x > cx else _csi(cx - x, "D")
            if len(relative) < len(horizontal):
                horizontal = relative
    candidate = vertical + horizontal
    return candidate if len(candidate) < len(best) else best


class Pens:
    """Interned pens, the pen of each Rich style, and the SGR transitions between pens."""

    def __init__(self) -> None:
        self.pens: list[Pen] = [(0, "", "")]
        self._ids: dict[Pen, int] = {(0, "", ""): DEFAULT_PEN}
        self._styles: dict[Style, int] = {}
        # the same Style objects come back frame after frame: found by identity first (the
        # entry holds the style, so its id cannot be reused while it is in here); read directly
        # by the writer's inner loop, which calls ``of`` only when the style is not in it
        self.by_id: dict[int, tuple[Style, int]] = {}
        self._color_system: ColorSystem | None = None
        # the pens of a line's cells by its segments' styles (by identity) and lengths: a line
        # whose cells changed comes back with the same styles, frame after frame
        self._cells: dict[tuple[tuple[int, ...], tuple[int, ...]], _Cells] = {}
        self._transitions: dict[tuple[int, int], str] = {}

    def set_color_system(self, color_system: ColorSystem) -> None:
        if color_system != self._color_system:
            self._styles.clear()
            self.by_id.clear()
            self._cells.clear()
            self._color_system = color_system

    def of(self, style: Style | None) -> int:
        """The pen Textual's output leaves a segment of this style in (``None``: the default)."""
        if style is None:
            return DEFAULT_PEN
        known = self.by_id.get(id(style))
        if known is not None and known[0] is style:
            return known[1]
        pen = self._styles.get(style)
        if pen is not None:
            self._remember(style, pen)
            return pen
        if style._link:
            raise Fallback("link")
        color_system = self._color_system or ColorSystem.TRUECOLOR
        attributes = style._attributes & style._set_attributes
        fg = bg = ""
        if style._color is not None:
            fg = ";".join(style._color.downgrade(color_system).get_ansi_codes())
            fg = "" if fg == "39" else fg
        if style._bgcolor is not None:
            bg = ";".join(style._bgcolor.downgrade(color_system).get_ansi_codes(False))
            bg = "" if bg == "49" else bg
        key = (attributes, fg, bg)
        pen = self._ids.get(key)
        if pen is None:
            pen = self._ids[key] = len(self.pens)
            self.pens.append(key)
        if len(self._styles) >= _STYLE_CACHE_LIMIT:
            self._styles.clear()
        self._styles[style] = pen
        self._remember(style, pen)
        return pen

    def cells(self, styles: Sequence[Style | None], lengths: tuple[int, ...]) -> list[int]:
        """The pen of each cell of segments of these styles, ``lengths`` cells each."""
        key = (tuple(map(id, styles)), lengths)
        known = self._cells.get(key)
        if known is not None and all(map(is_, known[0], styles)):
            return known[1]
        of = self.of
        pens = list(chain.from_iterable(map(repeat, map(of, styles), lengths)))
        if len(self._cells) >= _STYLE_CACHE_LIMIT:
            self._cells.clear()
        self._cells[key] = (tuple(styles), pens)  # it holds the styles: their ids stay theirs
        return pens

    def _remember(self, style: Style, pen: int) -> None:
        if len(self.by_id) >= _STYLE_CACHE_LIMIT:
            self.by_id.clear()
        self.by_id[id(style)] = (style, pen)

    def transition(self, old: int, new: int) -> str:
        """The shortest SGR sequence that turns pen ``old`` into pen ``new``."""
        if old == new:
            return ""
        cached = self._transitions.get((old, new))
        if cached is not None:
            return cached
        a_attrs, a_fg, a_bg = self.pens[old]
        b_attrs, b_fg, b_bg = self.pens[new]
        codes: list[str] = []
        remaining = a_attrs
        off = a_attrs & ~b_attrs
        for bit in range(_ATTRIBUTE_BITS):
            if off & (1 << bit):
                code = _OFF[bit]
                if code not in codes:
                    codes.append(code)
                    remaining &= ~_CLEARS[code]
        on = b_attrs & ~remaining
        codes.extend(_ON[bit] for bit in range(_ATTRIBUTE_BITS) if on & (1 << bit))
        if a_fg != b_fg:
            codes.append(b_fg or "39")
        if a_bg != b_bg:
            codes.append(b_bg or "49")
        incremental = f"\x1b[{';'.join(codes)}m"
        fresh = [_ON[bit] for bit in range(_ATTRIBUTE_BITS) if b_attrs & (1 << bit)]
        fresh.extend(code for code in (b_fg, b_bg) if code)
        reset = f"\x1b[0;{';'.join(fresh)}m" if fresh else "\x1b[m"
        sequence = reset if len(reset) < len(incremental) else incremental
        if len(self._transitions) >= _TRANSITION_CACHE_LIMIT:
            self._transitions.clear()
        self._transitions[(old, new)] = sequence
        return sequence
