"""Textual's footer without its memory leak (Textualize/textual#6666).

Each time the bindings change (any screen pushed or popped, a focus change) the footer composes new
keys. Each key binds ``compact`` to the footer, which stores a watcher on the footer that Textual
prunes only when ``compact`` itself changes: the old keys, their styles and their watchers are never
freed (about 40 KB a screen change). A footer on a screen that is not current also recomposes, and
its old keys wait in that screen's dirty set until it is current again, which for the app's first
screen is never. This footer drops the dead watchers after each recompose and waits to recompose
until its screen is current (Textual refreshes the bindings when a screen resumes)."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter

__all__ = ["Footer"]


class Footer(TextualFooter):
    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and self.screen is not self.app.screen:
            return  # recomposed when its screen resumes
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        await super().recompose()
        self.drop_dead_watchers()

    def drop_dead_watchers(self) -> None:
        """Forget the watchers of widgets that are gone (the replaced keys)."""
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [
                (node, callback)
                for node, callback in entries
                if not getattr(node, "_closing", False) and getattr(node, "is_attached", True)
            ]
