"""The command palette's actions: every binding of the screen it was opened on, by name.

Built from the live bindings (keymap applied), so the palette always offers what the keys do and
shows the key next to each action. A screen may add its own commands (sorting by a column, say)
by implementing :class:`CommandSource`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ibtui.tui.keymap import BindingInfo, describe_active_bindings

__all__ = ["ActionsProvider", "Command", "CommandSource"]

Command = tuple[str, Callable[[], object], str]  # (name, callback, help)


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

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
