"""Market data: snapshot quotes (API.md §5). Historical bars (§6) are in
:mod:`ibtui.ibkr.models.history`, imported when a chart first asks for them."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Self, TypeVar

from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.models._parse import (
    Obj,
    as_list,
    describe,
    fail,
    finite,
    guarded,
    to_decimal,
)
from ibtui.ibkr.models.enums import DataAvailability

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
        """This quote with every value ``update`` carries (WebSocket deltas send changes only)."""
        if update.conid != self.conid:
            raise ValueError("cannot merge quotes of different contracts")
        changes: dict[str, object] = {}
        for f in fields(self):
            if f.name in ("conid", "is_close", "halted", "is_warmup"):
                continue
            value = getattr(update, f.name)
            if value is not None:
                changes[f.name] = value
        if update.last is not None:
            changes["is_close"] = update.is_close
            changes["halted"] = update.halted
        changes["is_warmup"] = self.is_warmup and update.is_warmup
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    @guarded("snapshot row")
    def from_json(cls, data: object) -> Self:
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
        return cls(
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


@guarded("snapshot")
def parse_snapshot(data: object) -> tuple[Quote, ...]:
    """``GET /iserver/marketdata/snapshot`` → one Quote per row (warm-up rows included)."""
    return tuple(Quote.from_json(row) for row in as_list(data, "snapshot"))
