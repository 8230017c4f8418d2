"""ibtui's own log file: ``ibtui.log`` in the state folder, rotating, mode 0600, no secrets.

A console that runs for days needs somewhere to keep what went wrong while nobody watched: a
connection that dropped, an answer IBKR sent that ibtui could not read (with the part of it that
shows why), a live session token the server gave no usable expiry. Only ibtui's loggers (the
``ibtui`` hierarchy) write to it, at INFO and above; httpx's per-request lines and other
libraries' chatter stay out.

Secrets never reach it: nothing in ibtui logs a key, the access token secret or the live session
token, and :class:`SecretFilter` redacts, as a safety net, every value registered with
:func:`redact_in_logs` and whatever has the shape of one (an OAuth parameter with its value, an
``Authorization`` header, a PEM block, a base64 live session token).

Standard library only: the error messages of :mod:`ibtui.ibkr.errors` name the file through
:func:`log_path`.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import re
import sys
import threading
import traceback
from pathlib import Path

__all__ = [
    "LOG_BACKUPS",
    "LOG_FILE_NAME",
    "LOG_MAX_BYTES",
    "SecretFilter",
    "log_path",
    "redact",
    "redact_in_logs",
    "setup_logging",
    "stop_logging",
]

LOG_FILE_NAME = "ibtui.log"
# About 4,000 lines a file: days of a quiet console, hours of one whose network is down and that
# logs each failed round. Four old files are kept (ibtui.log.1 … .4), 5 MB in all.
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 4
FILE_MODE = 0o600
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MIN_SECRET = 8  # shorter registered values are not secrets worth a replace() per record

# Without a handler of their own, ibtui's warnings would reach Python's last-resort handler and
# be printed over the console or a command's output; setup_logging adds the real one.
logging.getLogger("ibtui").addHandler(logging.NullHandler())

_active: Path | None = None
_secrets: set[str] = set()
_secrets_lock = threading.Lock()

# name=value, name="value", "name": "value" (JSON), 'name': 'value' (a repr) for every OAuth
# parameter and IBKR secret field; a bare "name: text" is prose, e.g. an endpoint and its error
_FIELD_NAMES = (
    r"(?:oauth_[a-z_]+|live_session_token[a-z_]*|diffie_hellman_[a-z_]+|access_token_secret|"
    r"prepend|secret|lst)"
)
_PARAMETER = re.compile(
    rf"(?i)((?<![\w/])(?:{_FIELD_NAMES}\s*=|\"{_FIELD_NAMES}\"\s*:|'{_FIELD_NAMES}'\s*:)\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,&\"'}\]]+)"
)
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization\b\"?\s*[=:]\s*)(\"?OAuth\b[^\n]*)")
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?(?:-----END [A-Z ]+-----|\Z)", re.DOTALL)
# a live session token: 20 bytes in base64 (27 characters and one '='), standing alone
_LST_SHAPE = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{27}=(?![A-Za-z0-9+/=])")
_REDACTED = "<redacted>"
# C0 and C1 control characters: a log read with cat or less must not drive the terminal, and
# a message must not forge a line of its own (a traceback keeps its line breaks)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def redact_in_logs(*values: str | None) -> None:
    """Register secret values (an access token secret, a live session token) that the log
    file must never show, should some message ever carry one."""
    with _secrets_lock:
        _secrets.update(v for v in values if v and len(v) >= _MIN_SECRET)


def redact(text: str) -> str:
    """``text`` with registered secrets and secret-shaped values replaced by ``<redacted>``."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, _REDACTED)
    text = _PEM.sub(_REDACTED, text)
    text = _AUTHORIZATION.sub(lambda m: m.group(1) + _REDACTED, text)
    text = _PARAMETER.sub(lambda m: m.group(1) + _REDACTED, text)
    return _LST_SHAPE.sub(_REDACTED, text)


class SecretFilter(logging.Filter):
    """Redacts each record's message, exception and stack text (see :func:`redact`) and
    escapes the control characters in them (the message stays one line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _CONTROL.sub(_escape, redact(record.getMessage()))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = _CONTROL_BUT_NEWLINE.sub(_escape, redact(record.exc_text))
        if record.stack_info:
            record.stack_info = _CONTROL_BUT_NEWLINE.sub(_escape, redact(record.stack_info))
        return True


def _create_private(path: Path) -> None:
    """Create ``path`` (or take the existing one) as a regular file of the user's with mode
    0600; a symbolic link planted in its place is refused, not followed (UnsafePathError)."""
    from ibtui.local.files import open_private

    os.close(open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, tighten=True))


def _rotate(source: str, dest: str) -> None:
    """Rename the full log away and create the next one 0600 before the handler opens it (the
    handler itself would create it with the umask's mode)."""
    os.replace(source, dest)
    _create_private(Path(source))


def setup_logging(state_dir: Path, command: str) -> Path | None:
    """Log the ``ibtui`` loggers to ``state_dir/ibtui.log``; its path, or None when the file
    cannot be made (the command then runs without a log file: that must never stop it).

    Calling it again (a test, a second command in one process) moves the log to the new folder.
    """
    global _active
    from ibtui import __version__

    stop_logging()
    path = state_dir / LOG_FILE_NAME
    logger = logging.getLogger("ibtui")
    try:
        from ibtui.local.files import ensure_private_dir

        ensure_private_dir(state_dir)
        _create_private(path)
        handler = _PrivateLogHandler(path)
    except OSError:
        return None
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    _active = path
    logger.info(
        "ibtui %s started: %s (pid %d, Python %s)",
        __version__,
        command,
        os.getpid(),
        sys.version.split()[0],
    )
    return path


def stop_logging() -> None:
    """Close the log file (if one is open); ibtui's loggers go back to writing nowhere."""
    global _active
    logger = logging.getLogger("ibtui")
    for handler in [h for h in logger.handlers if isinstance(h, _PrivateLogHandler)]:
        logger.removeHandler(handler)
        with contextlib.suppress(OSError, ValueError):  # a file that went away meanwhile
            handler.close()
        logger.setLevel(logging.NOTSET)
    _active = None


def log_path() -> Path | None:
    """The log file this process writes, if any."""
    return _active


class _PrivateLogHandler(logging.handlers.RotatingFileHandler):
    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
        self.rotator = _rotate
        self.setLevel(logging.INFO)
        self.setFormatter(logging.Formatter(_FORMAT))
        self.addFilter(SecretFilter())

    def handleError(self, record: logging.LogRecord) -> None:
        """A record that cannot be written is dropped: the log must never print a traceback
        over the console or a command's output."""
