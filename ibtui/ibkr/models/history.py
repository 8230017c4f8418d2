"""Historical bars (API.md §6): ``GET /iserver/marketdata/history``.

Apart from the snapshot quotes (:mod:`ibtui.ibkr.models.market`): only a chart asks for them, so
their models are imported then (through :mod:`ibtui.ibkr.models`), not at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Self

from ibtui.ibkr.models._parse import Obj, fail, from_ymd_hms, guarded

__all__ = ["History", "HistoryBar"]


@dataclass(frozen=True, slots=True)
class HistoryBar:
    """One bar: ``time`` is the bar start (UTC). ``volume`` is IBKR's ``v`` as sent (⚠ for US
    stocks it appears to be in hundreds of shares)."""

    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None

    @classmethod
    @guarded("history bar")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "history bar")
        time = o.ms("t")
        if time is None:
            raise fail("history bar has no 't'")
        return cls(
            time=time,
            open=o.req_decimal("o"),
            high=o.req_decimal("h"),
            low=o.req_decimal("l"),
            close=o.req_decimal("c"),
            volume=o.opt_decimal("v"),
        )


@dataclass(frozen=True, slots=True)
class History:
    """``GET /iserver/marketdata/history``: bars oldest first plus what describes them.

    ``bar_seconds`` is IBKR's ``barLength``; ``period`` its ``timePeriod`` (``"30min"``);
    ``delay_seconds`` its ``mktDataDelay`` (900 for delayed data); ``availability`` its
    ``mdAvailability`` letter(s).
    """

    symbol: str | None
    name: str | None
    bars: tuple[HistoryBar, ...]
    bar_seconds: int | None
    period: str | None
    start: datetime | None
    price_factor: int | None
    volume_factor: int | None
    availability: str | None
    delay_seconds: int | None
    outside_rth: bool
    points: int | None
    server_id: str | None

    @classmethod
    @guarded("history")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "history")
        bars = tuple(HistoryBar.from_json(item) for item in o.opt_items("data"))
        server_key = o.first("serverId", "serverid")
        return cls(
            symbol=o.text("symbol"),
            name=o.text("text"),
            bars=tuple(sorted(bars, key=lambda bar: bar.time)),
            bar_seconds=o.opt_int("barLength"),
            period=o.text("timePeriod"),
            start=from_ymd_hms(o.raw("startTime"), "history 'startTime'"),
            price_factor=o.opt_int("priceFactor"),
            volume_factor=o.opt_int("volumeFactor"),
            availability=o.text("mdAvailability"),
            delay_seconds=o.opt_int("mktDataDelay"),
            outside_rth=o.flag("outsideRth"),
            points=o.opt_int("points"),
            server_id=None if server_key is None else o.opt_str(server_key),
        )
