"""Running the console: :func:`run_app`, the interpreter's settings while it runs, and freezing
what a settled account holds.

:func:`console_runtime` is the context ``run_app`` runs the console in; :class:`SettledFreeze`
takes what an account's screen holds out of the cyclic garbage collector's walks once the screen
has settled (``run_app``'s console only: ``IbtuiApp(freeze_settled=True)``). ``run_app`` imports
the app when it is called (the app imports this module); ``ibtui.tui.app`` re-exports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ibtui.tui.alerts import AlertSettings
    from ibtui.tui.market import MarketData, Watchlist
    from ibtui.tui.protocols import Broker, LoginFlow
    from ibtui.tui.streaming import Stream
    from ibtui.tui.trading import Trader

__all__ = [
    "OUTPUT_SWITCH_INTERVAL",
    "SETTLE_SECONDS",
    "SETTLE_TRIES",
    "SettledFreeze",
    "console_runtime",
    "run_app",
]

# How long the event loop may hold the GIL while Textual's output thread waits for it (Python's
# default is 5 ms, and a frame's write waits for it several times: for the queue, after the write,
# for the flush); see console_runtime.
OUTPUT_SWITCH_INTERVAL = 0.001
# Seconds after an account's first prices are shown at which what the console holds is frozen out
# of the cyclic garbage collector's walks (see SettledFreeze.when_settled).
SETTLE_SECONDS = 2.0
SETTLE_TRIES = 15  # waits of SETTLE_SECONDS for a replaced account's screen to be freed


@contextlib.contextmanager
def console_runtime() -> Iterator[None]:
    """The interpreter's settings while the console runs; the previous ones are back afterwards.

    Python hands the GIL to a waiting thread after ``OUTPUT_SWITCH_INTERVAL`` instead of 5 ms:
    Textual writes each frame from a thread of its own, which took the GIL back from a busy event
    loop two or three times a frame, so a frame reached the terminal 5-20 ms after it was drawn
    (the account picker at start, each tick's prices). The threads that ask for the GIL
    (Textual's output and input threads) are idle otherwise, so this costs nothing while nothing
    is written.

    The cyclic garbage collector keeps Python's thresholds: a young threshold of 10,000 cut a
    1,000-position tick's collections from about 7 ms to 1 ms, but in a ten-minute run with
    5,000 positions the memory then grew by 5 MB a minute (0.02 MB with Python's)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, OUTPUT_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


class Priced(Protocol):
    """An account's screen: ``priced`` is set once its first prices (or an error) are shown."""

    @property
    def priced(self) -> asyncio.Event: ...


class SettledFreeze:
    """Freezes what the console holds once an account's screen has settled (``gc.freeze``).

    With 1,000 positions the console holds about 100,000 objects that live as long as the
    account is shown (rows, cells, widgets, caches). Each full collection walked them all
    (about 50 ms, every twenty ticks or so) and each middle-generation collection many of
    them: frozen, a tick's collections take about half as long. Opening another account
    unfreezes them (:meth:`replacing`), and nothing is frozen while the replaced screen is
    still held (its workers end a moment after it is gone): frozen, its cycles would never be
    freed. A replaced screen still held after ``SETTLE_TRIES`` waits is held for good: then
    nothing is frozen, rather than collecting everything every ``SETTLE_SECONDS``."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.sleep = sleep
        self.frozen = False
        self._replaced: weakref.ref[object] | None = None  # the last account's screen

    def replacing(self, screen: object | None) -> None:
        """Another account's screen is about to replace ``screen`` (``None``: none shown)."""
        if self.frozen:  # the previous account's screen is collected once it is gone
            gc.unfreeze()
            self.frozen = False
        if screen is not None:
            self._replaced = weakref.ref(screen)

    async def when_settled(self, screen: Priced, shown: Callable[[], bool]) -> None:
        """Once ``screen`` shows prices and has settled (while ``shown()``), collect the garbage
        once and freeze what is left."""
        await screen.priced.wait()
        for _ in range(SETTLE_TRIES):  # then it is held for good: nothing is frozen
            await self.sleep(SETTLE_SECONDS)
            if not shown():
                return
            gc.collect()
            if self._replaced is None or self._replaced() is None:
                self._replaced = None
                gc.freeze()
                self.frozen = True
                return


def run_app(
    broker: Broker,
    *,
    login: LoginFlow | None = None,
    trader: Trader | None = None,
    keymap: Mapping[str, str] | None = None,
    poll_interval: float = 2.0,
    background_poll_seconds: float = 10.0,
    last_account: str | None = None,
    remember_account: Callable[[str], None] | None = None,
    theme: str | None = None,
    bell: bool = True,
    margin_warning: float = 0.10,
    idle_lock_minutes: float = 0,
    market: MarketData | None = None,
    watchlist: Watchlist | None = None,
    start_notice: str | None = None,
    stream: Stream | None = None,
    alerts: AlertSettings | None = None,
) -> int:
    """Run the console until the user quits, in the :func:`console_runtime` and freezing what
    an account's screen holds once it has settled (:class:`SettledFreeze`); the exit
    code for the command line. Textual's patches (:mod:`ibtui.tui.textual_compat`) are applied
    here, once, and the app writes through the terminal writer."""
    from ibtui.tui import textual_compat
    from ibtui.tui.app import IbtuiApp
    from ibtui.tui.poller import PollSettings

    textual_compat.apply_patches()
    app = IbtuiApp(
        broker,
        login=login,
        trader=trader,
        keymap=keymap,
        poll=PollSettings(interval=poll_interval, streaming_rest_every=background_poll_seconds),
        last_account=last_account,
        remember_account=remember_account,
        theme=theme,
        bell=bell,
        margin_warning=margin_warning,
        idle_lock_minutes=idle_lock_minutes,
        market=market,
        watchlist=watchlist,
        alerts=alerts,
        freeze_settled=True,
        start_notice=start_notice,
        stream=stream,
    )
    textual_compat.install(app)
    with console_runtime():
        app.run()
    return app.return_code or 0
