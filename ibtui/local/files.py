"""Private files: atomic 0600 writes, ssh-style permission checks, append-only journals.

Standard library only. This is the lowest layer of the configuration code, so the root of the
configuration error family, :class:`ConfigError`, lives here (``ibtui.config`` re-exports it): a
key file readable by others is a configuration problem like any other and the command line
reports all of them the same way.

Like ssh, ibtui trusts a folder it keeps private files in only when it belongs to the user (or
root) and no one else can write to it (:func:`check_private_dir`), and it opens a private file
it appends to or reads back without following a symbolic link, checking on the open file that it
is a regular file of the user's own (:func:`open_private`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import shlex
import stat
from pathlib import Path

__all__ = [
    "ConfigError",
    "InsecureFileError",
    "UnsafePathError",
    "append_private_line",
    "check_owner_and_writers",
    "check_private_dir",
    "check_private_permissions",
    "ensure_private_dir",
    "open_private",
    "read_at_most",
    "write_private",
]

FILE_MODE = 0o600
DIR_MODE = 0o700
_POSIX = os.name != "nt"  # where owners and mode bits mean something

log = logging.getLogger(__name__)


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


class UnsafePathError(ConfigError, OSError):
    """A file or folder that is not safely the user's: a symbolic link where none may be, not a
    regular file (or folder), another user's, or writable by group or others.

    Both a :class:`ConfigError` (the command line reports it like a bad config) and an
    ``OSError`` (whoever handles a failed write, such as the order journal, handles it too).
    """

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


def _writers(mode: int) -> str:
    """Who besides the owner may write, for a message: "group", "others" or both."""
    who = [name for bit, name in ((0o020, "group"), (0o002, "others")) if mode & bit]
    return " and ".join(who)


def check_owner_and_writers(path: Path, st: os.stat_result, what: str) -> None:
    """Refuse, like ssh does for its config, ``path`` (whose ``stat`` is ``st``) when it belongs
    to someone other than the user or root, or when group or others may write to it.

    ``what`` names it in the message ("config file", "state folder", ...). No-op on Windows.
    """
    if not _POSIX:
        return
    quoted = shlex.quote(str(path))
    if st.st_uid not in (os.geteuid(), 0):
        raise UnsafePathError(
            path,
            f"the {what} belongs to another user (uid {st.st_uid}, you are uid {os.geteuid()}), "
            f"who could change what ibtui reads there; use a {what} of your own",
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        if stat.S_ISREG(st.st_mode):
            fix = f"chmod 600 {quoted}"
        elif st.st_uid != os.geteuid() or mode & stat.S_ISVTX:  # a shared folder like /tmp
            fix = "keep the files in a folder of your own"
        else:
            fix = f"chmod go-w {quoted}"
        raise UnsafePathError(
            path,
            f"permissions {mode:04o} are too open: the {what} is writable by {_writers(mode)}, "
            f"who could change what ibtui reads there. Fix: {fix}",
        )


def check_private_dir(directory: Path, what: str = "folder") -> None:
    """Refuse a folder ibtui keeps private files in unless it is a folder of the user's (or
    root's) that group and others cannot write to, as ssh does for ``~/.ssh``.

    Raises :class:`UnsafePathError`, or ``FileNotFoundError`` when it does not exist. A symbolic
    link to a folder is judged by the folder it points to.
    """
    st = os.stat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(directory, f"the {what} is not a folder")
    check_owner_and_writers(directory, st, what)


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents with mode 0700; existing ones are left alone.

    ``directory`` itself must then pass :func:`check_private_dir` (:class:`UnsafePathError`).
    """
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
    check_private_dir(directory)


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


def open_private(path: Path, flags: int, *, tighten: bool = False) -> int:
    """Open ``path`` (``os.open`` ``flags``; a file it creates gets mode 0600) and return the
    descriptor once the open file has passed the checks a file holding private data must pass.

    A symbolic link at ``path`` is never followed (``O_NOFOLLOW``: a link planted there could
    point anywhere), and the open file must be a regular file owned by the user. Group or other
    access is refused (:class:`InsecureFileError`) unless ``tighten``, which sets the user's own
    file back to 0600 and logs a warning saying so. Everything else refused raises
    :class:`UnsafePathError`; ``FileNotFoundError`` and other ``OSError`` pass through.
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    # O_NONBLOCK: opening a FIFO planted at ``path`` must fail (or return) at once, not wait
    # for a peer; it changes nothing for a regular file.
    extra = nofollow | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | extra, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR, errno.ENOTDIR):
            _refuse_special(path)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(path, "not a regular file; ibtui keeps private data only in one")
        if _POSIX:
            _check_private_fd(fd, path, st, tighten=tighten)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_special(path: Path) -> None:
    """After a failed open: raise the :class:`UnsafePathError` that says why, if it is one."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(
            path,
            "is a symbolic link, which ibtui does not follow for a private file (it could point "
            f"anywhere). Fix: remove the link (rm {shlex.quote(str(path))})",
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(path, "not a regular file; ibtui keeps private data only in one")


def _check_private_fd(fd: int, path: Path, st: os.stat_result, *, tighten: bool) -> None:
    if st.st_uid != os.geteuid():
        raise UnsafePathError(
            path,
            f"belongs to another user (uid {st.st_uid}, you are uid {os.geteuid()}); ibtui "
            "keeps private data only in files of your own",
        )
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return
    if not tighten:
        raise InsecureFileError(path, mode)
    os.fchmod(fd, FILE_MODE)
    log.warning("%s: permissions %04o were too open for a private file; set to 0600", path, mode)


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes from ``fd`` (fewer only at the end of the file)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def append_private_line(
    path: Path, line: str, *, fsync: bool = True, end_partial_line: bool = False
) -> None:
    """Append one line (a JSON-lines record) to ``path``, creating it with mode 0600.

    ``line`` must not contain a newline; one is added. The line is written with ``O_APPEND`` in
    a single call, so concurrent writers do not interleave within a line, and fsynced unless
    ``fsync`` is false (a journal of orders must survive a crash). With ``end_partial_line`` a
    last line left without its newline (a crash mid-write) is ended first, in the same write.

    The folder must pass :func:`check_private_dir` and the file is opened by
    :func:`open_private` (no symbolic link, a regular file of the user's; a looser mode is set
    back to 0600 and logged): both raise :class:`UnsafePathError`, an ``OSError``.
    """
    if "\n" in line or "\r" in line:
        raise ValueError("a journal line must not contain a line break")
    ensure_private_dir(path.parent)
    access = os.O_RDWR if end_partial_line else os.O_WRONLY
    fd = open_private(path, access | os.O_APPEND | os.O_CREAT, tighten=True)
    try:
        data = (line + "\n").encode("utf-8")
        if end_partial_line:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
        _write_all(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
