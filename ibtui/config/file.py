"""Reading the config file: the checks ssh would make (a regular file of at most 1 MB, the
user's or root's, that group and others cannot write to, in a folder no one else can write to;
readable by the user only when it holds a secret), then its TOML, with every syntax error
located by line, column and key."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path

from ibtui.config.schema import holds_secret
from ibtui.local.files import (
    ConfigError,
    InsecureFileError,
    check_owner_and_writers,
    check_private_dir,
    read_at_most,
)

__all__ = ["CONFIG_SIZE_LIMIT", "ConfigSyntaxError", "read_toml"]

CONFIG_SIZE_LIMIT = 1 << 20  # a config file is a few hundred bytes; 1 MB is plenty
_NESTING_SHOWN = 100  # how deep brackets nest where a too-deep TOML value is reported


class ConfigSyntaxError(ConfigError):
    """The config file is not valid TOML (or not UTF-8)."""

    def __init__(self, path: Path, line: int, column: int, reason: str, key: str | None) -> None:
        self.path, self.line, self.column, self.key = path, line, column, key
        where = f" (key '{key}')" if key else ""
        super().__init__(f"{path}: line {line}, column {column}{where}: {reason}")


def _syntax_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigSyntaxError:
    message = str(exc)
    lines = text.splitlines() or [""]
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        line, column = int(found.group(1)), int(found.group(2))
        reason = message[: found.start()]
    else:  # "(at end of document)": point at the last non-blank line
        reason = re.sub(r"\s*\(at end of document\)$", "", message)
        line = max((i + 1 for i, ln in enumerate(lines) if ln.strip()), default=1)
        column = len(lines[line - 1]) + 1
        reason += " (at end of file)"
    return ConfigSyntaxError(path, line, column, reason, _key_at(lines, line))


def _key_at(lines: Sequence[str], line: int) -> str | None:
    """The dotted key assigned on ``line`` (1-based), within its ``[section]``."""
    if not 1 <= line <= len(lines):
        return None
    section = ""
    for previous in lines[: line - 1]:
        header = re.match(r"\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]", previous)
        if header:
            section = header.group(1)
    assigned = re.match(
        r"\s*([A-Za-z0-9_\-.\"']+(?:\s*\.\s*[A-Za-z0-9_\-\"']+)*)\s*=", lines[line - 1]
    )
    if not assigned:
        return None
    key = assigned.group(1)
    return f"{section}.{key}" if section else key


def _too_deep(path: Path, text: str) -> ConfigSyntaxError:
    """The error for a value nested deeper than the TOML reader can go, at the place where the
    brackets first nest :data:`_NESTING_SHOWN` deep (counted roughly: quotes are not parsed)."""
    depth, line, start = 0, 1, 0
    where = (1, 1)
    for offset, ch in enumerate(text):
        if ch == "\n":
            line, start = line + 1, offset + 1
        elif ch in "[{":
            depth += 1
            if depth == _NESTING_SHOWN:
                where = (line, offset - start + 1)
                break
        elif ch in "]}":
            depth = max(0, depth - 1)
    return ConfigSyntaxError(
        path,
        *where,
        "arrays or tables nested too deeply to read",
        _key_at(text.splitlines(), where[0]),
    )


def _read_config_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of the config file and its ``stat``, once it has passed the file checks: a
    regular file (not a folder, device or pipe) of at most :data:`CONFIG_SIZE_LIMIT` bytes,
    the user's or root's, not writable by group or others (:class:`UnsafePathError`)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO must not hang the start
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: is a directory, not a config file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    too_big = (
        f"{path}: too large for a config file (more than {CONFIG_SIZE_LIMIT // (1 << 20)} MB); "
        "is it the right file?"
    )
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"{path}: is a directory, not a config file")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(
                f"{path}: not a regular file (a device, pipe or socket); "
                "the config must be a TOML text file"
            )
        if st.st_size > CONFIG_SIZE_LIMIT:
            raise ConfigError(too_big)
        check_owner_and_writers(path, st, "config file")
        raw = read_at_most(fd, CONFIG_SIZE_LIMIT + 1)
    except OSError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    finally:
        os.close(fd)
    if len(raw) > CONFIG_SIZE_LIMIT:  # grew since the fstat
        raise ConfigError(too_big)
    return raw, st


def _check_config_folders(path: Path) -> None:
    """The folder of the config file (and, for a symbolic link, of the file it points to) must
    not be writable by anyone else: whoever can write there can replace the file."""
    folders = [path.parent]
    real = Path(os.path.realpath(path)).parent
    if real != path.parent:
        folders.append(real)
    for folder in folders:
        check_private_dir(folder, "config file's folder")


def read_toml(path: Path) -> dict[str, object]:
    _check_config_folders(path)
    raw, st = _read_config_file(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigSyntaxError(path, line, column, "not valid UTF-8 text", None) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from exc
    except RecursionError as exc:
        raise _too_deep(path, text) from exc
    except ValueError as exc:  # tomllib lets int()'s digit limit through
        digits = re.search(r"\d{1000,}", text)
        offset = digits.start() if digits else 0
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        reason = "a number too long to read" if digits else "cannot be parsed"
        raise ConfigSyntaxError(
            path, line, column, reason, _key_at(text.splitlines(), line)
        ) from exc
    mode = stat.S_IMODE(st.st_mode)
    if os.name != "nt" and mode & 0o077 and holds_secret(data):
        raise InsecureFileError(path, mode)  # like a private key: readable by the user only
    return data
