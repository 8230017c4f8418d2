"""Desktop notifications as terminal escape sequences: they travel wherever the terminal's bytes
go (over SSH, through tmux), and the terminal on the user's desk shows them.

- OSC 9 (``ESC ] 9 ; text BEL``): iTerm2, kitty, WezTerm, ghostty, foot, ...
- OSC 777 (``ESC ] 777 ; notify ; title ; body BEL``): urxvt, foot, WezTerm, ghostty, VTE
  terminals with the patch, ...

Inside tmux (``$TMUX`` set) each is wrapped in tmux's passthrough (``ESC P tmux; ... ESC \\``,
every ESC inside doubled), which tmux hands to the outer terminal when ``allow-passthrough`` is
on (off by default since tmux 3.3: ``set -g allow-passthrough on``). :func:`tmux_passthrough`
asks tmux whether it is on for the console's pane (``tmux display -p '#{allow-passthrough}'``, a
blocking call with a short timeout: run it in a thread), so the console can say once what to run.

The text is cleaned of control characters (:func:`ibtui.text.clean_text`) before it goes in: a
symbol or a message from the server can never end the sequence early or start another.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, get_args

from ibtui.text import clean_text

__all__ = [
    "DESKTOP_MODES",
    "PASSTHROUGH_OFF",
    "DesktopMode",
    "desktop_sequences",
    "in_tmux",
    "tmux_passthrough",
]

DesktopMode = Literal["osc9", "osc777", "both", "off"]
DESKTOP_MODES: Final[tuple[DesktopMode, ...]] = get_args(DesktopMode)
ESC: Final = "\x1b"
BEL: Final = "\x07"
_LIMIT: Final = 240  # characters of text: terminals cut or drop longer ones
PASSTHROUGH_OFF: Final = (
    "Desktop notifications cannot leave tmux: its passthrough is off. Run "
    "`tmux set -g allow-passthrough on` to have them; alerts are still shown here"
)


def in_tmux(environ: Mapping[str, str] | None = None) -> bool:
    return bool((os.environ if environ is None else environ).get("TMUX"))


def tmux_passthrough(
    environ: Mapping[str, str] | None = None,
    *,
    run: Callable[..., subprocess.CompletedProcess[Any]] = subprocess.run,
    timeout: float = 2.0,
) -> bool | None:
    """Whether tmux hands this pane's escape sequences on to the terminal: False when its
    ``allow-passthrough`` is off; None outside tmux, and when it cannot be told (no answer within
    ``timeout`` seconds, a failing ``tmux``, or a tmux older than 3.3 that has no such option and
    passes them on anyway). Blocking: call it in a thread."""
    env = os.environ if environ is None else environ
    if not in_tmux(env):
        return None
    pane = env.get("TMUX_PANE")
    command = ["tmux", "display", "-p", *(("-t", pane) if pane else ()), "#{allow-passthrough}"]
    try:
        done = run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = str(done.stdout or "").strip() if done.returncode == 0 else ""
    # tmux 3.3 answers 1 or 0; 3.4 and later on, off or all; an older tmux nothing
    return True if value in ("1", "on", "all") else False if value in ("0", "off") else None


def _field(text: str) -> str:
    # one line, no controls; ';' separates OSC 777's fields
    return clean_text(text).replace(";", ",")[:_LIMIT]


def _tmux(sequence: str) -> str:
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ESC}\\"


def desktop_sequences(title: str, body: str, mode: DesktopMode, *, tmux: bool = False) -> str:
    """The bytes that ask the terminal for a desktop notification (empty for ``off``)."""
    sequences: list[str] = []
    if mode in ("osc9", "both"):
        sequences.append(f"{ESC}]9;{_field(f'{title}: {body}')}{BEL}")
    if mode in ("osc777", "both"):
        sequences.append(f"{ESC}]777;notify;{_field(title)};{_field(body)}{BEL}")
    return "".join(_tmux(s) if tmux else s for s in sequences)
