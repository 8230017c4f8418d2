"""Strict readers for IBKR's loosely typed JSON. Every failure is a :class:`ProtocolError`.

IBKR sends numbers as strings, ids as strings or ints, money with thousands separators and
timestamps in milliseconds or seconds (API.md §0.3). These helpers turn each into one clean type and
refuse anything else with a short reason naming the shape and key (never the whole body).

Every text goes through :func:`to_str`, which cleans it of control characters
(:func:`ibtui.text.clean_text`): server text is data, never terminal control codes. Numbers must
be finite and fit a float (``"1e400"`` is refused, not shown as ``inf``).
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import ParamSpec, TypeAlias, TypeVar

from ibtui.ibkr.errors import ProtocolError
from ibtui.slots import constructor
from ibtui.text import clean_text

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

P = ParamSpec("P")
R = TypeVar("R")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?")
_INTEGER = re.compile(r"[+-]?\d{1,30}(?:\.0*)?")
_MAX_REASON_VALUE = 40
_FLOAT_DIGITS = 308  # a float holds magnitudes below about 1.8e308


def fail(reason: str) -> ProtocolError:
    """A ProtocolError without endpoint (the client adds it)."""
    return ProtocolError(None, reason)


def describe(value: object) -> str:
    """A short description of a JSON value for an error reason."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_REASON_VALUE else value[:_MAX_REASON_VALUE] + "…"
        return f"the text {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def guarded(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Last line of defence: any stray exception in a parser becomes a ProtocolError."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except ProtocolError:
                raise
            except (
                KeyError,
                TypeError,
                ValueError,
                ArithmeticError,
                AttributeError,
                IndexError,
                RecursionError,
            ) as exc:
                raise fail(f"{what}: malformed ({type(exc).__name__})") from exc

        return wrapper

    return decorate


# --------------------------------------------------------------------------------------------
# Scalars


def to_decimal(value: object, what: str) -> Decimal | None:
    """A number from an int, a float or a numeric string (``"1,300"``, ``" 221.50 "``).

    ``None`` and ``""`` are "no value" (None). Floats go through ``repr`` so ``221.5`` stays
    ``Decimal("221.5")``. NaN, infinities, numbers too large for a float (``"1e400"``, which
    every consumer of the value would turn into ``inf``), booleans and other text are refused.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise fail(f"{what} is {describe(value)}, not a number")
    if isinstance(value, int):
        return finite(Decimal(value), what)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail(f"{what} is not a finite number")
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        if not _NUMBER.fullmatch(text):
            raise fail(f"{what} is {describe(value)}, not a number")
        return finite(Decimal(text), what)
    raise fail(f"{what} is {describe(value)}, not a number")


def finite(number: Decimal, what: str) -> Decimal:
    """``number`` if a float can hold it (not ``inf`` once converted), else a ProtocolError."""
    if number.adjusted() >= _FLOAT_DIGITS and not math.isfinite(float(number)):
        raise fail(f"{what} is not a finite number (too large)")
    return number


def to_int(value: object, what: str) -> int | None:
    """An integer id or count from an int, an integral float or a digit string; None for null/""."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise fail(f"{what} is {describe(value)}, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise fail(f"{what} is not an integer")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _INTEGER.fullmatch(text):
            return int(text.split(".", 1)[0])
    raise fail(f"{what} is {describe(value)}, not an integer")


def to_str(value: object, what: str, *, lines: bool = False) -> str | None:
    """Text without control characters; numbers are accepted and written out (ids are sometimes
    ints). None for null.

    Each control character becomes U+FFFD; tab and line breaks become a space unless ``lines``
    (a field of several lines, such as an order question) keeps tab and newline
    (:func:`ibtui.text.clean_text`).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value, lines=lines)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise fail(f"{what} is {describe(value)}, not text")


def to_bool(value: object, what: str) -> bool | None:
    """A boolean from true/false, 1/0 or the texts ``"true"``/``"false"``/``"1"``/``"0"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        if not text:
            return None
    raise fail(f"{what} is {describe(value)}, not a boolean")


def _epoch_plus(seconds: Decimal, what: str) -> datetime:
    try:
        return EPOCH + timedelta(seconds=float(seconds))
    except (OverflowError, ValueError):
        raise fail(f"{what} is out of range for a timestamp") from None


def from_epoch_ms(value: object, what: str) -> datetime | None:
    """An aware UTC datetime from epoch milliseconds (int, float or digit string)."""
    number = to_decimal(value, what)
    if number is None:
        return None
    if abs(number) > Decimal("1e15"):
        raise fail(f"{what} is out of range for a timestamp")
    return _epoch_plus(number / 1000, what)


def from_epoch_s(value: object, what: str) -> datetime | None:
    """An aware UTC datetime from epoch seconds (the ledger's ``timestamp``)."""
    number = to_decimal(value, what)
    if number is None:
        return None
    if abs(number) > Decimal("1e12"):
        raise fail(f"{what} is out of range for a timestamp")
    return _epoch_plus(number, what)


def to_duration_ms(value: object, what: str) -> timedelta | None:
    """A duration from milliseconds (``ssoExpires``); None for null/""."""
    number = to_decimal(value, what)
    if number is None:
        return None
    if abs(number) > Decimal("1e15"):
        raise fail(f"{what} is out of range for a duration")
    return timedelta(milliseconds=float(number))


def _strptime(value: object, fmt: str, what: str) -> datetime | None:
    text = to_str(value, what)
    if text is None or not text.strip():
        return None
    try:
        return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
    except ValueError:
        raise fail(f"{what} is {describe(text)}, not a time") from None


def from_yymmddhhmmss(value: object, what: str) -> datetime | None:
    """``"241104153012"`` (order times, UTC) → 2024-11-04 15:30:12 UTC."""
    return _strptime(value, "%y%m%d%H%M%S", what)


def from_ymd_hms(value: object, what: str) -> datetime | None:
    """``"20241104-15:31:07"`` (trades, history ``startTime``, UTC) → an aware datetime."""
    return _strptime(value, "%Y%m%d-%H:%M:%S", what)


def from_yyyymmdd(value: object, what: str) -> date | None:
    """``"20241115"`` (expiries) → a date; None for null or ``""``."""
    moment = _strptime(value, "%Y%m%d", what)
    return None if moment is None else moment.date()


# --------------------------------------------------------------------------------------------
# Objects


class Obj:
    """A JSON object being read into one model; every accessor raises ProtocolError."""

    __slots__ = ("data", "what")

    def __init__(self, value: object, what: str) -> None:
        if not isinstance(value, dict):
            raise fail(f"{what} is {describe(value)}, expected an object")
        self.data: Mapping[str, object] = value
        self.what = what

    def _name(self, key: str) -> str:
        return f"{self.what} '{key}'"

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> object:
        return self.data.get(key)

    def first(self, *keys: str) -> str | None:
        """The first of ``keys`` present with a non-null value (for renamed keys)."""
        for key in keys:
            if self.data.get(key) is not None:
                return key
        return None

    def _required(self, key: str, value: R | None) -> R:
        if value is None:
            state = "missing" if key not in self.data else "empty"
            raise fail(f"{self._name(key)} is {state}")
        return value

    def named_keys(self) -> list[tuple[str, str]]:
        """``(key, name)`` for each key: ``key`` to read with, ``name`` the key as clean text."""
        return [(key, clean_text(key)) for key in self.data]

    def req_str(self, key: str) -> str:
        return self._required(key, to_str(self.data.get(key), self._name(key)))

    def opt_str(self, key: str, *, lines: bool = False) -> str | None:
        return to_str(self.data.get(key), self._name(key), lines=lines)

    def text(self, key: str, *, lines: bool = False) -> str | None:
        """Optional text where ``""`` also means "none"."""
        value = self.opt_str(key, lines=lines)
        return value if value else None

    def html_text(self, key: str) -> str | None:
        """Optional text with HTML entities decoded (``&amp;`` → ``&``), cleaned after decoding
        (``&#27;`` is an ESC)."""
        value = self.text(key)
        return clean_text(html.unescape(value)) if value else None

    def req_int(self, key: str) -> int:
        return self._required(key, to_int(self.data.get(key), self._name(key)))

    def opt_int(self, key: str) -> int | None:
        return to_int(self.data.get(key), self._name(key))

    def req_decimal(self, key: str) -> Decimal:
        return self._required(key, to_decimal(self.data.get(key), self._name(key)))

    def opt_decimal(self, key: str) -> Decimal | None:
        return to_decimal(self.data.get(key), self._name(key))

    def flag(self, key: str, default: bool = False) -> bool:
        value = to_bool(self.data.get(key), self._name(key))
        return default if value is None else value

    def opt_flag(self, key: str) -> bool | None:
        return to_bool(self.data.get(key), self._name(key))

    def ms(self, key: str) -> datetime | None:
        return from_epoch_ms(self.data.get(key), self._name(key))

    def req_obj(self, key: str) -> Obj:
        return Obj(self.data.get(key), self._name(key))

    def opt_obj(self, key: str) -> Obj | None:
        value = self.data.get(key)
        return None if value is None else Obj(value, self._name(key))

    def items(self, key: str) -> list[object]:
        value = self.data.get(key)
        if not isinstance(value, list):
            raise fail(f"{self._name(key)} is {describe(value)}, expected a list")
        return value

    def opt_items(self, key: str) -> list[object]:
        value = self.data.get(key)
        return [] if value is None else self.items(key)

    def str_list(self, key: str, *, lines: bool = False) -> tuple[str, ...]:
        """A list of texts (numbers are written out); null or missing → ()."""
        out: list[str] = []
        for i, item in enumerate(self.opt_items(key)):
            text = to_str(item, f"{self._name(key)}[{i}]", lines=lines)
            if text is not None:
                out.append(text)
        return tuple(out)


def decode_body(body: bytes | str, endpoint: str | None = None) -> object:
    """Decode a JSON answer; ProtocolError (naming ``endpoint``) when it is not JSON."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise ProtocolError(endpoint, "the answer is not UTF-8 text") from None
    except RecursionError:
        raise ProtocolError(endpoint, "the answer is nested too deeply") from None
    except ValueError:
        raise ProtocolError(endpoint, "the answer is not valid JSON (truncated?)") from None


def as_list(value: object, what: str) -> list[object]:
    """A top-level JSON array, or ProtocolError."""
    if not isinstance(value, list):
        raise fail(f"{what} is {describe(value)}, expected a list")
    return value


def fast_init(cls: type[R]) -> Callable[..., R]:
    """``f(*values)``: ``cls(*values)``, every field given in order, for a frozen slotted
    dataclass without ``__post_init__``, at about a third of the cost of calling the class
    (:func:`ibtui.slots.constructor`): for the models parsed by the hundred a second (quotes)."""
    return constructor(cls)
