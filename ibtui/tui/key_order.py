"""Keys applied in the order they were typed, however many arrive in one read.

Over SSH, fast typing (or a macro, or a paste without bracketed paste) arrives as one chunk, and
Textual's driver posts all its keys to the app at once. The app forwards each key to the focused
widget's queue straight away, but a key bound to an action (not a priority binding) only runs
that action when it has bubbled back up to the app, through every ancestor's queue: by then the
keys after it have been forwarded to the focused widget already. So on the positions screen
``/ms`` opened an empty filter and ``s`` opened a SELL ticket; in an input, ``backspace`` + ``0``
inserted the ``0`` and then deleted it.

:class:`KeyOrder` holds the keys that arrive while one is being handled. A key is "handled" once
a marker message posted to the widget the key went to has followed it up to the app (so the key's
binding, if any, has run), then once more through the app's queue (a focus change is a callback
queued there), and, when the key changed the screen, through the new screen's queue (its mount
and focus come first). Only then does the next key go out, to whatever has the focus now. A
marker that never comes back (its widget was removed) lets the held keys go after
``HOLD_SECONDS``. All of this uses Textual's public API.

Upstream: the same cause is Textual issue https://github.com/Textualize/textual/issues/6605
(Input/TextArea editing keys, with pull request #6631 running a widget's own bindings inline);
keys bound on the screen or the app, as here, are not covered by it. A minimal repro (Textual
8.2.8), for the report::

    from textual import events
    from textual.app import App
    from textual.widgets import Input, Static

    class Table(Static, can_focus=True): ...

    class Repro(App[None]):
        BINDINGS = [("slash", "filter"), ("s", "sell")]
        sold = False
        def compose(self):
            yield Table("table")
            yield Input()
        def on_mount(self): self.query_one(Table).focus()
        def action_filter(self): self.query_one(Input).focus()
        def action_sell(self): self.sold = True

    async def main():  # asyncio.run(main())
        app = Repro()
        async with app.run_test() as pilot:
            for key in ("slash", "m", "s"):  # what the driver does with one read of "/ms"
                app.post_message(events.Key(key, "/" if key == "slash" else key))
            await pilot.pause()
            print(repr(app.query_one(Input).value), app.sold)  # '' True; expected 'ms' False

Title: "Keys read in one chunk run out of order: a bound key's action runs after the keys that
follow it". Expected: the action of ``/`` runs first and the focus it moves receives ``m`` and
``s`` (the input shows ``ms``); with an input focused, ``backspace`` then ``0`` deletes and then
inserts. Actual: the input is empty and ``s`` runs ``sell``; ``backspace`` + ``0`` leaves the text
as it was. Cause: ``App.on_event`` forwards every key to the focused widget's queue as it
arrives, but non-priority bindings run in ``App._on_key`` once the key has bubbled back through
every ancestor's queue; the following keys overtake it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from textual import events
from textual.app import App
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.timer import Timer

__all__ = ["HOLD_SECONDS", "KeyOrder"]

HOLD_SECONDS = 1.0  # the longest a key waits for the one before it to be handled
_SCREEN_ROUNDS = 3  # screens changed by one key (pop, then push) followed through their queues


class KeyOrder:
    """The app's keys, one at a time: ``receive`` every key the driver posts, call ``settled``
    with every :class:`KeyOrder.Settled` message the app receives."""

    class Settled(Message):
        """Followed a key through the queues it went through (bubbles up to the app)."""

        def __init__(self, token: int) -> None:
            super().__init__()
            self.token = token

    def __init__(
        self,
        app: App[Any],
        dispatch: Callable[[events.Key], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._dispatch = dispatch  # Textual's own handling of a key the driver posted
        self._clock = clock
        self._held: deque[events.Key] = deque()
        self._token = 0
        self._pending: int | None = None  # the token of the key being handled
        self._since = 0.0
        self._screen: Screen[object] | None = None  # the screen when it was sent
        self._rounds = 0
        self._timer: Timer | None = None

    @property
    def held(self) -> int:
        """How many keys wait for the one being handled."""
        return len(self._held)

    async def receive(self, key: events.Key) -> None:
        """A key the driver posted: sent on at once, or held until the ones before it are
        handled."""
        if self._pending is None and not self._held:
            await self._send(key)
            return
        self._held.append(key)
        if self._pending is not None and self._clock() - self._since >= HOLD_SECONDS:
            await self._release(self._pending)  # its marker was lost: do not hold keys forever
        elif self._timer is None:
            self._timer = self._app.set_timer(HOLD_SECONDS, self._expired)

    async def _send(self, key: events.Key) -> None:
        self._token += 1
        token = self._pending = self._token
        self._since = self._clock()
        await self._dispatch(key)
        target: MessagePump | None = self._app.focused
        self._screen = self._current_screen()
        self._rounds = 0
        if target is None:
            target = self._screen
        if target is None or not target.post_message(self.Settled(token)):
            await self._release(token)

    def settled(self, message: KeyOrder.Settled) -> None:
        """A marker reached the app: whatever the key queued on the app comes before the next."""
        message.stop()
        if message.token == self._pending:
            self._app.call_later(self._after_app, message.token)

    async def _after_app(self, token: int) -> None:
        if token != self._pending:
            return
        screen = self._current_screen()
        if screen is not self._screen and screen is not None and self._rounds < _SCREEN_ROUNDS:
            self._screen = screen  # its mount and focus are queued there: after them
            self._rounds += 1
            if screen.post_message(self.Settled(token)):
                return
        await self._release(token)

    async def _release(self, token: int) -> None:
        if token != self._pending:
            return
        self._pending = None
        if self._held:
            await self._send(self._held.popleft())

    async def _expired(self) -> None:
        self._timer = None
        if not self._held or self._pending is None:
            return
        waited = self._clock() - self._since
        if waited >= HOLD_SECONDS:
            await self._release(self._pending)  # its marker was lost: do not hold keys forever
        else:
            self._timer = self._app.set_timer(HOLD_SECONDS - waited, self._expired)

    def _current_screen(self) -> Screen[object] | None:
        try:
            return self._app.screen
        except Exception:  # no screen yet (start) or any more (exit)
            return None
