"""The terminal writer (ibtui/tui/terminal.py) against a terminal emulator: whatever Textual's own
output shows on a terminal, the writer's output shows the same, cell for cell (character,
colours, attributes), in far fewer bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import pyte
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, Compositor, CompositorUpdate, LayoutUpdate
from textual.geometry import Region
from textual.screen import Screen as TextualScreen
from textual.strip import Strip
from wcwidth import wcwidth

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.terminal import TerminalWriter
from ibtui.tui.textual_compat.display import MinimalUpdate, install_terminal_writer, wrap
from ibtui.tui.viewmodels import AccountView, PositionView, QuoteView, SessionState
from tests.tui.conftest import PAPER, position

# --- a terminal: pyte, with every SGR attribute Rich can emit --------------------------------


class Char(NamedTuple):
    """pyte's character plus the attributes pyte does not keep."""

    data: str
    fg: str = "default"
    bg: str = "default"
    bold: bool = False
    italics: bool = False
    underscore: bool = False
    strikethrough: bool = False
    reverse: bool = False
    blink: bool = False
    dim: bool = False
    blink2: bool = False
    conceal: bool = False
    underline2: bool = False
    frame: bool = False
    encircle: bool = False
    overline: bool = False


SGR_ON = {
    1: "bold",
    2: "dim",
    3: "italics",
    4: "underscore",
    5: "blink",
    6: "blink2",
    7: "reverse",
    8: "conceal",
    9: "strikethrough",
    21: "underline2",
    51: "frame",
    52: "encircle",
    53: "overline",
}
SGR_OFF = {
    22: ("bold", "dim"),
    23: ("italics",),
    24: ("underscore", "underline2"),
    25: ("blink", "blink2"),
    27: ("reverse",),
    28: ("conceal",),
    29: ("strikethrough",),
    54: ("frame", "encircle"),
    55: ("overline",),
}


class Screen(pyte.Screen):  # type: ignore[misc]
    """A VT100 screen (pyte) that keeps all of ECMA-48's rendition attributes."""

    @property
    def default_char(self) -> Char:
        return Char(data=" ")

    def reset(self) -> None:
        super().reset()
        self.cursor.attrs = self.default_char

    def draw(self, data: str) -> None:
        """As a terminal does, overwriting half of a wide character blanks its other half."""
        for character in data:
            width = wcwidth(character)
            x, line = self.cursor.x, self.buffer[self.cursor.y]
            if x == self.columns:  # no wrapping: the last column is written again
                x -= max(width, 0)
            covered = range(x, x + max(width, 1))
            for at in covered:
                if at >= self.columns:
                    break
                if line[at].data == "" and at - 1 not in covered and at > 0:
                    line[at - 1] = line[at - 1]._replace(data=" ")
                right = at + 1
                if (
                    wcwidth(line[at].data or " ") == 2
                    and right not in covered
                    and right < self.columns
                ):
                    line[at + 1] = line[at + 1]._replace(data=" ")
            super().draw(character)

    def select_graphic_rendition(self, *attrs: int, **_: Any) -> None:
        codes = list(attrs) or [0]
        pen = self.cursor.attrs._asdict()
        i = 0
        while i < len(codes):
            code = codes[i]
            if code == 0:
                pen = {**Char(" ")._asdict(), "data": pen["data"]}
            elif code in SGR_ON:
                pen[SGR_ON[code]] = True
            elif code in SGR_OFF:
                for name in SGR_OFF[code]:
                    pen[name] = False
            elif 30 <= code <= 37 or 90 <= code <= 97:
                pen["fg"] = str(code)
            elif code == 39:
                pen["fg"] = "default"
            elif 40 <= code <= 47 or 100 <= code <= 107:
                pen["bg"] = str(code)
            elif code == 49:
                pen["bg"] = "default"
            elif code in (38, 48):
                key = "fg" if code == 38 else "bg"
                if codes[i + 1] == 2:
                    pen[key] = "#{:02x}{:02x}{:02x}".format(*codes[i + 2 : i + 5])
                    i += 4
                else:
                    pen[key] = f"@{codes[i + 2]}"
                    i += 2
            else:
                raise AssertionError(f"SGR {code} in {codes}")
            i += 1
        self.cursor.attrs = Char(**pen)


class Terminal:
    def __init__(self, width: int, height: int) -> None:
        self.screen = Screen(width, height)
        self.stream = pyte.Stream(self.screen)
        self.bytes = 0
        self.feed("\x1b[?7l")  # Textual turns line wrapping off

    def feed(self, text: str) -> None:
        self.bytes += len(text.encode())
        self.stream.feed(text)

    def resize(self, width: int, height: int) -> None:
        self.screen.resize(height, width)

    def cells(self) -> list[list[Char]]:
        screen = self.screen
        return [[screen.buffer[y][x] for x in range(screen.columns)] for y in range(screen.lines)]


def assert_same(textual: Terminal, ours: Terminal) -> None:
    expected, got = textual.cells(), ours.cells()
    for y, (want, have) in enumerate(zip(expected, got, strict=True)):
        for x, (a, b) in enumerate(zip(want, have, strict=True)):
            assert a == b, f"cell {x},{y}: Textual shows {a}, the writer {b}"


def console(color_system: str = "truecolor") -> Console:
    return Console(color_system=color_system, force_terminal=True, width=200)  # type: ignore[arg-type]


# --- random updates as the compositor makes them ---------------------------------------------

CHARACTERS = "ab xyZ0.9-│▁█é中文"  # ASCII, box drawing, Latin-1, wide (CJK)
COLORS = [None, "default", "#ff0000", "#00ff01", "#102030", "red", "bright_blue", "color(200)"]
ATTRIBUTES = ["bold", "dim", "italic", "underline", "reverse", "blink", "strike", "underline2"]


@st.composite
def styles(draw: st.DrawFn) -> Style | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    kwargs: dict[str, Any] = {
        "color": draw(st.sampled_from(COLORS)),
        "bgcolor": draw(st.sampled_from(COLORS)),
    }
    for name in ATTRIBUTES:
        kwargs[name] = draw(st.sampled_from([None, None, True, False]))
    style = Style(**kwargs)
    if draw(st.integers(0, 5)) == 0:
        style += Style.from_meta({"@click": "app.bell()"})  # meta: not for the terminal
    return style


def strip_of(cells: Sequence[tuple[str, Style | None]]) -> Strip:
    """A strip of ``cells`` (a wide character followed by ``""`` for its right half)."""
    segments: list[Segment] = []
    for text, style in cells:
        if text == "":
            continue
        if segments and segments[-1].style == style:
            segments[-1] = Segment(segments[-1].text + text, style)
        else:
            segments.append(Segment(text, style))
    return Strip(segments, len(cells))


class Model:
    """The screen the widgets would render: what the compositor's strips are cut from."""

    def __init__(self, width: int, height: int, draw: st.DrawFn, palette: list[Style | None]):
        self.width, self.height = width, height
        self.palette = palette
        self.lines = [[(" ", palette[0])] * width for _ in range(height)]
        self.edit(draw, width * height)

    def put(self, x: int, y: int, text: str, style: Style | None) -> None:
        line = self.lines[y]
        wide = text in "中文"
        if wide and x + 1 >= self.width:
            text, wide = "x", False
        for at in (x, x + 1) if wide else (x,):
            if line[at][0] == "":  # the right half of a wide character: blank its left
                line[at - 1] = (" ", line[at - 1][1])
            if at + 1 < self.width and line[at + 1][0] == "" and line[at][0] in "中文":
                line[at + 1] = (" ", line[at + 1][1])
        line[x] = (text, style)
        if wide:
            line[x + 1] = ("", style)

    def edit(self, draw: st.DrawFn, count: int) -> None:
        for _ in range(count):
            x = draw(st.integers(0, self.width - 1))
            y = draw(st.integers(0, self.height - 1))
            run = draw(st.integers(1, 6))
            style = draw(st.sampled_from(self.palette))
            for i in range(run):
                if x + i < self.width:
                    self.put(x + i, y, draw(st.sampled_from(CHARACTERS)), style)

    def pieces(self, y: int, cuts: list[int]) -> list[Strip]:
        """Line ``y`` divided at ``cuts``, as the compositor divides a widget's strip."""
        return list(strip_of(self.lines[y]).divide(cuts[1:]))

    def cuts(self, draw: st.DrawFn) -> list[list[int]]:
        cuts = []
        for _ in range(self.height):
            inner = draw(st.sets(st.integers(1, self.width - 1), max_size=4))
            cuts.append([0, *sorted(inner), self.width])
        return cuts

    def full(self, draw: st.DrawFn) -> LayoutUpdate:
        strips: list[list[Strip]] = []
        for y, line_cuts in enumerate(self.cuts(draw)):
            strips.append(self.pieces(y, line_cuts))
        return LayoutUpdate(strips, Region(0, 0, self.width, self.height))  # type: ignore[arg-type]

    def chops(self, draw: st.DrawFn) -> ChopsUpdate:
        regions = []
        for _ in range(draw(st.integers(1, 4))):
            x = draw(st.integers(0, self.width - 1))
            y = draw(st.integers(0, self.height - 1))
            w = draw(st.integers(1, self.width - x))
            h = draw(st.integers(1, self.height - y))
            regions.append(Region(x, y, w, h))
        spans = list(Compositor._regions_to_spans(regions))
        rendered = {y for y, _, _ in spans}
        cuts = self.cuts(draw)
        chops: list[dict[int, Strip | None]] = []
        for y, line_cuts in enumerate(cuts):
            line: dict[int, Strip | None] = dict.fromkeys(line_cuts[:-1])
            if y in rendered:
                # a chop a span touches is always rendered (the screen covers every cell)
                touched = [(x1, x2) for span_y, x1, x2 in spans if span_y == y]
                pieces = self.pieces(y, line_cuts)
                for a, b, piece in zip(line_cuts, line_cuts[1:], pieces, strict=False):
                    if any(a <= x2 and b > x1 for x1, x2 in touched) or draw(st.booleans()):
                        line[a] = piece
            chops.append(line)
        return ChopsUpdate(chops, spans, [c[1:] for c in cuts])


@st.composite
def sessions(draw: st.DrawFn) -> tuple[tuple[int, int], list[tuple[str, Any]]]:
    """The screen's size and the steps: ("full", LayoutUpdate), ("chops", ChopsUpdate),
    ("resize", (width, height))."""
    width, height = draw(st.integers(2, 24)), draw(st.integers(1, 6))
    palette = [draw(styles()) for _ in range(draw(st.integers(1, 5)))]
    if draw(st.booleans()):  # styles one attribute apart: cheap transitions
        base = palette[0] or Style()
        palette += [base + Style(bold=True), base + Style(italic=True), base + Style(bold=False)]
    model = Model(width, height, draw, palette)
    size = (width, height)
    steps: list[tuple[str, Any]] = []
    if draw(st.booleans()):
        steps.append(("full", model.full(draw)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["chops"] * 6 + ["full", "resize"]))
        if kind == "resize":
            width, height = draw(st.integers(2, 24)), draw(st.integers(1, 6))
            model = Model(width, height, draw, palette)
            steps.append(("resize", (width, height)))
            steps.append(("full", model.full(draw)))  # Textual repaints after a resize
            continue
        model.edit(draw, draw(st.integers(0, 6)))
        steps.append((kind, model.full(draw) if kind == "full" else model.chops(draw)))
    return size, steps


def play(
    size: tuple[int, int], steps: list[tuple[str, Any]], color_system: str = "truecolor"
) -> tuple[int, int]:
    """Each step through Textual's output into one terminal and the writer's into another; the
    two must show the same after every step. The bytes each took."""
    out = console(color_system)
    for kind, step in steps:  # Rich keeps a style's codes for the first colour system it saw
        for line in step.strips if kind == "full" else [] if kind == "resize" else step.chops:
            for strip in line if kind == "full" else (s for s in line.values() if s):
                for segment in strip:
                    if segment.style is not None:
                        segment.style._ansi = None
    writer = TerminalWriter(enabled=True)
    width, height = size
    textual, ours = Terminal(width, height), Terminal(width, height)
    for kind, step in steps:
        if kind == "resize":
            width, height = step
            textual.resize(width, height)
            ours.resize(width, height)
            continue
        expected = step.render_segments(out)
        textual.feed(expected)
        ours.feed(writer.render(step, out, (width, height)))
        assert_same(textual, ours)
        assert ours.screen.cursor.attrs == Char(" "), "the pen is left as it was found"
    return textual.bytes, ours.bytes


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_the_terminal_shows_what_textual_would_have_shown(
    session: tuple[tuple[int, int], list[tuple[str, Any]]],
) -> None:
    play(*session)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_the_same_on_a_256_colour_terminal(
    session: tuple[tuple[int, int], list[tuple[str, Any]]],
) -> None:
    play(*session, "256")


def test_a_wide_character_an_update_cuts_in_half_is_not_taken_for_shown() -> None:
    """Found by the test above: a run ends on the left half of a wide character (Textual crops
    the chop there and writes a space over it), and the next run starts after its right half.
    Sending the cells between again, the writer took that right half, which the terminal had
    just blanked, for two cells it could skip: the next character landed one cell to the left."""

    def cells(text: str) -> list[tuple[str, Style | None]]:
        return [cell for c in text for cell in [(c, None)] + ([("", None)] if c == "中" else [])]

    before = LayoutUpdate([[strip_of(cells("aaaa中   "))]], Region(0, 0, 9, 1))  # type: ignore[list-item]
    after = cells("aaaa中a  ")
    chops = {0: strip_of(after[:1]), 1: strip_of(after[1:6]), 6: strip_of(after[6:])}
    cut = ChopsUpdate([chops], [(0, 0, 5), (0, 6, 7)], [[1, 6, 9]])  # type: ignore[list-item]
    play((9, 1), [("full", before), ("chops", cut)])


# --- what it costs ------------------------------------------------------------------------------

PRICE = Style(color="#e0e0e0", bgcolor="#1e1e2e")
FLASH = Style(color="#101010", bgcolor="#50fa7b", bold=True)


def grid_line(prices: Sequence[str], style: Style = PRICE) -> list[Strip]:
    """A row of 4 cells of 10 characters, one strip (a chop) each."""
    return [Strip([Segment(" " * (10 - cell_len(p)) + p, style)], 10) for p in prices]


def layout(lines: list[list[Strip]]) -> LayoutUpdate:
    return LayoutUpdate(lines, Region(0, 0, 40, len(lines)))  # type: ignore[arg-type]


def chops_of(lines: list[list[Strip]], rows: set[int]) -> ChopsUpdate:
    cuts = [0, 10, 20, 30]
    chops = [
        {x: (strip if y in rows else None) for x, strip in zip(cuts, line, strict=True)}
        for y, line in enumerate(lines)
    ]
    spans = [(y, 0, 40) for y in sorted(rows)]
    return ChopsUpdate(chops, spans, [[10, 20, 30, 40]] * len(lines))


def test_a_price_that_moves_costs_the_characters_that_changed() -> None:
    out = console()
    writer = TerminalWriter(enabled=True)
    before = [grid_line(["123.45", "1,234.50", "+12.00", "AAPL"]) for _ in range(3)]
    terminal = Terminal(40, 3)
    terminal.feed(writer.render(layout(before), out, (40, 3)))

    after = [*before]
    after[1] = grid_line(["123.47", "1,234.70", "+12.20", "AAPL"])
    update = chops_of(after, {1})
    textual_bytes = update.render_segments(out)
    sent = writer.render(update, out, (40, 3))
    terminal.feed(sent)

    assert "".join(c.data for c in terminal.cells()[1]) == "".join(
        f"{p:>10}" for p in ["123.47", "1,234.70", "+12.20", "AAPL"]
    )
    # one pen, then "7", a jump, "7", a jump, "2" (no text sent that the terminal shows already)
    assert "123" not in sent and "234" not in sent
    assert sent.count("\x1b[38;2;224;224;224;48;2;30;30;46m") == 1
    assert len(sent) < 75 < len(textual_bytes) / 2


def test_the_same_update_again_sends_nothing() -> None:
    out = console()
    writer = TerminalWriter(enabled=True)
    lines = [grid_line(["1", "2", "3", "4"]), grid_line(["a", "b", "c", "中文"], FLASH)]
    writer.render(layout(lines), out, (40, 2))
    assert writer.render(chops_of(lines, {0, 1}), out, (40, 2)) == ""
    assert writer.render(chops_of(lines, {1}), out, (40, 2)) == ""


def test_a_flash_that_ends_sends_the_pen_once_per_run() -> None:
    out = console()
    writer = TerminalWriter(enabled=True)
    flashed = [grid_line(["123.45", "1,234.50", "+12.00", "AAPL"], FLASH) for _ in range(2)]
    writer.render(layout(flashed), out, (40, 2))
    calm = [grid_line(["123.45", "1,234.50", "+12.00", "AAPL"]) for _ in range(2)]
    sent = writer.render(chops_of(calm, {0, 1}), out, (40, 2))
    # every cell changed pen: sent again, but the pen goes out once for the two rows
    assert sent.count("\x1b[38;2;224;224;224;48;2;30;30;46m") == 1
    assert sent.count("m") == 2  # and the reset at the end


def test_a_new_colour_system_draws_the_same_styles_in_its_own_codes() -> None:
    """The writer keeps the pens of a line's cells from frame to frame; a console whose colour
    system changes (true colour to 256 colours) gets the next update in its own codes, not in
    the pens kept from before."""
    writer = TerminalWriter(enabled=True)
    lines = [grid_line(["123.45", "1,234.50", "+12.00", "AAPL"]) for _ in range(2)]
    writer.render(layout(lines), console(), (40, 2))
    moved = [*lines]
    moved[1] = grid_line(["123.47", "1,234.70", "+12.20", "AAPL"])
    writer.render(chops_of(moved, {1}), console(), (40, 2))  # the line's pens, in true colour
    update = chops_of(lines, {1})  # the same styles, the prices back
    sent = writer.render(update, console("256"), (40, 2))
    assert "38;5;" in sent and "38;2;" not in sent


# --- when it steps aside ------------------------------------------------------------------------


def test_a_link_is_left_to_textual_and_the_next_update_is_sent_in_full() -> None:
    out = console()
    writer = TerminalWriter(enabled=True)
    lines = [grid_line(["1", "2", "3", "4"]), grid_line(["5", "6", "7", "8"])]
    writer.render(layout(lines), out, (40, 2))
    linked = [*lines]
    linked[0] = grid_line(["1", "2", "3", "4"], PRICE + Style(link="https://example.com"))
    update = chops_of(linked, {0})
    assert writer.render(update, out, (40, 2)) == update.render_segments(out)
    assert writer.fallbacks == 1
    again = writer.render(chops_of(lines, {1}), out, (40, 2))
    assert all(f"{n:>10}" in again for n in "5678")  # the shadow was dropped


class FakeDriver:
    def __init__(self, *, inline: bool = False, headless: bool = False) -> None:
        self.is_inline = inline
        self.is_headless = headless
        self._writer_thread = object()


class FakeApp:
    def __init__(self, driver: FakeDriver | None) -> None:
        self._driver = driver
        self.size = Region(0, 0, 40, 2).size


def test_wrap_steps_aside_for_inline_headless_and_unknown_updates() -> None:
    lines = [grid_line(["1", "2", "3", "4"]), grid_line(["5", "6", "7", "8"])]
    update = layout(lines)
    writer = TerminalWriter(enabled=True)
    app: Any = FakeApp(FakeDriver())
    assert isinstance(wrap(writer, app, update), MinimalUpdate)
    for other in (FakeApp(FakeDriver(inline=True)), FakeApp(FakeDriver(headless=True))):
        assert wrap(writer, other, update) is update  # type: ignore[arg-type]
    assert wrap(writer, app, "text") == "text"
    assert wrap(writer, app, None) is None
    assert wrap(TerminalWriter(enabled=False), app, update) is update


def test_a_restarted_driver_drops_the_shadow(monkeypatch: pytest.MonkeyPatch) -> None:
    out = console()
    lines = [grid_line(["1", "2", "3", "4"]), grid_line(["5", "6", "7", "8"])]
    driver = FakeDriver()
    app: Any = FakeApp(driver)
    writer = TerminalWriter(enabled=True)
    wrap(writer, app, layout(lines)).render_segments(out)  # type: ignore[union-attr]
    assert wrap(writer, app, chops_of(lines, {0})).render_segments(out) == ""  # type: ignore[union-attr]
    driver._writer_thread = object()  # App.suspend() and back, or SIGTSTP / SIGCONT
    sent = wrap(writer, app, chops_of(lines, {0})).render_segments(out)  # type: ignore[union-attr]
    assert all(f"{n:>10}" in sent for n in "1234")
    monkeypatch.setenv("IBTUI_TERMINAL_WRITER", "0")
    assert wrap(TerminalWriter(), app, layout(lines)) is not None
    assert not TerminalWriter().enabled


# --- the real app -------------------------------------------------------------------------------


class MovingBroker:
    """A Broker over ``count`` positions whose every price moves a cent on every quote."""

    def __init__(self, count: int) -> None:
        self._positions = [
            position(i + 1, f"S{i:03d}", "10", "100", "90", description=f"HOLDING {i}")
            for i in range(count)
        ]
        self.rounds: dict[int, int] = {}

    async def accounts(self) -> Sequence[AccountView]:
        return [PAPER]

    async def select_account(self, account_id: str) -> None:
        await asyncio.sleep(0)

    async def positions(self, account_id: str) -> Sequence[PositionView]:
        await asyncio.sleep(0)
        return self._positions

    async def quotes(self, conids: Sequence[int]) -> Sequence[QuoteView]:
        await asyncio.sleep(0)
        answer = []
        for conid in conids:
            n = self.rounds[conid] = self.rounds.get(conid, 0) + 1
            answer.append(QuoteView(conid, Decimal(100) + Decimal(n * (conid % 7 + 1)) / 100))
        return answer

    async def keep_alive(self, *, take_back: bool = False) -> SessionState:
        return SessionState.CONNECTED

    def lst_expires_at(self) -> float | None:
        return None


async def test_the_app_on_a_terminal_looks_the_same_in_far_fewer_bytes() -> None:
    broker = MovingBroker(60)
    app = IbtuiApp(
        broker,
        poll=PollSettings(interval=0.2, positions_every=3600, keep_alive_every=3600),
        cursor_blink=False,
    )
    assert install_terminal_writer(app) is not None  # as run_app (headless: it steps aside)
    updates: list[CompositorUpdate] = []  # run_test is headless: the app writes none of them
    display = app._display

    def record(screen: TextualScreen[object], renderable: RenderableType | None) -> None:
        if isinstance(renderable, CompositorUpdate):
            updates.append(renderable)
        display(screen, renderable)

    app._display = record  # type: ignore[method-assign]
    size = (120, 40)
    async with app.run_test(size=size) as pilot:
        deadline = asyncio.get_running_loop().time() + 60
        while min(broker.rounds.values(), default=0) < 6:
            assert asyncio.get_running_loop().time() < deadline, "no quotes in time"
            await pilot.pause(0.1)
        await pilot.press("question_mark")  # another screen over it, and back
        await pilot.pause(0.3)
        await pilot.press("escape")
        await pilot.pause(0.5)

    assert any(isinstance(u, LayoutUpdate) for u in updates)
    assert sum(isinstance(u, ChopsUpdate) for u in updates) > 10
    out = console()
    writer = TerminalWriter(enabled=True)
    textual, ours = Terminal(*size), Terminal(*size)
    partial_textual = partial_ours = 0
    for update in updates:
        expected = update.render_segments(out)
        sent = writer.render(update, out, size)
        textual.feed(expected)
        ours.feed(sent)
        assert_same(textual, ours)
        if isinstance(update, ChopsUpdate):
            partial_textual += len(expected.encode())
            partial_ours += len(sent.encode())
    assert writer.fallbacks == 0
    shown = "\n".join("".join(c.data for c in line) for line in ours.cells())
    assert "S000" in shown
    assert partial_ours < partial_textual / 4, (partial_ours, partial_textual)
