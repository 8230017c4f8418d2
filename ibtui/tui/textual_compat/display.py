"""The seam between Textual's output and the console's terminal writer (:mod:`ibtui.tui.terminal`).

Textual writes each frame through ``App._display(screen, update)``, where ``update`` is one of
the compositor's update classes (``textual._compositor``: ``LayoutUpdate`` for a whole screen,
``ChopsUpdate`` for a frame's changed regions) rendered to escape codes by its
``render_segments``. :func:`install_terminal_writer` has one app hand each such update to a
:class:`~ibtui.tui.terminal.TerminalWriter` instead, wrapped as a :class:`MinimalUpdate` whose
``render_segments`` is the writer's: over a slow link only the cells that changed are sent
(benchmark 4, bytes). Textual offers no public hook for its output (no issue filed upstream: an
output filter that sees the screen's cells is not something Textual has).

Everything private the writer needs is read here and nowhere else: ``App._display``, the app's
``_driver`` (inline and headless apps are left alone; a new driver or writer thread, after
``App.suspend()``, means the terminal was cleared), and the update classes.

Guard: Textual 8.2 (``App._display`` a method of ``(screen, renderable)``, the update classes
with the attributes the writer reads); otherwise the app writes as Textual does and the log
says so.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from textual._compositor import ChopsUpdate, CompositorUpdate, LayoutUpdate
from textual.app import App

from ibtui.tui.terminal import TerminalWriter
from ibtui.tui.textual_compat._guard import skipped

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from textual.screen import Screen

__all__ = ["MinimalUpdate", "install_terminal_writer", "wrap"]


class MinimalUpdate(CompositorUpdate):
    """A compositor update that renders as the :class:`TerminalWriter`'s minimal output."""

    def __init__(
        self, writer: TerminalWriter, update: CompositorUpdate, size: tuple[int, int]
    ) -> None:
        self.writer = writer
        self.update = update
        self.size = size

    def render_segments(self, console: Console) -> str:
        return self.writer.render(self.update, console, self.size)  # type: ignore[arg-type]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        renderable: Any = self.update  # Textual's updates are Rich renderables too
        yield renderable


def wrap(
    writer: TerminalWriter, app: App[Any], update: RenderableType | None
) -> RenderableType | None:
    """What ``App._display`` should write for ``update``: a :class:`MinimalUpdate` for a
    compositor update the writer knows, else ``update`` itself (and the writer's shadow is
    dropped)."""
    if update is None:
        return None
    driver = app._driver
    if not writer.enabled or driver is None or driver.is_inline or driver.is_headless:
        writer.reset()
        return update
    output = (driver, getattr(driver, "_writer_thread", None))
    if output[0] is not writer.output[0] or output[1] is not writer.output[1]:
        writer.reset()  # a new driver or a restarted one (suspend/resume): a fresh screen
        writer.output = output
    if type(update) not in (ChopsUpdate, LayoutUpdate):
        writer.reset()
        return update
    assert isinstance(update, CompositorUpdate)
    return MinimalUpdate(writer, update, (app.size.width, app.size.height))


def _shape_ok() -> bool:
    display = getattr(App, "_display", None)
    if display is None:
        return False
    try:
        parameters = list(inspect.signature(display).parameters)
    except (TypeError, ValueError):
        return False
    chops = inspect.signature(ChopsUpdate.__init__).parameters
    layout = inspect.signature(LayoutUpdate.__init__).parameters
    return (
        parameters == ["self", "screen", "renderable"]
        and {"chops", "spans", "chop_ends"} <= set(chops)
        and {"strips", "region"} <= set(layout)
    )


def install_terminal_writer(
    app: App[Any], writer: TerminalWriter | None = None
) -> TerminalWriter | None:
    """Have ``app`` write its frames through ``writer`` (a new one by default); the writer, or
    None when Textual is not what the seam was written for (the app then writes as Textual
    does)."""
    if not _shape_ok():
        skipped("terminal writer", "App._display or the compositor's updates are not 8.2's")
        return None
    writer = writer if writer is not None else TerminalWriter()
    display = app._display

    def _display(screen: Screen[object], renderable: RenderableType | None) -> None:
        display(screen, wrap(writer, app, renderable))

    app._display = _display  # type: ignore[method-assign]
    return writer
