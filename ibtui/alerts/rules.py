"""Alerts as data, and the one rule that decides when one fires (no Textual, no I/O).

An :class:`Alert` watches one value of one instrument: its last price (``above``, ``below``,
``crosses``), its move on the day from the prior close in percent (``move_pct``, either way), the
unrealized P&L of the account's position in it (``pnl_above``, ``pnl_below``), or its fills
(``fill``; without an instrument, any fill). :class:`AlertBook` holds the alerts and is fed the
same values the console shows; each feed returns the :class:`Firing` s it caused.

Hysteresis: an alert that fired is *disarmed* and fires again (a repeating one) only after the
value has gone back past its level by the re-arm margin (:func:`rearm_margin`: a fraction of the
level, at least one cent), so a price that hovers around the level fires once per crossing, not
once per tick. ``crosses`` fires on the first crossing at the level itself; each later crossing
(the other way) must go past the level by the margin. A one-shot alert is *done* after it fires;
resuming it arms it again. A fill is an event, not a level: each fill the order watch reports
fires once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final, Literal, get_args

from ibtui.text import clean_text

__all__ = [
    "DEFAULT_REARM_PCT",
    "KINDS",
    "KIND_NAMES",
    "MIN_MARGIN",
    "Alert",
    "AlertBook",
    "Firing",
    "Kind",
    "describe",
    "new_alert",
    "rearm_margin",
]

Kind = Literal["above", "below", "crosses", "move_pct", "pnl_above", "pnl_below", "fill"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
KIND_NAMES: Final[dict[Kind, str]] = {
    "above": "price above",
    "below": "price below",
    "crosses": "price crosses",
    "move_pct": "% move on the day",
    "pnl_above": "unrealized P&L above",
    "pnl_below": "unrealized P&L below",
    "fill": "a fill",
}
PRICE_KINDS: Final = frozenset({"above", "below", "crosses"})
PNL_KINDS: Final = frozenset({"pnl_above", "pnl_below"})
DEFAULT_REARM_PCT: Final = Decimal("0.1")  # of the level
MIN_MARGIN: Final = Decimal("0.01")  # a cent (or a hundredth of a percent point)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert and where it stands. ``conid`` None (and ``symbol`` empty) only for a fill
    alert on any instrument; ``level`` None only for a fill alert."""

    id: str
    kind: Kind
    symbol: str
    conid: int | None
    level: Decimal | None = None
    repeat: bool = False
    paused: bool = False
    armed: bool = True  # False after it fired, until the value goes back past the level
    side: int = 0  # crosses: +1 at or above the level, -1 below, 0 not seen yet
    done: bool = False  # a one-shot that fired
    fired: int = 0  # how many times it fired

    @property
    def active(self) -> bool:
        return not self.paused and not self.done

    @property
    def status(self) -> str:
        if self.done:
            return "fired"
        if self.paused:
            return "paused"
        return "armed" if self.armed else "waiting to re-arm"

    def reset(self) -> Alert:
        """Armed afresh (after an edit, or a one-shot resumed)."""
        return replace(self, armed=True, side=0, done=False)


@dataclass(frozen=True, slots=True)
class Firing:
    """An alert that fired: the alert as it is after firing, the value and what to tell."""

    alert: Alert
    value: Decimal | None
    text: str


def new_alert(
    kind: Kind,
    symbol: str,
    conid: int | None,
    level: Decimal | None,
    *,
    repeat: bool = False,
) -> Alert:
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    if kind != "fill" and (level is None or conid is None):
        raise ValueError(f"a {KIND_NAMES[kind]} alert needs an instrument and a level")
    if level is not None and not level.is_finite():
        raise ValueError("the level must be a number")
    return Alert(secrets.token_hex(4), kind, clean_text(symbol), conid, level, repeat=repeat)


def rearm_margin(level: Decimal, rearm_pct: Decimal = DEFAULT_REARM_PCT) -> Decimal:
    """How far past its level the value must go back before a fired alert re-arms."""
    return max(abs(level) * rearm_pct / 100, MIN_MARGIN)


def _number(value: Decimal) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 or value.is_zero() else f"{value:,.4f}"


def _percent(value: Decimal) -> str:
    """``0.80%``: two places, more only when the level was set with more."""
    exponent = value.normalize().as_tuple().exponent  # an int for a finite value
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:,.{places}f}%"


def describe(alert: Alert) -> str:
    """``AAPL price above 215.00`` (plain text: shown in lists, toasts, the journal)."""
    what = alert.symbol or "any instrument"
    if alert.kind == "fill":
        return f"a fill of {alert.symbol}" if alert.symbol else "any fill"
    assert alert.level is not None
    level = _percent(alert.level) if alert.kind == "move_pct" else _number(alert.level)
    return f"{what} {KIND_NAMES[alert.kind]} {level}"


def _step(alert: Alert, value: Decimal, rearm_pct: Decimal) -> tuple[Alert, bool]:
    """The alert after seeing ``value``, and whether it fires now."""
    assert alert.level is not None
    level = alert.level
    if alert.kind == "move_pct":
        value, level = abs(value), abs(level)
    margin = rearm_margin(level, rearm_pct)
    if alert.kind == "crosses":
        if alert.side == 0:  # the first value says which side it starts on
            return replace(alert, side=1 if value >= level else -1), False
        if alert.side < 0:
            crossed = value >= (level if alert.armed else level + margin)
            return (replace(alert, side=1, armed=False), True) if crossed else (alert, False)
        crossed = value < level if alert.armed else value <= level - margin
        return (replace(alert, side=-1, armed=False), True) if crossed else (alert, False)
    upward = alert.kind in ("above", "pnl_above", "move_pct")
    if alert.armed:
        hit = value >= level if upward else value <= level
        return (replace(alert, armed=False), True) if hit else (alert, False)
    back = value <= level - margin if upward else value >= level + margin
    return (replace(alert, armed=True), False) if back else (alert, False)


def _fired_text(alert: Alert, value: Decimal) -> str:
    assert alert.level is not None
    level = _number(alert.level)
    symbol = alert.symbol
    match alert.kind:
        case "above":
            return f"{symbol} is above {level}: last {_number(value)}"
        case "below":
            return f"{symbol} is below {level}: last {_number(value)}"
        case "crosses":
            way = "up" if alert.side > 0 else "down"
            return f"{symbol} crossed {level} going {way}: last {_number(value)}"
        case "move_pct":
            return f"{symbol} moved {value:+.2f}% on the day (alert at {_percent(alert.level)})"
        case "pnl_above":
            return f"{symbol} unrealized P&L {_number(value)} is above {level}"
        case _:
            return f"{symbol} unrealized P&L {_number(value)} is below {level}"


class AlertBook:
    """The alerts, in the order they were set, fed the values the console shows."""

    def __init__(
        self, alerts: Iterable[Alert] = (), *, rearm_pct: Decimal = DEFAULT_REARM_PCT
    ) -> None:
        self.alerts: list[Alert] = list(alerts)
        self.rearm_pct = rearm_pct
        self.changed = False  # set by every change worth saving (read and cleared by the owner)

    def __iter__(self) -> Iterator[Alert]:
        return iter(self.alerts)

    def __len__(self) -> int:
        return len(self.alerts)

    def get(self, alert_id: str) -> Alert | None:
        return next((a for a in self.alerts if a.id == alert_id), None)

    def add(self, alert: Alert) -> None:
        self.alerts.append(alert)
        self.changed = True

    def update(self, alert: Alert) -> None:
        """Put ``alert`` in the place of the one with its id (armed afresh: it was edited)."""
        self._put(alert.reset())

    def remove(self, alert_id: str) -> None:
        self.alerts = [a for a in self.alerts if a.id != alert_id]
        self.changed = True

    def set_paused(self, alert_id: str, paused: bool) -> None:
        alert = self.get(alert_id)
        if alert is not None:
            resumed = alert.reset() if alert.done and not paused else alert
            self._put(replace(resumed, paused=paused))

    def conids(self) -> list[int]:
        """The instruments whose prices the active alerts need (each once)."""
        return list(
            dict.fromkeys(
                a.conid
                for a in self.alerts
                if a.active and a.conid is not None and a.kind != "fill"
            )
        )

    def _put(self, alert: Alert) -> None:
        self.alerts = [alert if a.id == alert.id else a for a in self.alerts]
        self.changed = True

    def _feed(self, kinds: frozenset[str], conid: int, value: Decimal) -> list[Firing]:
        firings: list[Firing] = []
        for alert in self.alerts:
            if alert.kind not in kinds or alert.conid != conid or not alert.active:
                continue
            after, fired = _step(alert, value, self.rearm_pct)
            if fired:
                after = replace(after, fired=after.fired + 1, done=not after.repeat)
                firings.append(Firing(after, value, _fired_text(after, value)))
            if after != alert:
                self._put(after)
        return firings

    def on_quote(
        self, conid: int, last: Decimal | None, change_pct: Decimal | None
    ) -> list[Firing]:
        """A new price of ``conid`` (and its move on the day, in percent, when known)."""
        firings: list[Firing] = []
        if last is not None:
            firings += self._feed(PRICE_KINDS, conid, last)
        if change_pct is not None:
            firings += self._feed(frozenset({"move_pct"}), conid, change_pct)
        return firings

    def on_pnl(self, conid: int, unrealized: Decimal) -> list[Firing]:
        """The unrealized P&L of the position in ``conid``, repriced."""
        return self._feed(PNL_KINDS, conid, unrealized)

    def on_fill(self, conid: int, symbol: str, text: str) -> list[Firing]:
        """An order in ``conid`` filled (``text`` says how, as the order watch tells it)."""
        firings: list[Firing] = []
        for alert in self.alerts:
            if alert.kind != "fill" or not alert.active:
                continue
            if alert.conid is not None and alert.conid != conid:
                continue
            if alert.conid is None and alert.symbol and alert.symbol != symbol:
                continue
            after = replace(alert, fired=alert.fired + 1, done=not alert.repeat)
            self._put(after)
            firings.append(Firing(after, None, text))
        return firings
