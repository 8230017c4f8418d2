"""Private files: atomic 0600 writes, ssh-style permission checks, append-only journals.

Standard library only. This is the lowest layer of the configuration code, so the root of the
configuration error family, :class:`ConfigError`, lives here (``ibtui.config`` re-exports it): a
key file readable by others is a configuration problem like any other and the command line
reports all of them the same way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import stat
from pathlib import Path

__all__ = [
    "ConfigError",
    "InsecureFileError",
    "append_private_line",
    "check_private_permissions",
    "ensure_private_dir",
    "write_private",
]

FILE_MODE = 0o600
DIR_MODE = 0o700


class ConfigError(Exception):
    """Bad configuration or credential material. The message says what and where, never a secret."""


class InsecureFileError(ConfigError):
    """A file holding secrets can be read or written by group or others."""

    def __init__(self, path: Path, mode: int) -> None:
        self.path = path
        self.mode = mode
        super().__init__(
            f"{path}: permissions {mode:04o} are too open: this file holds secret material and "
            f"must be accessible only by you. Fix: chmod 600 {shlex.quote(str(path))}"
        )


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents with mode 0700; existing ones are left alone."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by someone else
            os.mkdir(path, DIR_MODE)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable; not every platform can open a directory, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes | str) -> None:
    """Replace ``path`` atomically with ``data``; the file ends with mode 0600.

    The data goes to a temporary file in the same directory (created 0600 with ``O_EXCL``), is
    fsynced, then renamed over ``path``. Readers see the old content or the new one, never a
    mix, and a failure leaves the old file untouched and no temporary file behind.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent
    ensure_private_dir(directory)
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, FILE_MODE)  # the umask may have removed bits we want
            _write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def check_private_permissions(path: Path) -> None:
    """Refuse, like ssh does for a private key, a file group or others have any access to.

    Raises :class:`InsecureFileError` (naming the file, its mode and the ``chmod 600`` fix) and
    ``FileNotFoundError`` when the file does not exist. Symbolic links are followed. On Windows,
    where POSIX mode bits say nothing, the check is skipped.
    """
    st = os.stat(path)
    if os.name == "nt":
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise InsecureFileError(path, mode)


def append_private_line(path: Path, line: str, *, fsync: bool = True) -> None:
    """Append one line (a JSON-lines record) to ``path``, creating it with mode 0600.

    ``line`` must not contain a newline; one is added. The line is written with ``O_APPEND`` in
    a single call, so concurrent writers do not interleave within a line, and fsynced unless
    ``fsync`` is false (a journal of orders must survive a crash).
    """
    if "\n" in line or "\r" in line:
        raise ValueError("a journal line must not contain a line break")
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        _write_all(fd, (line + "\n").encode("utf-8"))
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
