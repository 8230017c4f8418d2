"""Settings: a TOML file, ``IBTUI_*`` environment variables over it, command-line flags over both.

The file (default ``<platform config dir>/ibtui/config.toml``, or ``--config PATH``, or the
``IBTUI_CONFIG`` variable) has these sections; every key is optional::

    [ibkr]                      # OAuth material (OAUTH.md §1); paths relative to this file's folder
    base_url = "https://api.ibkr.com/v1/api/"
    consumer_key = "…"
    realm = "limited_poa"       # derived when absent: test_realm for TESTCONS, else limited_poa
    signature_key = "private_signature.pem"
    encryption_key = "private_encryption.pem"
    dh_params = "dhparam.pem"
    access_token = "…"          # first party only, with access_token_secret (base64, encrypted)
    access_token_secret = "…"

    [ui]                        poll_interval (s, > 0), theme, bell, idle_lock_minutes (0 = off)
    [keymap]                    binding-id = "key[,key...]"  (for Textual's App.set_keymap)
    [orders]                    max_order_value, max_quantity, max_price_deviation_pct,
                                precaution_action = "warn" | "block"
    [orders.questions]          IBKR message id (o163, p12, …) = "ask" | "confirm" | "reject"
    [paths]                     state_dir (default: the platform state dir)

Every fixed key has an environment variable ``IBTUI_<SECTION>_<KEY>`` (``IBTUI_IBKR_CONSUMER_KEY``,
``IBTUI_UI_POLL_INTERVAL``, …); an empty variable counts as unset; relative paths from the
environment or flags are relative to the working directory. Errors name the file, line, key or
variable and never show a secret.

The file must be a regular file of at most 1 MB belonging to the user (or root) that group and
others cannot write to, in a folder no one else can write to either (as ssh checks its config);
a file that holds ``access_token``/``access_token_secret`` must be readable by the user only.
An existing state folder gets the same folder check.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import difflib
import ipaddress
import json
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from ibtui.ibkr.oauth import realm_for
from ibtui.local.files import (
    ConfigError,
    InsecureFileError,
    UnsafePathError,
    check_owner_and_writers,
    check_private_dir,
    open_private,
    read_at_most,
    write_private,
)
from ibtui.local.paths import default_config_path, default_state_dir
from ibtui.trading.settings import OrderSettings, PrecautionAction, QuestionPolicy

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_BASE_URL",
    "ConfigError",
    "ConfigSyntaxError",
    "IbkrSettings",
    "InsecureFileError",
    "InvalidConfigError",
    "MissingConfigError",
    "OrderSettings",
    "PrecautionAction",
    "QuestionPolicy",
    "Settings",
    "StoredTokens",
    "UiSettings",
    "UnsafePathError",
    "default_config_path",
    "default_state_dir",
    "load_settings",
    "load_tokens",
    "save_tokens",
]

DEFAULT_BASE_URL = "https://api.ibkr.com/v1/api/"
CONFIG_ENV = "IBTUI_CONFIG"
TOKEN_FILE_NAME = "tokens.json"  # noqa: S105 (a file name, not a password)
CONFIG_SIZE_LIMIT = 1 << 20  # a config file is a few hundred bytes; 1 MB is plenty
_NESTING_SHOWN = 100  # how deep brackets nest where a too-deep TOML value is reported

CONFIG_EXAMPLE = """\
[ibkr]
consumer_key = "YOURKEY01"
signature_key = "private_signature.pem"     # paths relative to the config file's folder
encryption_key = "private_encryption.pem"
dh_params = "dhparam.pem"
# first party (self-service portal) only:
# access_token = "..."
# access_token_secret = "..."
"""


# --- errors ---------------------------------------------------------------------------------


class ConfigSyntaxError(ConfigError):
    """The config file is not valid TOML (or not UTF-8)."""

    def __init__(self, path: Path, line: int, column: int, reason: str, key: str | None) -> None:
        self.path, self.line, self.column, self.key = path, line, column, key
        where = f" (key '{key}')" if key else ""
        super().__init__(f"{path}: line {line}, column {column}{where}: {reason}")


class InvalidConfigError(ConfigError):
    """Unknown keys or bad values; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class MissingConfigError(ConfigError):
    """No config file where one is needed."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(message)


# --- settings -------------------------------------------------------------------------------


def _masked(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True, repr=False, slots=True)
class IbkrSettings:
    """What ``[ibkr]`` says; paths are absolute; ``realm`` is derived when left empty. The repr
    masks the access token and its secret; slots keep them out of ``vars()``."""

    base_url: str = DEFAULT_BASE_URL
    consumer_key: str | None = None
    realm: str = ""
    signature_key: Path | None = None
    encryption_key: Path | None = None
    dh_params: Path | None = None
    access_token: str | None = None
    access_token_secret: str | None = None

    def __post_init__(self) -> None:
        if not self.realm:
            object.__setattr__(self, "realm", realm_for(self.consumer_key or ""))

    @property
    def first_party(self) -> bool:
        """True when the config carries the access token and secret (no login needed)."""
        return self.access_token is not None and self.access_token_secret is not None

    def __repr__(self) -> str:
        return (
            f"IbkrSettings(base_url={self.base_url!r}, consumer_key={self.consumer_key!r}, "
            f"realm={self.realm!r}, signature_key={self.signature_key!r}, "
            f"encryption_key={self.encryption_key!r}, dh_params={self.dh_params!r}, "
            f"access_token={_masked(self.access_token)}, "
            f"access_token_secret={_masked(self.access_token_secret)})"
        )


@dataclass(frozen=True)
class UiSettings:
    poll_interval: float = 2.0
    theme: str = "textual-dark"
    bell: bool = True
    idle_lock_minutes: int = 0  # 0 = never lock


@dataclass(frozen=True)
class Settings:
    config_path: Path  # the file consulted (it may not exist: see config_found)
    state_dir: Path
    config_found: bool = False
    ibkr: IbkrSettings = field(default_factory=IbkrSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    orders: OrderSettings = field(default_factory=OrderSettings)
    keymap: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def token_file(self) -> Path:
        """Where a third-party login stores the access token and its encrypted secret."""
        return self.state_dir / TOKEN_FILE_NAME


# --- schema and value conversion ------------------------------------------------------------

Kind = Literal["text", "url", "path", "float", "int", "bool", "choice", "base64", "keys"]


@dataclass(frozen=True)
class _Spec:
    kind: Kind
    secret: bool = False
    minimum: float | None = None  # for "int": inclusive; for "float": exclusive
    choices: tuple[str, ...] = ()

    def expected(self) -> str:
        match self.kind:
            case "text":
                return "a non-empty string without spaces"
            case "url":
                return "an https:// URL (plain http:// only for a loopback host such as 127.0.0.1)"
            case "path":
                return "a file path (a string)"
            case "float":
                return f"a number greater than {self.minimum:g}"
            case "int":
                return f"a whole number >= {self.minimum:g}"
            case "bool":
                return "true or false"
            case "choice":
                return "one of " + ", ".join(f"'{c}'" for c in self.choices)
            case "base64":
                return "a base64 string (as IBKR issues it)"
            case "keys":
                return 'keys like "ctrl+q" or "j,down"'


_SCHEMA: dict[str, dict[str, _Spec]] = {
    "ibkr": {
        "base_url": _Spec("url"),
        "consumer_key": _Spec("text"),
        "realm": _Spec("text"),
        "signature_key": _Spec("path"),
        "encryption_key": _Spec("path"),
        "dh_params": _Spec("path"),
        "access_token": _Spec("text", secret=True),
        "access_token_secret": _Spec("base64", secret=True),
    },
    "ui": {
        "poll_interval": _Spec("float", minimum=0),
        "theme": _Spec("text"),
        "bell": _Spec("bool"),
        "idle_lock_minutes": _Spec("int", minimum=0),
    },
    "orders": {
        "max_order_value": _Spec("float", minimum=0),
        "max_quantity": _Spec("float", minimum=0),
        "max_price_deviation_pct": _Spec("float", minimum=0),
        "precaution_action": _Spec("choice", choices=("warn", "block")),
    },
    "paths": {"state_dir": _Spec("path")},
}
_KEYMAP = _Spec("keys")
_QUESTION = _Spec("choice", choices=("ask", "confirm", "reject"))
_FREE_TABLES = {"keymap": _KEYMAP, "orders.questions": _QUESTION}
_SECTIONS = ("ibkr", "ui", "keymap", "orders", "paths")
_ENV_NAMES = {
    f"IBTUI_{section}_{key}".upper(): f"{section}.{key}"
    for section, keys in _SCHEMA.items()
    for key in keys
}
_ENV_PREFIXES = tuple(f"IBTUI_{section.upper()}_" for section in _SCHEMA)
_MESSAGE_ID = re.compile(r"[a-z]+[0-9]+")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Bad(Exception):
    """A value that does not fit its spec (internal; turned into a located message). Its text,
    if any, says what exactly is wrong with it."""


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__


def _describe(value: object, spec: _Spec) -> str:
    if spec.secret:
        return f"{_toml_type(value)} (value not shown)"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, str | int | float):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return f"{_toml_type(value)} {shown}"
    return _toml_type(value)


def _coerce(spec: _Spec, value: object, *, from_text: bool, base_dir: Path) -> object:
    """Check ``value`` against ``spec``; strings from the environment or flags are parsed."""
    kind = spec.kind
    if kind in ("float", "int"):
        if from_text and isinstance(value, str):
            try:
                value = int(value.strip()) if kind == "int" else float(value.strip())
            except ValueError as exc:
                raise _Bad from exc
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad
        if kind == "int" and not isinstance(value, int):
            raise _Bad
        try:
            number = float(value)
        except OverflowError as exc:
            raise _Bad from exc
        minimum = spec.minimum if spec.minimum is not None else -math.inf
        if not math.isfinite(number) or number < minimum:
            raise _Bad
        if kind == "float" and number <= minimum:
            raise _Bad
        return value if kind == "int" else number
    if kind == "bool":
        if from_text and isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE | _FALSE:
                return word in _TRUE
        if not isinstance(value, bool):
            raise _Bad
        return value
    if kind == "keys":
        return _coerce_keys(value)
    if kind == "path" and isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise _Bad
    text = value.strip()
    if not text or "\0" in text:
        raise _Bad
    if kind == "text":
        if any(ch.isspace() for ch in text):
            raise _Bad
        return text
    if kind == "url":
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", text, flags=re.IGNORECASE):
            raise _Bad
        _check_host_and_port(text)
        if text.lower().startswith("http://") and not _is_loopback(text):
            raise _Bad  # credentials and orders never travel unencrypted off this machine
        return text if text.endswith("/") else text + "/"
    if kind == "path":
        return base_dir / _expand(text)
    if kind == "choice":
        word = text.lower()
        if word not in spec.choices:
            raise _Bad
        return word
    # base64: IBKR's secret may be pasted with line breaks; keep it without whitespace
    compact = "".join(text.split())
    try:
        base64.b64decode(compact, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise _Bad from exc
    return compact


def _check_host_and_port(url: str) -> None:
    """Refuse a URL whose host or port ``urllib`` (and so httpx) cannot read."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # "[::1" and other broken bracketed hosts
        raise _Bad("its host is not a name or an address ([…] for IPv6)") from exc
    if not host:
        raise _Bad("it has no host")
    try:
        port = parts.port
    except ValueError as exc:  # "abc", "99999"
        raise _Bad("its port must be a number from 1 to 65535") from exc
    if port == 0:
        raise _Bad("its port must be a number from 1 to 65535")


def _expand(path: str) -> Path:
    """``~`` and ``~user`` expanded; an unknown user leaves the text as it is (like a shell)."""
    return Path(os.path.expanduser(path))


def _coerce_keys(value: object) -> str:
    """A keymap entry: ``"ctrl+q"`` or ``"j, down"``, normalised to ``"j,down"``."""
    if not isinstance(value, str):
        raise _Bad
    keys = [k.strip() for k in value.split(",")]
    if not all(keys) or any(any(ch.isspace() for ch in k) for k in keys):
        raise _Bad
    return ",".join(keys)


def _suggest(word: str, candidates: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --- the three layers -----------------------------------------------------------------------


class _Layers:
    """Values by dotted key ("ibkr.base_url", "keymap.quit", "orders.questions.o163")."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}  # dotted key -> where its value came from
        self.problems: list[str] = []

    def put(
        self,
        dotted: str,
        spec: _Spec,
        value: object,
        where: str,
        *,
        from_text: bool,
        base_dir: Path,
    ) -> None:
        if spec is _QUESTION:
            message_id = dotted.removeprefix("orders.questions.")
            if not _MESSAGE_ID.fullmatch(message_id.lower()):
                self.problems.append(
                    f"{where}'{dotted}': '{message_id}' is not an IBKR message id (like o163, p12)"
                )
                return
            dotted = "orders.questions." + message_id.lower()
        try:
            self.values[dotted] = _coerce(spec, value, from_text=from_text, base_dir=base_dir)
            self.sources[dotted] = where.removesuffix(": ")
        except _Bad as exc:
            why = f": {exc}" if str(exc) else ""
            self.problems.append(
                f"{where}'{dotted}' must be {spec.expected()}; got {_describe(value, spec)}{why}"
            )

    def from_file(self, path: Path, data: dict[str, object]) -> None:
        where = f"{path}: "
        base = path.parent
        for section, content in data.items():
            if section not in _SECTIONS:
                bare = [f"{s}.{section}" for s, keys in _SCHEMA.items() if section in keys]
                if bare:
                    self.problems.append(
                        f"{where}unknown key '{section}' (did you mean '{bare[0]}'? "
                        f"put it under [{bare[0].split('.')[0]}])"
                    )
                else:
                    self.problems.append(
                        f"{where}unknown section [{section}]{_suggest(section, _SECTIONS)}; "
                        f"known sections: {', '.join(_SECTIONS)}"
                    )
                continue
            if not isinstance(content, dict):
                self.problems.append(f"{where}'{section}' must be a table ([{section}] section)")
                continue
            self._section(where, base, section, content)

    def _section(self, where: str, base: Path, section: str, content: dict[str, object]) -> None:
        if section == "keymap":
            self._free_table(where, base, "keymap", content)
            return
        keys = _SCHEMA[section]
        for key, value in content.items():
            dotted = f"{section}.{key}"
            if section == "orders" and key == "questions":
                if isinstance(value, dict):
                    self._free_table(where, base, dotted, value)
                else:
                    self.problems.append(f"{where}'{dotted}' must be a table ([{dotted}])")
            elif key in keys:
                self.put(dotted, keys[key], value, where, from_text=False, base_dir=base)
            else:
                candidates = [*keys, "questions"] if section == "orders" else list(keys)
                self.problems.append(f"{where}unknown key '{dotted}'{_suggest(key, candidates)}")

    def _free_table(self, where: str, base: Path, table: str, content: dict[str, object]) -> None:
        spec = _FREE_TABLES[table]
        for key, value in content.items():
            dotted = f"{table}.{key}"
            if isinstance(value, dict):
                self.problems.append(
                    f"{where}'{dotted}' must be {spec.expected()}; got a table"
                    f' (quote an id that contains a dot: "{key}.…" = …)'
                )
                continue
            self.put(dotted, spec, value, where, from_text=False, base_dir=base)

    def from_env(self, env: Mapping[str, str]) -> None:
        cwd = Path.cwd()
        for name in sorted(env):
            if not name.startswith(_ENV_PREFIXES):
                continue
            raw = env[name]
            dotted = _ENV_NAMES.get(name)
            if dotted is None:
                self.problems.append(
                    f"environment variable {name}: unknown setting"
                    + _suggest(name, list(_ENV_NAMES))
                )
                continue
            if raw == "":
                continue
            section, key = dotted.split(".")
            self.put(
                dotted,
                _SCHEMA[section][key],
                raw,
                f"environment variable {name}: ",
                from_text=True,
                base_dir=cwd,
            )

    def from_overrides(self, overrides: Mapping[str, object]) -> None:
        cwd = Path.cwd()
        for dotted, value in overrides.items():
            if value is None:
                continue
            spec = _spec_for(dotted)
            if spec is None:
                self.problems.append(f"option '{dotted}': unknown setting")
                continue
            self.put(
                dotted,
                spec,
                value,
                "command-line option: ",
                from_text=isinstance(value, str),
                base_dir=cwd,
            )


def _spec_for(dotted: str) -> _Spec | None:
    for table, spec in _FREE_TABLES.items():
        if dotted.startswith(table + ".") and len(dotted) > len(table) + 1:
            return spec
    section, _, key = dotted.partition(".")
    return _SCHEMA.get(section, {}).get(key)


# --- loading --------------------------------------------------------------------------------


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


def _holds_secret(data: Mapping[str, object]) -> bool:
    ibkr = data.get("ibkr")
    if not isinstance(ibkr, dict):
        return False
    return any(spec.secret and key in ibkr for key, spec in _SCHEMA["ibkr"].items())


def _read_toml(path: Path) -> dict[str, object]:
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
    if os.name != "nt" and mode & 0o077 and _holds_secret(data):
        raise InsecureFileError(path, mode)  # like a private key: readable by the user only
    return data


def _resolve_config_path(config_path: Path | None, env: Mapping[str, str]) -> tuple[Path, str]:
    if config_path is not None:
        return _expand(str(config_path)), "given with --config"
    if env.get(CONFIG_ENV):
        return _expand(env[CONFIG_ENV]), f"named by {CONFIG_ENV}"
    return default_config_path(), ""


_REQUIRED = ("consumer_key", "signature_key", "encryption_key", "dh_params")


def load_settings(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    require_credentials: bool = False,
) -> Settings:
    """Defaults, then the TOML file, then ``IBTUI_*`` variables, then ``overrides``.

    ``config_path`` is ``--config`` (must exist); without it ``IBTUI_CONFIG`` (must exist) or
    the default path (may be missing). ``overrides`` maps dotted keys (``"ibkr.base_url"``,
    ``"ui.poll_interval"``, ``"keymap.<id>"``) to flag values; ``None`` values are skipped and
    strings are parsed like environment values. With ``require_credentials`` the consumer key
    and the three key paths must be set somewhere. Raises a :class:`ConfigError` subclass.
    """
    env = os.environ if env is None else env
    path, origin = _resolve_config_path(config_path, env)
    try:
        found = path.exists()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot access the config file: {exc.strerror}") from exc
    if origin and not found:
        raise MissingConfigError(path, f"{path}: no such config file ({origin})")
    layers = _Layers()
    if found:
        layers.from_file(path, _read_toml(path))
    layers.from_env(env)
    layers.from_overrides(overrides or {})
    if layers.problems:
        raise InvalidConfigError(layers.problems)
    values = layers.values
    has_token = values.get("ibkr.access_token") is not None
    if has_token != (values.get("ibkr.access_token_secret") is not None):
        present, absent = ("", "_secret") if has_token else ("_secret", "")
        source = layers.sources[f"ibkr.access_token{present}"]
        raise InvalidConfigError(
            [
                f"{source}: 'ibkr.access_token{present}' is set but 'ibkr.access_token{absent}' "
                "is not: a first-party setup needs both (leave both out to log in as a third party)"
            ]
        )
    if require_credentials:
        _check_required(path, found, values)
    settings = _build(path, found, values)
    with contextlib.suppress(FileNotFoundError):  # made with mode 0700 when first written to
        check_private_dir(settings.state_dir, "state folder")
    return settings


def _check_required(path: Path, found: bool, values: Mapping[str, object]) -> None:
    missing = [key for key in _REQUIRED if values.get(f"ibkr.{key}") is None]
    if not missing:
        return
    if not found:
        raise MissingConfigError(
            path,
            f"{path}: no config file; connecting to IBKR needs your OAuth material.\n"
            f"`ibtui init` creates the keys and this file; or write it (chmod 600) like this, "
            f"or pass --config PATH:\n\n{CONFIG_EXAMPLE}\n"
            "(`ibtui demo` runs on the built-in simulator without any configuration.)",
        )
    raise InvalidConfigError(
        [
            f"{path}: 'ibkr.{key}' is not set (add it under [ibkr] or set IBTUI_IBKR_{key.upper()})"
            for key in missing
        ]
    )


def _build(path: Path, found: bool, values: Mapping[str, object]) -> Settings:
    def pick(section: str) -> dict[str, Any]:
        prefix = section + "."
        return {
            k[len(prefix) :]: v
            for k, v in values.items()
            if k.startswith(prefix) and "." not in k[len(prefix) :]
        }

    questions = {
        k.removeprefix("orders.questions."): cast(QuestionPolicy, v)
        for k, v in values.items()
        if k.startswith("orders.questions.")
    }
    ibkr = IbkrSettings(**pick("ibkr"))
    ui = UiSettings(**pick("ui"))
    orders = OrderSettings(**pick("orders"), questions=MappingProxyType(questions))
    keymap = {
        k.removeprefix("keymap."): cast(str, v)
        for k, v in values.items()
        if k.startswith("keymap.")
    }
    state_dir = values.get("paths.state_dir")
    return Settings(
        config_path=path,
        config_found=found,
        state_dir=state_dir if isinstance(state_dir, Path) else default_state_dir(),
        ibkr=ibkr,
        ui=ui,
        orders=orders,
        keymap=MappingProxyType(keymap),
    )


# --- token store ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False, slots=True)
class StoredTokens:
    """An access token and its encrypted secret from a third-party login (OAUTH.md §8)."""

    access_token: str
    access_token_secret: str
    is_paper: bool | None = None

    def __repr__(self) -> str:
        return (
            f"StoredTokens(access_token='***', access_token_secret='***', is_paper={self.is_paper})"
        )


_TOKEN_FORMAT = 1


def save_tokens(
    path: Path, access_token: str, access_token_secret: str, is_paper: bool | None
) -> None:
    """Write the token file atomically with mode 0600."""
    record = {
        "format": _TOKEN_FORMAT,
        "access_token": access_token,
        "access_token_secret": access_token_secret,
        "is_paper": is_paper,
    }
    write_private(path, json.dumps(record, indent=2) + "\n")


def load_tokens(path: Path) -> StoredTokens | None:
    """The stored tokens, or ``None`` when there is no token file (a login is needed).

    The file is opened without following a symbolic link and must be a regular file of the
    user's (:class:`UnsafePathError`) that group and others cannot read
    (:class:`InsecureFileError`); a damaged file gives a :class:`ConfigError` that says to
    delete it and log in again.
    """
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except ConfigError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the token file: {exc.strerror}") from exc
    try:
        raw = read_at_most(fd, CONFIG_SIZE_LIMIT)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the token file: {exc.strerror}") from exc
    finally:
        os.close(fd)
    damaged = (
        f"{path}: not a valid ibtui token file ({{}}); delete it and log in again (ibtui login)"
    )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(damaged.format("not JSON")) from exc
    if not isinstance(data, dict):
        raise ConfigError(damaged.format("not a JSON object"))
    token, secret, paper = (
        data.get("access_token"),
        data.get("access_token_secret"),
        data.get("is_paper"),
    )
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(damaged.format("no access_token"))
    if not isinstance(secret, str):
        raise ConfigError(damaged.format("no access_token_secret"))
    try:
        secret = _coerce(
            _SCHEMA["ibkr"]["access_token_secret"], secret, from_text=True, base_dir=path.parent
        )
    except _Bad as exc:
        raise ConfigError(damaged.format("access_token_secret is not base64")) from exc
    if paper is not None and not isinstance(paper, bool):
        raise ConfigError(damaged.format("is_paper is not true, false or null"))
    return StoredTokens(token.strip(), cast(str, secret), paper)
