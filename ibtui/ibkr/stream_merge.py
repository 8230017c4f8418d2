"""What :class:`~ibtui.ibkr.stream.MarketStream` makes of IBKR's frames (API.md §10.4): JSON
read from text or bytes (anything else left out, logged a bounded number of times), ``smd``
deltas merged into full quotes, partial ``sor`` objects merged by ``orderId`` into orders,
``spl`` rows. No I/O, no clock: the stream decides what to do with the results.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from json import JSONDecoder
from json.scanner import make_scanner
from typing import TYPE_CHECKING, Any, cast

from ibtui.ibkr.errors import ProtocolError
from ibtui.ibkr.models import Quote
from ibtui.ibkr.models.market import merge_row

if TYPE_CHECKING:
    from ibtui.ibkr.models import LiveOrder, PnlRow

__all__ = ["MAX_ORDERS_KEPT", "FrameMerger"]

_log = logging.getLogger("ibtui.ibkr.stream")
MAX_ORDERS_KEPT = 5000  # orders whose last known object is kept for merging (oldest go first)
_LOGGED_FIRST = 20  # malformed frames logged one by one; then one line in every thousand
_DECODER = JSONDecoder()
# what JSONDecoder.decode reads a value with (the stub wants the attributes, not the type)
_scan = make_scanner(cast(Any, _DECODER))


def _json(text: str) -> Any:
    """``json.loads(text)``. A frame is one object, nothing around it: read by the decoder's
    scanner straight away, without the two whitespace matches around it (anything else, and
    every error, as ``json.loads`` reads and says it)."""
    if text[:1] == "{":
        try:
            value, end = _scan(text, 0)
        except (ValueError, StopIteration, RecursionError):
            pass
        else:
            if end == len(text):
                return value
    return _DECODER.decode(text)


class FrameMerger:
    """The last known quote of each conid and object of each order, and the frames' reading."""

    def __init__(self) -> None:
        self._quotes: dict[int, Quote] = {}
        self._orders: dict[int, dict[str, Any]] = {}
        self._malformed = 0

    def decode(self, payload: str | bytes) -> dict[str, Any] | None:
        """A frame's JSON object, or None (empty, not JSON, not an object: logged)."""
        text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
        if not text or text.isspace():
            return None
        try:
            message = _json(text)
        except (ValueError, RecursionError):
            self.malformed("a frame that is not JSON", text)
            return None
        if not isinstance(message, dict):
            self.malformed("a frame that is not a JSON object", text)
            return None
        return message

    def malformed(self, what: str, text: str) -> None:
        self._malformed += 1
        if self._malformed <= _LOGGED_FIRST or self._malformed % 1000 == 0:
            _log.warning("stream: %s left out (%d so far): %r", what, self._malformed, text[:120])

    def tick(self, message: dict[str, Any]) -> Quote | None:
        """An ``smd`` frame as it came (only what changed), or None (a keep-alive without
        ``conid``, or one that does not parse)."""
        if "conid" not in message:
            return None  # IBKR's empty keep-alive updates
        try:
            return Quote.from_json(message)
        except ProtocolError as exc:
            self.malformed(f"a market-data frame that does not parse ({exc.reason})", str(message))
            return None

    def tick_merged(self, message: dict[str, Any], subscribed: Container[int]) -> Quote | None:
        """``merge(tick(message))`` when the frame's conid is in ``subscribed``: the conid's
        full quote now; None for a keep-alive, a frame that does not parse, or a conid not
        subscribed. A frame of a conid already known is merged field by field
        (:func:`~ibtui.ibkr.models.market.merge_row`), without making the delta a Quote."""
        conid = message.get("conid")
        if type(conid) is int:
            known = self._quotes.get(conid)
            if known is not None and conid in subscribed:
                try:
                    merged = merge_row(known, message)
                except Exception:
                    merged = None  # the reference path below reads it and says what it is
                if merged is not None:
                    self._quotes[conid] = merged
                    return merged
        update = self.tick(message)
        if update is None or update.conid not in subscribed:
            return None  # a keep-alive, unreadable, or unsubscribed meanwhile
        return self.merge(update)

    def merge(self, update: Quote) -> Quote:
        """``update`` over the last known quote of its conid: the full quote now."""
        known = self._quotes.get(update.conid)
        merged = update if known is None else known.merge(update)
        self._quotes[update.conid] = merged
        return merged

    def forget_quote(self, conid: int) -> None:
        self._quotes.pop(conid, None)

    def orders(self, args: object) -> tuple[LiveOrder, ...]:
        """``sor``'s ``args``, each object merged onto the last one of its ``orderId``; those
        that make a whole order (a first partial one may not)."""
        from ibtui.ibkr.models import LiveOrder

        if not isinstance(args, list):
            return ()
        out: list[LiveOrder] = []
        for item in args:
            if not isinstance(item, dict):
                continue
            try:
                key = int(item.get("orderId"))  # type: ignore[arg-type]
            except (TypeError, ValueError, OverflowError):
                continue
            merged = {**self._orders.pop(key, {}), **item}
            self._orders[key] = merged  # the newest last: the oldest are forgotten first
            if len(self._orders) > MAX_ORDERS_KEPT:
                del self._orders[next(iter(self._orders))]
            try:
                out.append(LiveOrder.from_json(merged))
            except ProtocolError:
                continue  # not enough known yet (a partial first message)
        return tuple(out)

    def pnl(self, args: object) -> dict[str, PnlRow]:
        """``spl``'s rows by account id ({} when there are none or they do not parse)."""
        from ibtui.ibkr.models import parse_pnl

        try:
            return parse_pnl(args)
        except ProtocolError as exc:
            self.malformed(f"a P&L frame that does not parse ({exc.reason})", str(args))
            return {}
