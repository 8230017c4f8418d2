"""The ``ibtui`` command line: one entry point, one module per sub-command.

Each sub-command lives in its own module with a ``main(argv: list[str]) -> int``; this file only
dispatches, so ``ibtui --help`` stays fast (nothing heavy is imported until a command runs).

A reader that stops early (``ibtui positions --format json | head -1``) ends the command quietly
with exit status 141, as the shell reports a Unix tool stopped by SIGPIPE (``yes | head -1``):
no traceback, and ``set -o pipefail`` scripts see what they see for ``grep`` or ``cat``.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from ibtui import __version__


class Command(NamedTuple):
    module: str
    summary: str
    function: str = "main"


COMMANDS: dict[str, Command] = {
    "run": Command("ibtui.cli.run", "the console (the default command)"),
    "demo": Command("ibtui.cli.demo", "the console on the embedded simulated IBKR server"),
    "sim": Command("ibtui.cli.sim", "run the simulated IBKR server on a loopback socket"),
    "init": Command("ibtui.cli.init", "create keys, DH parameters and a config for IBKR OAuth"),
    "login": Command("ibtui.cli.login", "authorize with IBKR in a plain terminal; store the token"),
    "accounts": Command("ibtui.cli.scripting", "print the accounts and exit", "accounts_main"),
    "positions": Command("ibtui.cli.scripting", "print the positions and exit", "positions_main"),
    "journal": Command("ibtui.cli.journal", "print the audit journal of orders and exit"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: ibtui [--version] [--help] [<command>] [options]   (no command: run)",
        "",
        "ibtui: a keyboard-driven terminal trading console for the Interactive Brokers Web API.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {cmd.summary}" for name, cmd in COMMANDS.items()),
        "",
        "Run 'ibtui <command> --help' for a command's options.",
    ]
    return "\n".join(lines)


EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""The status a shell reports for a command stopped by SIGPIPE (141)."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = dispatch(argv)
        sys.stdout.flush()  # a reader gone shows here, not in the interpreter's flush at exit
    except BrokenPipeError:
        # Python's recipe (library/signal.html, "Note on SIGPIPE"): what is left to flush goes to
        # /dev/null, so the flush at exit cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return status


def dispatch(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (``sys.argv`` by default); its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
        args = ["run", *args]  # `ibtui` and `ibtui --config PATH` run the console
    if args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if args[0] == "--version":
        print(f"ibtui {__version__}")
        return 0
    name, rest = args[0], args[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"ibtui: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    skip_httpx_cli()
    with permanent_imports():
        module = importlib.import_module(command.module)
    entry: Callable[[list[str]], int] = getattr(module, command.function)
    return entry(rest)


@contextmanager
def permanent_imports() -> Iterator[None]:
    """Import a command's modules without the cyclic garbage collector, then freeze what they
    built (``gc.freeze``: into the permanent generation, which no collection walks again).

    The modules, classes and functions of an import live as long as the process, but each object
    an import makes counts towards the next collection: the console's start collected 120 times
    while importing (about 35 ms of CPU, a tenth of the imports), and once the app ran, its first
    full collection walked every one of them again (about 30 ms). What the collector would have
    found is a few hundred objects of import-time garbage cycles, kept instead. A caller that
    turned the collector off keeps it off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def skip_httpx_cli() -> None:
    """``import httpx`` also imports httpx's own command line (``httpx._main``: click, pygments,
    rich's progress bars and syntax highlighting) whenever click is installed: about 40 ms of
    CPU that ibtui, which never runs it, paid at each start (encode/httpx#3547). Marking the
    module as absent makes httpx take its own fallback for a missing CLI; only this process's
    ``httpx.main`` is affected (the ``httpx`` command runs in a process of its own)."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
