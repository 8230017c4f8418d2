"""Market data: snapshot quotes (API.md §5). Historical bars (§6) are in
:mod:`ibtui.ibkr.models.history`, imported when a chart first asks for them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Self, TypeVar, cast

from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.models._parse import (
    Obj,
    as_list,
    describe,
    fail,
    fast_init,
    finite,
    from_epoch_ms,
    guarded,
    to_decimal,
    to_str,
)
from ibtui.ibkr.models.enums import DataAvailability
from ibtui.text import clean_text

_log = logging.getLogger(__name__)
_V = TypeVar("_V")
_UNPARSED: set[tuple[str, int]] = set()  # (field, conid) already logged
_UNPARSED_LIMIT = 10_000  # a bound on the memory of what was logged

# Snapshot field codes (API.md §5.2).
F_LAST = "31"
F_SYMBOL = "55"
F_HIGH = "70"
F_LOW = "71"
F_CHANGE = "82"
F_CHANGE_PCT = "83"
F_BID = "84"
F_ASK_SIZE = "85"
F_ASK = "86"
F_VOLUME = "87"
F_VOLUME_RAW = "87_raw"
F_BID_SIZE = "88"
F_AVAILABILITY = "6509"
F_LAST_SIZE = "7059"
F_OPEN = "7295"
F_CLOSE = "7296"
F_PRIOR_CLOSE = "7741"
F_MARK = "7635"
F_VOLUME_EXACT = "7762"
F_DAILY_PNL = "7920"  # the held (or closed today) position's P&L of the day, raw

QUOTE_FIELDS: tuple[str, ...] = (
    F_LAST,
    F_SYMBOL,
    F_BID,
    F_ASK,
    F_BID_SIZE,
    F_ASK_SIZE,
    F_LAST_SIZE,
    F_VOLUME,
    F_VOLUME_EXACT,
    F_CHANGE,
    F_CHANGE_PCT,
    F_HIGH,
    F_LOW,
    F_OPEN,
    F_CLOSE,
    F_PRIOR_CLOSE,
    F_MARK,
    F_DAILY_PNL,
    F_AVAILABILITY,
)
"""The ``fields`` to request so that every Quote attribute can be filled."""

_DATA_FIELDS = frozenset(QUOTE_FIELDS) - {F_SYMBOL, F_AVAILABILITY, F_DAILY_PNL} | {F_VOLUME_RAW}
_NO_VALUE = (None, "", "Undefined", ".", "-")  # what IBKR sends for "no value yet"
_SUFFIX = re.compile(r"(.+?)\s*([KMBT])", re.IGNORECASE)
_MULTIPLIERS = {"K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def _lenient(conid: int, code: str, parse: Callable[[], _V]) -> _V | None:
    """``parse()``, or None (the field is missing) when IBKR sent a value that does not parse:
    its placeholders ("Undefined", ".", "-") must not cost the row or the batch. Logged once
    per field and conid, not per tick."""
    try:
        return parse()
    except ProtocolError as exc:
        key = (code, conid)
        if key not in _UNPARSED and len(_UNPARSED) < _UNPARSED_LIMIT:
            _UNPARSED.add(key)
            _log.warning("snapshot field %s of conid %s left out: %s", code, conid, exc)
        return None


def parse_price(value: object, what: str = "price") -> tuple[Decimal | None, str | None]:
    """A snapshot price string → (price, prefix).

    The prefix is ``"C"`` when the value is the prior close (no trade yet today, or the market is
    closed) and ``"H"`` when trading is halted (API.md §5.2); otherwise None.
    """
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("C", "H", "c", "h"):
            return to_decimal(text[1:], what), text[0].upper()
    return to_decimal(value, what), None


def parse_volume(value: object, what: str = "volume") -> Decimal | None:
    """``"41.8M"`` → 41800000, ``"850K"`` → 850000, ``"1,300"`` → 1300, numbers as they are."""
    if isinstance(value, str):
        match = _SUFFIX.fullmatch(value.strip())
        if match:
            number = to_decimal(match.group(1), what)
            if number is None:
                raise fail(f"{what} is {describe(value)}, not a volume")
            return finite(number * _MULTIPLIERS[match.group(2).upper()], what)
    return to_decimal(value, what)


def parse_percent(value: object, what: str = "percent") -> Decimal | None:
    """``"-0.24"`` or ``"-0.24%"`` → Decimal("-0.24") (percent points)."""
    if isinstance(value, str):
        value = value.strip().removesuffix("%")
    return to_decimal(value, what)


@dataclass(frozen=True, slots=True)
class Quote:
    """One instrument's snapshot (or a merged WebSocket ``smd`` stream).

    Every value IBKR did not send is None, never 0. ``is_close`` is true when ``last`` is the
    prior close (``C`` prefix), ``halted`` when it came with an ``H`` prefix. ``volume`` is the
    day volume in shares: the exact field ``7762`` (or ``87_raw``) when present, otherwise the
    K/M-formatted ``87``. Sizes are shares as IBKR shows them (⚠ US sizes may be in lots of 100).

    Warm-up: the first snapshot of a conid only opens the stream and carries no values. Such a
    row parses to a Quote with ``is_warmup=True`` and every value None; ask again shortly.
    """

    conid: int
    symbol: str | None = None
    last: Decimal | None = None
    is_close: bool = False
    halted: bool = False
    bid: Decimal | None = None
    ask: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    last_size: Decimal | None = None
    volume: Decimal | None = None
    change: Decimal | None = None
    change_pct: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    open: Decimal | None = None
    close: Decimal | None = None
    prior_close: Decimal | None = None
    mark: Decimal | None = None
    daily_pnl: Decimal | None = None  # only for a position of the selected account
    availability: DataAvailability | None = None
    availability_code: str | None = None
    updated: datetime | None = None
    is_warmup: bool = False

    @property
    def mid(self) -> Decimal | None:
        """Midpoint of bid and ask when both exist."""
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2

    @property
    def is_delayed(self) -> bool:
        return self.availability in (DataAvailability.DELAYED, DataAvailability.FROZEN_DELAYED)

    def merge(self, update: Quote) -> Quote:
        """This quote with every value ``update`` carries (WebSocket deltas send changes only):
        ``is_close`` and ``halted`` go with ``last``; a warm-up only while both are."""
        if update.conid != self.conid:
            raise ValueError("cannot merge quotes of different contracts")
        merged = [
            new if new is not None else old
            for new, old in zip(_every_value(update), _every_value(self), strict=True)
        ]
        if update.last is None:  # the prefix flags belong to the last price they came with
            merged[_IS_CLOSE] = self.is_close
            merged[_HALTED] = self.halted
        merged[_IS_WARMUP] = self.is_warmup and update.is_warmup
        return _new_quote(*merged)  # a stream merges one per frame: without the class's __init__

    @classmethod
    @guarded("snapshot row")
    def from_json(cls, data: object) -> Self:
        """One snapshot row. The common row (an object with an integer ``conid``) is read by
        :func:`_quote_from_row`, any other by :func:`reference_quote`; both give the same
        Quote for the same row (a property test holds them to it)."""
        if isinstance(data, dict):
            conid = data.get("conid")
            if type(conid) is int:
                return cast(Self, _quote_from_row(data, conid))
        return cast(Self, reference_quote(data))


@guarded("snapshot row")
def reference_quote(data: object) -> Quote:
    """One snapshot row read field by field through the public readers (:func:`parse_price`,
    :func:`parse_volume`, :func:`parse_percent`, :func:`to_decimal`), each in :func:`_lenient`:
    the plain statement of what a row means. :meth:`Quote.from_json` reads rows with it when
    they are not the common shape; the fast path must agree with it (property tests), and the
    snapshot benchmark sets its cost beside the fast path's."""
    o = Obj(data, "snapshot row")
    conid = o.req_int("conid")

    def price(code: str) -> Decimal | None:
        return _lenient(
            conid, code, lambda: parse_price(o.raw(code), f"snapshot {conid} field {code}")[0]
        )

    def volume(code: str) -> Decimal | None:
        return _lenient(
            conid, code, lambda: parse_volume(o.raw(code), f"snapshot {conid} field {code}")
        )

    last, prefix = _lenient(
        conid,
        F_LAST,
        lambda: parse_price(o.raw(F_LAST), f"snapshot {conid} field {F_LAST}"),
    ) or (None, None)
    exact_volume = volume(F_VOLUME_EXACT)
    if exact_volume is None:
        exact_volume = volume(F_VOLUME_RAW)
    code = o.text(F_AVAILABILITY)
    return Quote(
        conid=conid,
        symbol=o.text(F_SYMBOL),
        last=last,
        is_close=prefix == "C",
        halted=prefix == "H",
        bid=price(F_BID),
        ask=price(F_ASK),
        bid_size=volume(F_BID_SIZE),
        ask_size=volume(F_ASK_SIZE),
        last_size=volume(F_LAST_SIZE),
        volume=exact_volume if exact_volume is not None else volume(F_VOLUME),
        change=price(F_CHANGE),
        change_pct=_lenient(
            conid,
            F_CHANGE_PCT,
            lambda: parse_percent(o.raw(F_CHANGE_PCT), f"snapshot {conid} field 83"),
        ),
        high=price(F_HIGH),
        low=price(F_LOW),
        open=price(F_OPEN),
        close=price(F_CLOSE),
        prior_close=price(F_PRIOR_CLOSE),
        mark=price(F_MARK),
        daily_pnl=_lenient(
            conid,
            F_DAILY_PNL,
            lambda: to_decimal(o.raw(F_DAILY_PNL), f"snapshot {conid} field {F_DAILY_PNL}"),
        ),
        availability=DataAvailability.parse(code),
        availability_code=code,
        updated=o.ms("_updated"),
        is_warmup=not any(o.raw(key) not in _NO_VALUE for key in _DATA_FIELDS),
    )


# --------------------------------------------------------------------------------------------
# The fast path: a snapshot answer is a hundred rows of a dozen number fields, every second or
# two. The spellings IBKR sends ("222.91", "-0.54", "C222.01", "1,300", "", its placeholders)
# are read here without a regular expression, an exception or a closure per field; anything
# else goes to the reader above, whose answer it then is.


class _Miss(Enum):
    """Not a spelling the fast path reads: ask the reference reader."""

    SLOW = 0


_SLOW = _Miss.SLOW
_PLACEHOLDERS = frozenset(v for v in _NO_VALUE if v)  # texts that are "no value" and no number
_PREFIXES = {"C": "C", "H": "H", "c": "C", "h": "H"}
_FAST_DIGITS = 308  # a plain number of at most this many characters is finite as a float
_FAST_MS = 4_000_000_000_000  # epoch ms (year 2096): under 2**32 seconds
_AVAILABILITY = {member.value: member for member in DataAvailability}
_ROW = "snapshot row"
# the last price first: a live row has one, and the warm-up test stops at the first value
_DATA_KEYS = (F_LAST, *sorted(_DATA_FIELDS - {F_LAST}))


def _plain(text: str) -> Decimal | _Miss | None:
    """``text`` as :func:`to_decimal` reads it when it is ``""`` or a plain number (digits with
    at most one point, an optional leading minus, thousands commas anywhere); _SLOW otherwise.

    Such a text is one the reference's pattern accepts, and a float holds it (at most 308
    digits, no exponent): all that is left is making the Decimal (which reads any Unicode
    decimal digit, as the pattern's ``\\d`` does)."""
    if text.replace(".", "", 1).isdecimal() and len(text) <= _FAST_DIGITS:
        return Decimal(text)
    if text[:1] == "-" and text[1:].replace(".", "", 1).isdecimal() and len(text) <= _FAST_DIGITS:
        return Decimal(text)
    if not text:
        return None
    if "," in text:
        return _plain(text.replace(",", ""))
    return _SLOW


def _logged(value: str, code: str, conid: int) -> bool:
    """True for a placeholder already logged for this field and conid (or when the log's
    memory is full): it is left out as the reference reader would leave it, without raising."""
    return value in _PLACEHOLDERS and (
        (code, conid) in _UNPARSED or len(_UNPARSED) >= _UNPARSED_LIMIT
    )


def _last(value: object, conid: int) -> tuple[Decimal | None, str | None]:
    """Field 31: the price and its ``C`` or ``H`` prefix, as :func:`parse_price` reads it."""
    if type(value) is str:
        number = _plain(value)
        if number is not _SLOW:
            return number, None
        prefix = _PREFIXES.get(value[:1])
        if prefix is not None:
            number = _plain(value[1:])
            if number is not _SLOW:
                return number, prefix
        if _logged(value, F_LAST, conid):
            return None, None
    elif value is None:
        return None, None
    return _lenient(
        conid, F_LAST, lambda: parse_price(value, f"snapshot {conid} field {F_LAST}")
    ) or (None, None)


def _first_price(value: object, what: str) -> Decimal | None:
    """``parse_price(value)[0]``: the price without its prefix."""
    return parse_price(value, what)[0]


def _number(
    value: object,
    conid: int,
    code: str,
    read: Callable[[object, str], Decimal | None],
    prefixed: bool = False,
) -> Decimal | None:
    """A price, size, volume, percent or amount field, as ``read`` (:func:`_first_price`,
    :func:`parse_volume`, :func:`parse_percent` or :func:`to_decimal`) reads it: a plain number
    reads the same way in each; ``prefixed``, a price, may also stand behind a ``C`` or ``H``."""
    if type(value) is str:
        if value.replace(".", "", 1).isdecimal() and len(value) <= _FAST_DIGITS:
            return Decimal(value)  # the common case of _plain, without the call
        number = _plain(value)
        if number is not _SLOW:
            return number
        if prefixed and value[:1] in _PREFIXES:
            number = _plain(value[1:])
            if number is not _SLOW:
                return number
        if _logged(value, code, conid):
            return None
    elif value is None:
        return None
    return _lenient(conid, code, lambda: read(value, f"snapshot {conid} field {code}"))


def _text(value: object, key: str) -> str | None:
    """``Obj.text(key)``: clean text, None for null or ``""``."""
    if type(value) is str:
        return clean_text(value) or None
    return to_str(value, f"{_ROW} '{key}'") or None


_new_quote = fast_init(Quote)
_NAMES = tuple(f.name for f in fields(Quote))
_every_value = attrgetter(*_NAMES)  # a Quote's values, in the order of its fields
_IS_CLOSE, _HALTED, _IS_WARMUP = (_NAMES.index(n) for n in ("is_close", "halted", "is_warmup"))


def _quote_from_row(data: dict[str, object], conid: int) -> Quote:
    """:func:`reference_quote` for a row that is an object with an integer ``conid``."""
    get = data.get
    last, prefix = _last(get(F_LAST), conid)
    volume = _number(get(F_VOLUME_EXACT), conid, F_VOLUME_EXACT, parse_volume)
    if volume is None:
        volume = _number(get(F_VOLUME_RAW), conid, F_VOLUME_RAW, parse_volume)
        if volume is None:
            volume = _number(get(F_VOLUME), conid, F_VOLUME, parse_volume)
    code = _text(get(F_AVAILABILITY), F_AVAILABILITY)
    warmup = True
    for key in _DATA_KEYS:
        if get(key) not in _NO_VALUE:
            warmup = False
            break
    return _new_quote(  # the arguments in the reference's order, so the same error comes first
        conid,
        _text(get(F_SYMBOL), F_SYMBOL),
        last,
        prefix == "C",
        prefix == "H",
        _number(get(F_BID), conid, F_BID, _first_price, True),
        _number(get(F_ASK), conid, F_ASK, _first_price, True),
        _number(get(F_BID_SIZE), conid, F_BID_SIZE, parse_volume),
        _number(get(F_ASK_SIZE), conid, F_ASK_SIZE, parse_volume),
        _number(get(F_LAST_SIZE), conid, F_LAST_SIZE, parse_volume),
        volume,
        _number(get(F_CHANGE), conid, F_CHANGE, _first_price, True),
        _number(get(F_CHANGE_PCT), conid, F_CHANGE_PCT, parse_percent),
        _number(get(F_HIGH), conid, F_HIGH, _first_price, True),
        _number(get(F_LOW), conid, F_LOW, _first_price, True),
        _number(get(F_OPEN), conid, F_OPEN, _first_price, True),
        _number(get(F_CLOSE), conid, F_CLOSE, _first_price, True),
        _number(get(F_PRIOR_CLOSE), conid, F_PRIOR_CLOSE, _first_price, True),
        _number(get(F_MARK), conid, F_MARK, _first_price, True),
        _number(get(F_DAILY_PNL), conid, F_DAILY_PNL, to_decimal),
        _AVAILABILITY.get(code[0]) if code else None,
        code,
        _updated(get("_updated")),
        warmup,
    )


def _updated(stamp: object) -> datetime | None:
    """``_updated`` (epoch ms) as :func:`from_epoch_ms` reads it. Below 2**32 seconds the
    float ``stamp / 1000`` (the reference's, correctly rounded) is within half a microsecond
    of the exact milliseconds, so both ways of making the datetime land on them."""
    if type(stamp) is int and 0 <= stamp < _FAST_MS:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return from_epoch_ms(stamp, f"{_ROW} '_updated'")


@guarded("snapshot")
def parse_snapshot(data: object) -> tuple[Quote, ...]:
    """``GET /iserver/marketdata/snapshot`` → one Quote per row (warm-up rows included)."""
    return tuple(Quote.from_json(row) for row in as_list(data, "snapshot"))


# --------------------------------------------------------------------------------------------
# A pushed frame merged straight into the conid's last quote: IBKR's ``smd`` frames carry the
# few fields that changed (a dozen of the thirty), a hundred a second. Only the fields present
# are read (each by the fast path's reader of that field), over a copy of the known quote's
# values; the update is never made as a Quote of its own.

_INDEX = {name: i for i, name in enumerate(_NAMES)}
_LAST_AT, _VOLUME_AT = _INDEX["last"], _INDEX["volume"]
_SYMBOL_AT, _UPDATED_AT = _INDEX["symbol"], _INDEX["updated"]
_AVAILABILITY_AT, _CODE_AT = _INDEX["availability"], _INDEX["availability_code"]
_VOLUME_KEYS = frozenset((F_VOLUME_EXACT, F_VOLUME_RAW, F_VOLUME))
# code → (index of the Quote's value, reader, a price that may carry a C or H prefix)
_NUMBERS: dict[str, tuple[int, Callable[[object, str], Decimal | None], bool]] = {
    F_BID: (_INDEX["bid"], _first_price, True),
    F_ASK: (_INDEX["ask"], _first_price, True),
    F_BID_SIZE: (_INDEX["bid_size"], parse_volume, False),
    F_ASK_SIZE: (_INDEX["ask_size"], parse_volume, False),
    F_LAST_SIZE: (_INDEX["last_size"], parse_volume, False),
    F_CHANGE: (_INDEX["change"], _first_price, True),
    F_CHANGE_PCT: (_INDEX["change_pct"], parse_percent, False),
    F_HIGH: (_INDEX["high"], _first_price, True),
    F_LOW: (_INDEX["low"], _first_price, True),
    F_OPEN: (_INDEX["open"], _first_price, True),
    F_CLOSE: (_INDEX["close"], _first_price, True),
    F_PRIOR_CLOSE: (_INDEX["prior_close"], _first_price, True),
    F_MARK: (_INDEX["mark"], _first_price, True),
    F_DAILY_PNL: (_INDEX["daily_pnl"], to_decimal, False),
}
# what else a row may carry that a Quote reads (the rest of a frame is left alone)
_OTHER_KEYS = frozenset((F_LAST, F_SYMBOL, F_AVAILABILITY, "_updated")) | _VOLUME_KEYS


def merge_row(known: Quote, data: dict[str, object]) -> Quote:
    """``known.merge(Quote.from_json(data))`` for a row (a pushed frame) of ``known``'s conid,
    an integer: what the row carries over the quote known. Raises what ``from_json`` raises
    for a row that does not parse (or another error: the caller then asks ``from_json``). A
    property test holds it to the reference."""
    conid = known.conid
    values = list(_every_value(known))
    volume = False
    numbers = _NUMBERS.get
    for key, value in data.items():
        spec = numbers(key)
        if spec is not None:
            if (
                type(value) is str
                and value.replace(".", "", 1).isdecimal()
                and len(value) <= _FAST_DIGITS
            ):
                values[spec[0]] = Decimal(value)  # the common case of _number, without the call
                continue
            index, read, prefixed = spec
            number = _number(value, conid, key, read, prefixed)
            if number is not None:
                values[index] = number
        elif key in _OTHER_KEYS:
            if key == F_LAST:
                if (
                    type(value) is str
                    and value.replace(".", "", 1).isdecimal()
                    and len(value) <= _FAST_DIGITS
                ):  # the common case of _last, without the calls
                    values[_LAST_AT] = Decimal(value)
                    values[_IS_CLOSE] = values[_HALTED] = False
                    continue
                last, prefix = _last(value, conid)
                if last is not None:  # the prefix flags go with the last price
                    values[_LAST_AT] = last
                    values[_IS_CLOSE] = prefix == "C"
                    values[_HALTED] = prefix == "H"
            elif key == "_updated":
                updated = _updated(value)
                if updated is not None:
                    values[_UPDATED_AT] = updated
            elif key == F_SYMBOL:
                symbol = _text(value, F_SYMBOL)
                if symbol is not None:
                    values[_SYMBOL_AT] = symbol
            elif key == F_AVAILABILITY:
                code = _text(value, F_AVAILABILITY)
                if code is not None:
                    values[_CODE_AT] = code
                    availability = _AVAILABILITY.get(code[0])
                    if availability is not None:
                        values[_AVAILABILITY_AT] = availability
            else:
                volume = True
    if volume:  # the exact day volume first, as _quote_from_row reads it
        get = data.get
        number = _number(get(F_VOLUME_EXACT), conid, F_VOLUME_EXACT, parse_volume)
        if number is None:
            number = _number(get(F_VOLUME_RAW), conid, F_VOLUME_RAW, parse_volume)
            if number is None:
                number = _number(get(F_VOLUME), conid, F_VOLUME, parse_volume)
        if number is not None:
            values[_VOLUME_AT] = number
    if known.is_warmup:  # a warm-up only while the row is one too
        get = data.get
        for key in _DATA_KEYS:
            if get(key) not in _NO_VALUE:
                values[_IS_WARMUP] = False
                break
    return _new_quote(*values)
