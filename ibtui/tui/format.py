"""Numbers and durations as a trader reads them: thousands separators, signs, sensible precision.

Every function takes a ``Decimal`` (or None, shown as an em dash) and returns plain text; colour
is the widgets' business.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = [
    "MISSING",
    "fmt_age",
    "fmt_duration",
    "fmt_money",
    "fmt_pct",
    "fmt_price",
    "fmt_quantity",
    "price_decimals",
]

MISSING = "—"


# The quanta and format specs of the usual numbers of decimals, made once (a tick formats a few
# hundred numbers).
_QUANTA = tuple(Decimal(1).scaleb(-decimals) for decimals in range(10))
_SPECS = (
    tuple(f",.{decimals}f" for decimals in range(10)),
    tuple(f"+,.{decimals}f" for decimals in range(10)),
)


def _quantize(value: Decimal, decimals: int) -> Decimal:
    quantum = _QUANTA[decimals] if 0 <= decimals < 10 else Decimal(1).scaleb(-decimals)
    return value.quantize(quantum, rounding=ROUND_HALF_EVEN)


def _grouped(value: Decimal, decimals: int, *, signed: bool) -> str:
    q = _quantize(value, decimals)
    if q.is_zero():
        q, signed = abs(q), False  # "0.00", never "-0.00" or "+0.00"
    if 0 <= decimals < 10:
        return format(q, _SPECS[signed][decimals])
    return format(q, f"{'+' if signed else ''},.{decimals}f")


def fmt_money(value: Decimal | None, *, signed: bool = False, decimals: int = 2) -> str:
    """``1,234,567.89``; with ``signed``, ``+1,234.50`` / ``-12.00`` (zero stays unsigned)."""
    if value is None:
        return MISSING
    return _grouped(value, decimals, signed=signed)


def price_decimals(value: Decimal) -> int:
    """Decimals worth showing for a price: 2 from 100 up, up to 4 from 1 up, up to 6 below 1.

    Trailing zeros do not count: ``185.17599485`` shows ``185.18``, ``1.08345`` ``1.0834``,
    ``0.0123456`` ``0.012346``, ``12.5`` ``12.50``.
    """
    exponent = value.normalize().as_tuple().exponent
    given = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    magnitude = abs(value)
    cap = 2 if magnitude >= 100 else 4 if magnitude >= 1 else 6
    return max(2, min(given, cap))


def fmt_price(value: Decimal | None, decimals: int | None = None) -> str:
    """A price with thousands separators: ``1,234.50``, ``0.012345``, ``1.0834``."""
    if value is None:
        return MISSING
    return _grouped(value, price_decimals(value) if decimals is None else decimals, signed=False)


def fmt_quantity(value: Decimal | None) -> str:
    """Whole quantities without decimals (``-1,200``); fractional ones with up to 4 (``0.5``)."""
    if value is None:
        return MISSING
    if value == value.to_integral_value():
        return _grouped(value, 0, signed=False)
    text = _grouped(value, 4, signed=False).rstrip("0")
    return text.rstrip(".")


def fmt_pct(value: Decimal | None, *, signed: bool = True) -> str:
    """A percentage with two decimals and a sign: ``+1.25%``, ``-0.40%``, ``0.00%``."""
    if value is None:
        return MISSING
    return fmt_money(value, signed=signed) + "%"


def fmt_duration(seconds: float | None) -> str:
    """Time left, coarse: ``8h 59m``, ``4m 05s``, ``12s``, ``expired``."""
    if seconds is None:
        return MISSING
    if seconds <= 0:
        return "expired"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def fmt_age(seconds: float | None) -> str:
    """How old something is: ``0s``, ``12s``, ``3m 04s``, ``2h 10m`` (never negative)."""
    if seconds is None:
        return MISSING
    whole = max(0, int(seconds))
    if whole == 0:
        return "0s"
    return fmt_duration(whole)
