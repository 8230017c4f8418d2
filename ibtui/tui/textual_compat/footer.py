"""Textual's footer without its memory leak (Textualize/textual#6666).

Each time the bindings change (any screen pushed or popped, a focus change) the footer composes new
keys. Each key binds ``compact`` to the footer, which stores a watcher on the footer that Textual
prunes only when ``compact`` itself changes: the old keys, their styles and their watchers are never
freed (about 40 KB a screen change). A footer on a screen that is not current also recomposes, and
its old keys wait in that screen's dirty set until it is current again, which for the app's first
screen is never. This footer drops the dead watchers after each recompose and waits to recompose
until its screen is current (Textual refreshes the bindings when a screen resumes), a recompose
asked for while it was current included: the account picker's footer recomposed twice after the
picker was dismissed, on the way to the first positions. Bindings changes that come in a burst
(a screen mounting, its focus, its first resume: three on each start screen) recompose it once,
not once each.

Its keys also start in the footer's own ``compact`` state: Textual's keys start compact and are
then bound to the footer's (not compact), so each key was restyled twice as it mounted (the class
added, then removed: a stylesheet pass over the key and its parts each time, about a seventh of
the styling before the first positions). The binding still sets the footer's value on mount,
which then changes nothing.

Upstream: https://github.com/Textualize/textual/issues/6666 (open; ``textual/widgets/_footer.py``,
Textual 8.2), which carries the report and its repro for the watchers (its "Concrete example
(Footer)": ``data_bind`` leaves each old key's watcher on the footer until ``compact`` changes).
The recompose on a screen that is not current and the keys' double restyle are not reported
upstream yet. It reads Textual's private ``FooterKey``, the footer's ``_bindings_ready`` and
watchers, and a key's ``_reactive_connect``. Guard: Textual 8.2.x with ``Footer`` and
``FooterKey`` as this was written for; otherwise :class:`Footer` is Textual's own (with a warning
in the log)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

from ibtui.tui.textual_compat._guard import skipped, version_tested

__all__ = ["Footer"]

_SHAPE_OK = (
    version_tested()
    and hasattr(TextualFooter, "bindings_changed")
    and hasattr(FooterKey, "compact")
    and hasattr(TextualFooter, "compose")
)
if not _SHAPE_OK:
    skipped("footer", "the footer's fix for textual#6666 is for Textual 8.2")


class Footer(TextualFooter):
    """Textual's footer, which frees its old keys (when Textual is 8.2; else Textual's own)."""

    _bindings_changes = 0  # bindings changes signalled to this footer
    _bindings_composed = 0  # how many of them its keys were composed after

    def bindings_changed(self, screen: Screen[object]) -> None:
        if not _SHAPE_OK:
            super().bindings_changed(screen)
            return
        if self.is_attached and self.screen is not self.app.screen:
            return  # recomposed when its screen resumes
        self._bindings_changes += 1
        # Textual's Footer.bindings_changed, with its own recompose scheduled (see below)
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_for_bindings)

    async def _recompose_for_bindings(self) -> None:
        """A recompose for a bindings change: none when the keys were composed after every
        change signalled so far (changes in a burst, a screen's mount and focus, ask for one
        each; the first composes with all of them)."""
        if self._bindings_composed == self._bindings_changes:
            return
        await self.recompose()

    def compose(self) -> ComposeResult:
        if not _SHAPE_OK:
            yield from super().compose()
            return
        compact = self.compact
        for widget in super().compose():
            if isinstance(widget, FooterKey) and _bound_to_compact(widget):
                # as the binding sets it on mount, which then changes nothing
                widget.set_reactive(FooterKey.compact, compact)
                widget.set_class(compact, "-compact", update=False)
            yield widget

    async def recompose(self) -> None:
        if not _SHAPE_OK:
            await super().recompose()
            return
        if self.is_attached and self.screen is not self.app.screen:
            # Scheduled while its screen was current (``call_after_refresh``), run after another
            # screen came over it or it was dismissed (the account picker, as the positions
            # open): recomposed when its screen resumes, if ever.
            return
        self._bindings_composed = self._bindings_changes
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


def _bound_to_compact(key: Widget) -> bool:
    """Whether ``key``'s ``compact`` is data-bound (Textual binds every key but the command
    palette's, which keeps its own compact style)."""
    bound = getattr(key, "_reactive_connect", None)
    return isinstance(bound, dict) and "compact" in bound
