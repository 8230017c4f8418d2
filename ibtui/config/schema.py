"""The schema: every section and key the config knows, what kind of value each takes, and the
conversion of a value (from the TOML file, or text from the environment or a flag) to that kind,
with a :class:`BadValue` that :mod:`ibtui.config.loader` turns into a located message. Secret
keys are marked, so that no message shows their value."""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "ENV_NAMES",
    "ENV_PREFIXES",
    "FREE_TABLES",
    "MESSAGE_ID",
    "QUESTION",
    "SCHEMA",
    "SECTIONS",
    "BadValue",
    "Kind",
    "Spec",
    "coerce",
    "describe",
    "expand_path",
    "holds_secret",
    "spec_for",
    "suggest",
]

Kind = Literal[
    "text", "url", "path", "float", "int", "fraction", "bool", "choice", "base64", "keys"
]


@dataclass(frozen=True)
class Spec:
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
            case "fraction":
                return "a number from 0 to 1 (0.10 is 10%)"
            case "bool":
                return "true or false"
            case "choice":
                return "one of " + ", ".join(f"'{c}'" for c in self.choices)
            case "base64":
                return "a base64 string (as IBKR issues it)"
            case "keys":
                return 'keys like "ctrl+q" or "j,down"'


SCHEMA: dict[str, dict[str, Spec]] = {
    "ibkr": {
        "base_url": Spec("url"),
        "consumer_key": Spec("text"),
        "realm": Spec("text"),
        "signature_key": Spec("path"),
        "encryption_key": Spec("path"),
        "dh_params": Spec("path"),
        "access_token": Spec("text", secret=True),
        "access_token_secret": Spec("base64", secret=True),
    },
    "ui": {
        "poll_interval": Spec("float", minimum=0),
        "theme": Spec("text"),
        "bell": Spec("bool"),
        "idle_lock_minutes": Spec("int", minimum=0),
        "margin_warning": Spec("fraction"),
    },
    "orders": {
        "max_order_value": Spec("float", minimum=0),
        "max_quantity": Spec("float", minimum=0),
        "max_price_deviation_pct": Spec("float", minimum=0),
        "precaution_action": Spec("choice", choices=("warn", "block")),
    },
    "stream": {
        "enabled": Spec("bool"),
        "line_allowance": Spec("int", minimum=1),
        "background_poll_seconds": Spec("int", minimum=0),
    },
    "paths": {"state_dir": Spec("path")},
    "alerts": {
        "desktop": Spec("choice", choices=("osc9", "osc777", "both", "off")),
        "rearm_pct": Spec("float", minimum=0),
    },
}
_KEYMAP = Spec("keys")
QUESTION = Spec("choice", choices=("ask", "confirm", "reject"))
FREE_TABLES = {"keymap": _KEYMAP, "orders.questions": QUESTION}
SECTIONS = ("ibkr", "ui", "keymap", "orders", "stream", "paths", "alerts")
ENV_NAMES = {
    f"IBTUI_{section}_{key}".upper(): f"{section}.{key}"
    for section, keys in SCHEMA.items()
    for key in keys
}
ENV_PREFIXES = tuple(f"IBTUI_{section.upper()}_" for section in SCHEMA)
MESSAGE_ID = re.compile(r"[a-z]+[0-9]+")
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


class BadValue(Exception):
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


def describe(value: object, spec: Spec) -> str:
    if spec.secret:
        return f"{_toml_type(value)} (value not shown)"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, str | int | float):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return f"{_toml_type(value)} {shown}"
    return _toml_type(value)


def coerce(spec: Spec, value: object, *, from_text: bool, base_dir: Path) -> object:
    """Check ``value`` against ``spec``; strings from the environment or flags are parsed."""
    kind = spec.kind
    if kind in ("float", "int", "fraction"):
        if from_text and isinstance(value, str):
            try:
                value = int(value.strip()) if kind == "int" else float(value.strip())
            except ValueError as exc:
                raise BadValue from exc
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadValue
        if kind == "int" and not isinstance(value, int):
            raise BadValue
        try:
            number = float(value)
        except OverflowError as exc:
            raise BadValue from exc
        if kind == "fraction":
            if not 0 <= number <= 1:
                raise BadValue
            return number
        minimum = spec.minimum if spec.minimum is not None else -math.inf
        if not math.isfinite(number) or number < minimum:
            raise BadValue
        if kind == "float" and number <= minimum:
            raise BadValue
        return value if kind == "int" else number
    if kind == "bool":
        if from_text and isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE | _FALSE:
                return word in _TRUE
        if not isinstance(value, bool):
            raise BadValue
        return value
    if kind == "keys":
        return _coerce_keys(value)
    if kind == "path" and isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str):
        raise BadValue
    text = value.strip()
    if not text or "\0" in text:
        raise BadValue
    if kind == "text":
        if any(ch.isspace() for ch in text):
            raise BadValue
        return text
    if kind == "url":
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", text, flags=re.IGNORECASE):
            raise BadValue
        _check_host_and_port(text)
        if text.lower().startswith("http://") and not _is_loopback(text):
            raise BadValue  # credentials and orders never travel unencrypted off this machine
        return text if text.endswith("/") else text + "/"
    if kind == "path":
        return base_dir / expand_path(text)
    if kind == "choice":
        word = text.lower()
        if word not in spec.choices:
            raise BadValue
        return word
    # base64: IBKR's secret may be pasted with line breaks; keep it without whitespace
    compact = "".join(text.split())
    try:
        base64.b64decode(compact, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise BadValue from exc
    return compact


def _check_host_and_port(url: str) -> None:
    """Refuse a URL whose host or port ``urllib`` (and so httpx) cannot read."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # "[::1" and other broken bracketed hosts
        raise BadValue("its host is not a name or an address ([…] for IPv6)") from exc
    if not host:
        raise BadValue("it has no host")
    try:
        port = parts.port
    except ValueError as exc:  # "abc", "99999"
        raise BadValue("its port must be a number from 1 to 65535") from exc
    if port == 0:
        raise BadValue("its port must be a number from 1 to 65535")


def expand_path(path: str) -> Path:
    """``~`` and ``~user`` expanded; an unknown user leaves the text as it is (like a shell)."""
    return Path(os.path.expanduser(path))


def _coerce_keys(value: object) -> str:
    """A keymap entry: ``"ctrl+q"`` or ``"j, down"``, normalised to ``"j,down"``."""
    if not isinstance(value, str):
        raise BadValue
    keys = [k.strip() for k in value.split(",")]
    if not all(keys) or any(any(ch.isspace() for ch in k) for k in keys):
        raise BadValue
    return ",".join(keys)


def suggest(word: str, candidates: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def spec_for(dotted: str) -> Spec | None:
    for table, spec in FREE_TABLES.items():
        if dotted.startswith(table + ".") and len(dotted) > len(table) + 1:
            return spec
    section, _, key = dotted.partition(".")
    return SCHEMA.get(section, {}).get(key)


def holds_secret(data: Mapping[str, object]) -> bool:
    ibkr = data.get("ibkr")
    if not isinstance(ibkr, dict):
        return False
    return any(spec.secret and key in ibkr for key, spec in SCHEMA["ibkr"].items())
