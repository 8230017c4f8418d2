"""A curses-style terminal writer: send the terminal only the cells that changed.

Textual writes each refreshed region of the screen as a cursor move plus, per segment, the full
escape codes of its style (true colour foreground and background, 30-40 bytes), the text and a
reset. Over a slow link (SSH) that is most of the bytes: a price going from ``123.45`` to
``123.47`` costs about 50 bytes where two characters changed.

:class:`TerminalWriter` keeps a *shadow* of what the terminal shows (per cell: the character and
the pen it was drawn with) and turns each of Textual's compositor updates into the least output
it can find for it:

* only the cells whose character or style differ from the shadow are sent;
* a run of unchanged cells between two changes is sent again when that is shorter than moving
  the cursor over it, else the cursor moves (relative moves where they are shorter than an
  absolute one);
* styles go out as transitions from the pen the terminal has to the next one: only the
  attributes and colours that change, or a reset and the new style when that is shorter; the pen
  is tracked across the whole update and reset once at its end.

Safety first (a wrong shadow is a garbled trading screen), so the writer falls back to Textual's
own output, and forgets its shadow, whenever it is in doubt: an update of a type it does not
know, a control segment, a link (OSC 8), a character whose width it cannot vouch for (zero-width
and combining characters, a grapheme that spans several code points), a strip wider than the
screen, a size that is not the app's. The shadow is dropped too on a change of size, when the
driver restarts (``App.suspend()``, ``SIGTSTP``/``SIGCONT``: a new writer thread), on anything
other than a compositor update, and on every full ``LayoutUpdate`` (a resize or a new screen):
those are sent in full, every cell, only with cheaper escape codes. Inline and headless apps get
Textual's behaviour unchanged. Set ``IBTUI_TERMINAL_WRITER=0`` to turn the writer off.

The escape codes themselves (cursor moves, pens and the transitions between them) are
:mod:`ibtui.tui.terminal_codes`.

The cursor column is trusted only after ASCII text: after any other character (whose width a
terminal might see differently from Rich) the next run starts with an absolute move.

The writer reads Textual's compositor updates through their public attributes only
(:class:`ChopsFrame`, :class:`LayoutFrame`). Where it meets Textual's private code (the app's
``_display``, its driver, the update classes) is one narrow seam,
:mod:`ibtui.tui.textual_compat.display`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import groupby
from operator import ne, or_
from typing import TYPE_CHECKING, Protocol

from rich.cells import cell_len, get_character_cell_size
from rich.color import ColorSystem
from rich.segment import Segment

from ibtui.tui.terminal_codes import DEFAULT_PEN, Fallback, Pens, cursor_move

if TYPE_CHECKING:
    from rich.console import Console
    from textual.geometry import Region
    from textual.strip import Strip

__all__ = ["ChopsFrame", "LayoutFrame", "TerminalWriter", "writer_enabled"]


class ChopsFrame(Protocol):
    """A partial update as Textual's compositor makes it (``ChopsUpdate``): per line, the strips
    of its widgets' pieces by their first column, where the pieces end, and the spans
    ``(y, x1, x2)`` to write."""

    @property
    def chops(self) -> Sequence[Mapping[int, Strip | None]]: ...
    @property
    def chop_ends(self) -> Sequence[Sequence[int]]: ...
    @property
    def spans(self) -> Sequence[tuple[int, int, int]]: ...
    def render_segments(self, console: Console) -> str: ...


class LayoutFrame(Protocol):
    """A full update (``LayoutUpdate``): the region's lines, each a list of strips."""

    @property
    def region(self) -> Region: ...
    @property
    def strips(self) -> Sequence[Iterable[Strip | None]]: ...
    def render_segments(self, console: Console) -> str: ...


_TAIL = ""  # the text of the right half of a wide character


def writer_enabled() -> bool:
    """Whether the environment leaves the writer on (``IBTUI_TERMINAL_WRITER=0`` turns it off)."""
    return os.environ.get("IBTUI_TERMINAL_WRITER", "1").strip().lower() not in {"0", "off", "no"}


class _Row:
    """A line of cells as two lists, column by column: each cell's text (``None``: not known, or
    not written; ``""``: the right half of a wide character) and the id of its pen. Kept apart,
    a run of text is put in with one slice assignment of its characters, and no object is made
    per cell (a (text, pen) pair a cell was a young object for the collector to count)."""

    __slots__ = ("pens", "texts")

    def __init__(self, width: int) -> None:
        self.texts: list[str | None] = [None] * width
        self.pens: list[int] = [DEFAULT_PEN] * width


class _Shadow:
    """What the terminal shows, cell by cell (a text of ``None``: not known)."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.rows: list[_Row] = [_Row(width) for _ in range(height)]
        self.wide: set[int] = set()  # rows a wide character was ever written to


class _Writes:
    """What one update writes: per row, the cells (a text of None where it writes nothing), the
    spans ``[start, end)`` it writes and whether it writes a wide character."""

    __slots__ = ("rows", "spans", "wide", "width")

    def __init__(self, width: int) -> None:
        self.width = width
        self.rows: dict[int, _Row] = {}
        self.spans: dict[int, list[tuple[int, int]]] = {}
        self.wide: set[int] = set()

    def row(self, y: int) -> _Row:
        row = self.rows.get(y)
        if row is None:
            row = self.rows[y] = _Row(self.width)
            self.spans[y] = []
        return row


class TerminalWriter:
    """Turns Textual's compositor updates into the fewest bytes for the terminal.

    One per app: :mod:`ibtui.tui.textual_compat.display` passes every update through it.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = writer_enabled() if enabled is None else enabled
        self._pens = Pens()
        self._shadow: _Shadow | None = None
        # what it last wrote through (the app's driver and its writer thread): a new one means
        # a cleared terminal (kept by the seam, ibtui.tui.textual_compat.display)
        self.output: tuple[object, object] = (None, None)
        self.fallbacks = 0  # updates sent as Textual's own output (for tests and diagnostics)

    def reset(self) -> None:
        """Forget what the terminal shows: the next updates are sent in full."""
        self._shadow = None

    # --- rendering ----------------------------------------------------------------------------
    def render(
        self, update: ChopsFrame | LayoutFrame, console: Console, size: tuple[int, int]
    ) -> str:
        """The terminal output for ``update`` on a screen of ``size`` (width, height); Textual's
        own output (with the shadow dropped) when the writer cannot vouch for its own."""
        color_system = console._color_system or ColorSystem.TRUECOLOR
        self._pens.set_color_system(color_system)
        try:
            if hasattr(update, "region"):  # a full update (a new screen, a resize)
                self.reset()
                writes = self._layout_cells(update, size)  # type: ignore[arg-type]
                full = True
            elif hasattr(update, "chops"):
                writes = self._chops_cells(update, size)
                full = False
            else:
                raise Fallback("unknown update")
            if self._shadow is None or (self._shadow.width, self._shadow.height) != size:
                self._shadow = _Shadow(*size)
            return self._emit(writes, self._shadow, full)
        except Exception:  # Fallback, or a bug: Textual's output is always right
            self.reset()
            self.fallbacks += 1
            return update.render_segments(console)

    def _chops_cells(self, update: ChopsFrame, size: tuple[int, int]) -> _Writes:
        """The cells Textual's ``ChopsUpdate.render_segments`` writes, row by row.

        For each span of a line, Textual writes every chop (a widget's piece of the line) the
        span touches from the chop's start to the span's end (or the chop's). A chop touched by
        several spans of a line (a table row whose price cells changed) is thus written over
        itself with the same cells, once a span; here it is written once, as far as the furthest
        of them reaches: the same cells."""
        width, height = size
        chops: Sequence[Mapping[int, Strip | None]] = update.chops
        chop_ends = update.chop_ends
        if len(chops) != height or any(ends and ends[-1] != width for ends in chop_ends):
            raise Fallback("the update is not the size of the screen")
        reach: dict[int, dict[int, int]] = {}  # line -> chop start -> where its writing ends
        for y, x1, x2 in update.spans:
            line = reach.get(y)
            if line is None:
                line = reach[y] = {}
            for end, x in zip(chop_ends[y], chops[y], strict=False):
                if x > x2 or end <= x1:
                    continue
                stop = _WHOLE if x2 > x >= x1 and end <= x2 else min(end, x2)
                if line.get(x, -1) < stop:
                    line[x] = stop
        writes = _Writes(width)
        for y, line in reach.items():
            strips = chops[y]
            row = None
            for x, stop in line.items():
                strip = strips[x]
                if strip is None:
                    continue
                if row is None:
                    row = writes.row(y)
                if stop != _WHOLE:
                    strip = strip.crop(0, stop - x)
                self._put(writes, y, row, x, strip)
        return writes

    def _layout_cells(self, update: LayoutFrame, size: tuple[int, int]) -> _Writes:
        """The cells Textual's ``LayoutUpdate.render_segments`` writes, row by row."""
        width, height = size
        region = update.region
        if region.right > width or region.bottom > height:
            raise Fallback("the update is larger than the screen")
        writes = _Writes(width)
        for y, line in enumerate(update.strips, region.y):
            row = writes.row(y)
            x = region.x
            for strip in line:
                if strip is None:
                    raise Fallback("no strip")
                x = self._put(writes, y, row, x, strip)
        return writes

    def _put(self, writes: _Writes, y: int, row: _Row, x: int, segments: Iterable[Segment]) -> int:
        """Write ``segments`` into ``row`` (line ``y``) from column ``x``, as a terminal would;
        the column after them."""
        texts, pens = row.texts, row.pens
        width = len(texts)
        segments = list(segments)
        if not segments:
            return x
        strings, styles, controls = zip(*segments, strict=True)
        if any(controls):
            raise Fallback("control segment")
        line = "".join(strings)
        if line.isascii():  # the usual line, one cell a character: put in whole
            if not line.isprintable():
                raise Fallback("control character")
            end = x + len(line)
            if end > width:
                raise Fallback("text beyond the screen")
            texts[x:end] = line  # its characters
            pens[x:end] = self._pens.cells(styles, tuple(map(len, strings)))
            if end > x:
                writes.spans[y].append((x, end))
            return end
        pen_of = self._pens.of
        known_pen = self._pens.by_id.get
        first = x
        for text, style, control in segments:
            if control:
                raise Fallback("control segment")
            if not text:
                continue
            known = known_pen(id(style))
            pen = known[1] if known is not None and known[0] is style else pen_of(style)
            # one cell a character: ASCII, or box lines, dashes, arrows
            ascii = text.isascii()
            if ascii and not text.isprintable():
                raise Fallback("control character")
            if ascii or _narrow(text):
                end = x + len(text)
                if end > width:
                    raise Fallback("text beyond the screen")
                texts[x:end] = text  # its characters
                pens[x:end] = [pen] * (end - x)
                x = end
                continue
            start = x
            for character in text:
                size = get_character_cell_size(character)
                if size == 1:
                    if x >= width:
                        raise Fallback("text beyond the screen")
                    texts[x], pens[x] = character, pen
                    x += 1
                elif size == 2 and character.isprintable():
                    if x + 1 >= width:
                        raise Fallback("text beyond the screen")
                    texts[x], pens[x] = character, pen
                    texts[x + 1], pens[x + 1] = _TAIL, pen
                    x += 2
                    writes.wide.add(y)
                else:  # zero-width, combining, control: the terminal may see it otherwise
                    raise Fallback("a character of no width")
            if x - start != cell_len(text):
                raise Fallback("graphemes")
        if x > first:
            writes.spans[y].append((first, x))
        return x

    # --- output -------------------------------------------------------------------------------
    def _emit(self, writes: _Writes, shadow: _Shadow, full: bool) -> str:
        """The output that turns the terminal from ``shadow`` into ``shadow`` + ``writes``; the
        shadow is updated."""
        pens = self._pens
        transition = pens.transition
        out: list[str] = ["\x1b[m"] if full else []
        append = out.append
        pen = DEFAULT_PEN
        cx: int | None = None  # the cursor's column, while it is known
        cy: int | None = None  # its row
        width = shadow.width
        for y in sorted(writes.rows):
            new = writes.rows[y]
            old = shadow.rows[y]
            spans = _merged(writes.spans[y])
            runs = _changed_runs(new, old, spans)
            if not runs:
                continue
            texts, cell_pens = new.texts, new.pens  # a run's cells are all written
            for index, (start, end) in enumerate(runs):
                if index:
                    # from the previous run's end: move, or send the unchanged cells again
                    gap_start = runs[index - 1][1]
                    first_pen = cell_pens[start]
                    move = cursor_move(cx, cy, start, y)
                    move_cost = len(move) + len(transition(pen, first_pen))
                    resend = (
                        None
                        if cx is None
                        else self._resend(new, old, gap_start, start, pen, first_pen, move_cost)
                    )
                    if resend is not None:
                        again, pen = resend
                        append(again)
                        cx = start
                    else:
                        append(move)
                        cx, cy = start, y
                else:
                    append(cursor_move(cx, cy, start, y))
                    cx, cy = start, y
                trusted = True
                x = start
                # the run a pen at a time: the right half of a wide character ("") has its left
                # half's pen and joins to nothing (None is not in a run)
                for cell_pen, cells in groupby(cell_pens[start:end]):
                    stop = x + len(list(cells))
                    text = "".join(texts[x:stop])  # type: ignore[arg-type]
                    x = stop
                    if not text:
                        continue
                    if cell_pen != pen:
                        append(transition(pen, cell_pen))
                        pen = cell_pen
                    append(text)
                    trusted = trusted and text.isascii()
                if trusted and end < width:
                    cx = end
                else:  # a width the terminal may see otherwise, or the last column (a
                    cx = cy = None  # terminal that wraps would have moved on): jump next
            for start, end in spans:
                old.texts[start:end] = new.texts[start:end]
                old.pens[start:end] = new.pens[start:end]
            if y in writes.wide:
                shadow.wide.add(y)
            if y in shadow.wide:
                _repair_wide(old)
        if pen != DEFAULT_PEN:
            append("\x1b[m")
        return "".join(out)

    def _resend(
        self,
        new: _Row,
        old: _Row,
        start: int,
        end: int,
        pen: int,
        next_pen: int,
        limit: int,
    ) -> tuple[str, int] | None:
        """The unchanged cells ``start:end`` sent again (text, pen after them) if that is
        shorter than ``limit`` bytes including the move to ``next_pen``; else None."""
        transition = self._pens.transition
        parts: list[str] = []
        cost = 0
        new_texts, old_texts = new.texts, old.texts
        for x in range(start, end):
            text = new_texts[x]
            if text is not None:
                cell_pen = new.pens[x]
            else:
                text, cell_pen = old_texts[x], old.pens[x]
                if text is None:
                    return None  # not known: the cursor has to jump it
            if text == _TAIL:
                # The right half of a wide character whose left half is not sent again here: it
                # ended the run before, which wrote over it, and a terminal blanks the half left
                # (each in its own way). The cursor jumps it.
                return None
            if not text.isascii():
                return None  # keep the cursor's column trusted
            if cell_pen != pen:
                sgr = transition(pen, cell_pen)
                parts.append(sgr)
                cost += len(sgr)
                pen = cell_pen
            parts.append(text)
            cost += len(text)
            if cost >= limit:
                return None
        if cost + len(transition(pen, next_pen)) >= limit:
            return None
        return "".join(parts), pen


_WHOLE = 1 << 30  # a chop that a span holds whole: written whole, as Textual writes it


@lru_cache(maxsize=4096)
def _narrow(text: str) -> bool:
    """Whether every character of ``text`` is printable and one cell wide (the same texts come
    back frame after frame: the grid's lines, dashes, sort arrows, the scroll bar)."""
    return all(c.isprintable() and get_character_cell_size(c) == 1 for c in text)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` sorted, overlapping and touching ones joined."""
    if len(spans) <= 1:
        return spans
    joined: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if joined and joined[-1][1] >= start:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def _changed_runs(new: _Row, old: _Row, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The runs [start, end) of cells that ``new`` changes within its written ``spans`` (sorted,
    apart), widened to whole characters. Cells are compared a span at a time, in C."""
    runs: list[tuple[int, int]] = []
    new_texts, new_pens, old_texts, old_pens = new.texts, new.pens, old.texts, old.pens
    width = len(new_texts)
    for first, last in spans:
        changed = bytes(
            map(
                or_,
                map(ne, new_texts[first:last], old_texts[first:last]),
                map(ne, new_pens[first:last], old_pens[first:last]),
            )
        )
        length = last - first
        index = changed.find(1)
        while index != -1:
            stop = changed.find(0, index)
            if stop == -1:
                stop = length
            start, x = first + index, first + stop
            if new_texts[start] == _TAIL:
                start -= 1  # the left half of a wide character
                if start < 0 or new_texts[start] is None:
                    raise Fallback("half a wide character")
            if x < width and new_texts[x] == _TAIL:
                x += 1  # the right half of a wide character that changed
            if runs and runs[-1][1] >= start:
                runs[-1] = (runs[-1][0], max(runs[-1][1], x))
            else:
                runs.append((start, x))
            index = changed.find(1, stop) if stop < length else -1
    return runs


def _repair_wide(row: _Row) -> None:
    """Forget the halves of wide characters whose other half was overwritten (a terminal blanks
    them, each in its own way)."""
    texts = row.texts
    width = len(texts)
    for x, text in enumerate(texts):
        if text is None:
            continue
        if text == _TAIL:
            left = texts[x - 1] if x else None
            if left is None or left == _TAIL or cell_len(left) != 2:
                texts[x] = None
        elif not text.isascii() and cell_len(text) == 2:
            right = texts[x + 1] if x + 1 < width else None
            if right is None or right != _TAIL:
                texts[x] = None
