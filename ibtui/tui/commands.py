"""The command palette's actions: every binding of the screen it was opened on, by name, and the
actions of the screens it can open (:data:`ELSEWHERE`: the orders screen's kill switch, from the
positions): such a command opens that screen and runs the action there.

Built from the live bindings (keymap applied), so the palette always offers what the keys do and
shows the key next to each action. A screen may add its own commands (sorting by a column, say)
by implementing :class:`CommandSource`.

The palette reads a hit's text and help as markup: every hit here is plain text (a
:class:`~textual.content.Content`, :func:`plain_highlight`, help escaped), so a symbol or a
company name from IBKR in a hit is shown as it is and can never become a style or an action.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Matcher, Provider
from textual.content import Content
from textual.markup import escape

from ibtui.tui import keymap as ids
from ibtui.tui.keymap import BindingInfo, bindings_of, describe_active_bindings

__all__ = [
    "ELSEWHERE",
    "ActionsProvider",
    "Command",
    "CommandSource",
    "Elsewhere",
    "plain_highlight",
    "plain_hit",
]

Command = tuple[str, Callable[[], object], str]  # (name, callback, help)


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """Actions of a screen the palette offers from the screens that open it."""

    opener: str  # the app's action that opens the screen ("orders")
    place: str  # how the palette names the screen ("orders screen")
    module: str  # where the screen's class is (imported only when the screen is opened)
    name: str
    binding_ids: tuple[str, ...]  # its actions that make sense just after it opens


ELSEWHERE = (
    Elsewhere(
        "orders",
        "orders screen",
        "ibtui.tui.screens.orders",
        "OrdersScreen",
        (ids.ORDERS_KILL, ids.ORDERS_TRADES),
    ),
)
_OPEN_WAIT = 2.0  # seconds the opened screen may take to mount


def plain_highlight(matcher: Matcher, text: str) -> Content:
    """``text`` as plain text with the query's matched characters highlighted.

    What ``Matcher.highlight`` shows, without reading ``text`` as markup (it does: a name with
    ``[@click=...]`` in it would become an action).
    """
    content = Content(text)
    score, offsets = matcher.fuzzy_search.match(matcher.query, text)
    if score:
        for offset in offsets:
            if not text[offset].isspace():
                content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


def plain_hit(
    score: float, matcher: Matcher, text: str, command: Callable[[], object], help_text: str
) -> Hit:
    """A palette hit whose prompt and help are shown as plain text."""
    return Hit(score, plain_highlight(matcher, text), command, text=text, help=escape(help_text))


@runtime_checkable
class CommandSource(Protocol):
    def palette_commands(self) -> list[Command]: ...


class ActionsProvider(Provider):
    """Offers each described binding of the current screen, and the screen's own commands."""

    def _run(self, info: BindingInfo) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await self.app.run_action(info.action, info.namespace)

        return run

    def _commands(self) -> Iterator[Command]:
        for info in describe_active_bindings(self.screen):
            if info.action not in {"command_palette", "app.command_palette"}:
                yield (info.description, self._run(info), f"key: {info.keys}")
        if isinstance(self.screen, CommandSource):
            yield from self.screen.palette_commands()
        yield from self._elsewhere()

    def _elsewhere(self) -> Iterator[Command]:
        """The actions of the screens this one opens (not of the screen already shown)."""
        app = self.app
        for place in ELSEWHERE:
            if type(self.screen).__name__ == place.name or not app.check_action(place.opener, ()):
                continue
            for binding in _class_bindings(place):
                if binding.id in place.binding_ids and binding.description:
                    yield (
                        f"{binding.description} ({place.place})",
                        self._open_and_run(place, binding.action),
                        f"opens the {place.place} and runs it there",
                    )

    def _open_and_run(self, place: Elsewhere, action: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            app = self.app
            await app.run_action(place.opener)
            waited = 0.0
            while waited < _OPEN_WAIT:
                screen = app.screen
                if type(screen).__name__ == place.name and screen.is_mounted:
                    await app.run_action(action, screen)
                    return
                await asyncio.sleep(0.02)
                waited += 0.02

        return run

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(Content(name), callback, text=name, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield plain_hit(score, matcher, name, callback, help_text)


def _class_bindings(place: Elsewhere) -> list[Binding]:
    """The bindings the screen's class declares (its module imported now: the palette is open)."""
    import importlib

    module = importlib.import_module(place.module)
    return bindings_of([getattr(module, place.name)])
