"""Enumerations shared by the models: sides, order types and states, time in force, data feed."""

from __future__ import annotations

from enum import StrEnum

from ibtui.ibkr.models._parse import describe, fail


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


class Side(StrEnum):
    """Order or execution side. IBKR spells it ``BUY``/``SELL``, ``B``/``S`` or ``Buy``/``Sell``."""

    BUY = "BUY"
    SELL = "SELL"

    @classmethod
    def parse(cls, value: object, what: str = "side") -> Side:
        if isinstance(value, str):
            key = _key(value)
            if key in ("buy", "b", "bot", "bought"):
                return cls.BUY
            if key in ("sell", "s", "sld", "sold", "sellshort", "ssh"):
                return cls.SELL
        raise fail(f"{what} is {describe(value)}, not BUY or SELL")

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """Order type as IBKR's order body spells it (``orderType``)."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STOP_LIMIT"
    MIDPRICE = "MIDPRICE"
    TRAIL = "TRAIL"
    TRAIL_LIMIT = "TRAILLMT"

    @classmethod
    def parse(cls, value: object) -> OrderType | None:
        """Normalise wire names and display texts (``"Limit"``, ``"STOP_LIMIT"``, ``"Stop Limit"``).

        Returns None for a type ibtui does not know (the display text is kept by the caller).
        """
        if not isinstance(value, str):
            return None
        return _ORDER_TYPES.get(_key(value))

    @property
    def label(self) -> str:
        """Short human label: ``Market``, ``Limit``, ``Stop``, ``Stop Limit``..."""
        return _ORDER_TYPE_LABELS[self]


_ORDER_TYPES: dict[str, OrderType] = {
    "mkt": OrderType.MARKET,
    "market": OrderType.MARKET,
    "lmt": OrderType.LIMIT,
    "limit": OrderType.LIMIT,
    "stp": OrderType.STOP,
    "stop": OrderType.STOP,
    "stoplimit": OrderType.STOP_LIMIT,
    "stplmt": OrderType.STOP_LIMIT,
    "stplimit": OrderType.STOP_LIMIT,
    "midprice": OrderType.MIDPRICE,
    "trail": OrderType.TRAIL,
    "trailingstop": OrderType.TRAIL,
    "traillmt": OrderType.TRAIL_LIMIT,
    "traillimit": OrderType.TRAIL_LIMIT,
    "trailingstoplimit": OrderType.TRAIL_LIMIT,
}
_ORDER_TYPE_LABELS: dict[OrderType, str] = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "Stop Limit",
    OrderType.MIDPRICE: "Midprice",
    OrderType.TRAIL: "Trail",
    OrderType.TRAIL_LIMIT: "Trail Limit",
}


class OrderState(StrEnum):
    """Order status (API.md §8.1). ``UNKNOWN`` keeps a list readable if IBKR adds a state."""

    INACTIVE = "Inactive"
    PENDING_SUBMIT = "PendingSubmit"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    FILLED = "Filled"
    PENDING_CANCEL = "PendingCancel"
    CANCELLED = "Cancelled"
    WARN_STATE = "WarnState"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> OrderState:
        """``"PreSubmitted"``, ``"pre_submitted"``, ``"ApiCancelled"``... → a state (no errors)."""
        if not isinstance(value, str):
            return cls.UNKNOWN
        return _ORDER_STATES.get(_key(value), cls.UNKNOWN)

    @property
    def is_working(self) -> bool:
        """Still live at IBKR (can fill, can be cancelled)."""
        return self in (
            OrderState.PENDING_SUBMIT,
            OrderState.PRE_SUBMITTED,
            OrderState.SUBMITTED,
            OrderState.PENDING_CANCEL,
            OrderState.WARN_STATE,
        )

    @property
    def is_done(self) -> bool:
        """Final: filled, cancelled or inactive."""
        return self in (OrderState.FILLED, OrderState.CANCELLED, OrderState.INACTIVE)


_ORDER_STATES: dict[str, OrderState] = {
    "inactive": OrderState.INACTIVE,
    "pendingsubmit": OrderState.PENDING_SUBMIT,
    "apipending": OrderState.PENDING_SUBMIT,
    "presubmitted": OrderState.PRE_SUBMITTED,
    "submitted": OrderState.SUBMITTED,
    "filled": OrderState.FILLED,
    "pendingcancel": OrderState.PENDING_CANCEL,
    "cancelled": OrderState.CANCELLED,
    "canceled": OrderState.CANCELLED,
    "apicancelled": OrderState.CANCELLED,
    "warnstate": OrderState.WARN_STATE,
}


class TimeInForce(StrEnum):
    """``tif`` values an order can be sent with."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    OPG = "OPG"
    PAX = "PAX"


class DataAvailability(StrEnum):
    """First character of snapshot field ``6509`` (market data availability)."""

    REALTIME = "R"
    DELAYED = "D"
    FROZEN = "Z"
    FROZEN_DELAYED = "Y"
    NOT_SUBSCRIBED = "N"
    ACK_MISSING = "O"

    @classmethod
    def parse(cls, code: str | None) -> DataAvailability | None:
        """``"RpB"`` → REALTIME; None for a missing or unknown code."""
        if not code:
            return None
        try:
            return cls(code[0])
        except ValueError:
            return None

    @property
    def label(self) -> str:
        return _AVAILABILITY_LABELS[self]


_AVAILABILITY_LABELS: dict[DataAvailability, str] = {
    DataAvailability.REALTIME: "real-time",
    DataAvailability.DELAYED: "delayed",
    DataAvailability.FROZEN: "frozen",
    DataAvailability.FROZEN_DELAYED: "frozen delayed",
    DataAvailability.NOT_SUBSCRIBED: "not subscribed",
    DataAvailability.ACK_MISSING: "market data API not acknowledged",
}
