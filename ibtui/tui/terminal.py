"""A curses-style terminal writer: send only the cells that changed (placeholder)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType
    from textual.app import App


class TerminalWriter:
    """Turns Textual's compositor updates into the fewest bytes for the terminal."""

    def wrap(self, app: App[Any], update: RenderableType | None) -> RenderableType | None:
        return update
