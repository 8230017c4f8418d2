"""Safety rails before an order leaves: validation, precaution limits, the typed confirmation
for live accounts and the per-question policy. Pure functions: no I/O, never raise on input
(except :func:`build_order`, which refuses an invalid draft with :class:`DraftError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ibtui.ibkr.models import OrderRequest, Side, TimeInForce
from ibtui.trading.draft import (
    TICKET_TIFS,
    AmountProblem,
    MarketQuote,
    OrderDraft,
    TicketType,
    parse_amount,
    parse_positive,
)
from ibtui.trading.settings import OrderSettings, QuestionPolicy

__all__ = [
    "Check",
    "DraftError",
    "FieldError",
    "ParsedDraft",
    "Precaution",
    "PrecautionKind",
    "build_order",
    "check",
    "live_confirmation_ok",
    "parse_draft",
    "precautions",
    "question_policy",
    "reference_price",
    "validate",
]

PrecautionKind = Literal[
    "order_value", "quantity", "price_deviation", "no_price", "price_unchecked"
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why the draft cannot be sent, shown beside ``field`` (``quantity``, ``limit_price``,
    ``stop_price``, ``order_type``, ``tif``, ``side``, ``outside_rth``, ``conid``, ``account``)."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Precaution:
    """A precaution limit the order crosses: a warning, or a block when ``blocking``."""

    kind: PrecautionKind
    message: str
    blocking: bool


@dataclass(frozen=True, slots=True)
class Check:
    """Everything the ticket shows before the send key does anything."""

    errors: tuple[FieldError, ...] = ()
    precautions: tuple[Precaution, ...] = ()

    @property
    def sendable(self) -> bool:
        return not self.errors and not any(p.blocking for p in self.precautions)

    @property
    def warnings(self) -> tuple[Precaution, ...]:
        return tuple(p for p in self.precautions if not p.blocking)


class DraftError(ValueError):
    """The draft does not validate; ``errors`` says why, field by field."""

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


@dataclass(frozen=True, slots=True)
class ParsedDraft:
    """A draft whose fields parse: numbers as Decimals, prices only where the type uses them."""

    account_id: str
    conid: int
    symbol: str
    side: Side
    quantity: Decimal
    order_type: TicketType
    limit_price: Decimal | None
    stop_price: Decimal | None
    tif: TimeInForce
    outside_rth: bool
    is_paper: bool
    currency: str


def _fmt(value: Decimal) -> str:
    """``10,000``, ``0.25``: a quantity or a limit setting; a whole number without decimals (a
    setting read as 10000.0 shows as 10,000), any other as given."""
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,f}"


def _price(value: Decimal) -> str:
    """A price as given (``215.50``, ``100.00``)."""
    return f"{value:,f}"


_POSITIVE_PROBLEM = {
    AmountProblem.MISSING: "enter a {label}",
    AmountProblem.NOT_A_NUMBER: "the {label} must be a number (digits and a point)",
    AmountProblem.NOT_POSITIVE: "the {label} must be greater than zero",
}


def _positive(raw: object, field: str, label: str, errors: list[FieldError]) -> Decimal | None:
    value = parse_positive(raw)
    if isinstance(value, Decimal):
        return value
    errors.append(FieldError(field, _POSITIVE_PROBLEM[value].format(label=label)))
    return None


def _structure(draft: OrderDraft) -> tuple[list[FieldError], ParsedDraft | None]:
    errors: list[FieldError] = []
    if not isinstance(draft.account_id, str) or not draft.account_id.strip():
        errors.append(FieldError("account", "no account selected"))
    if isinstance(draft.conid, bool) or not isinstance(draft.conid, int) or draft.conid <= 0:
        errors.append(FieldError("conid", "no instrument selected"))
    side = _side(draft.side)
    if side is None:
        errors.append(FieldError("side", "choose BUY or SELL"))
    kind = _kind(draft.order_type)
    if kind is None:
        errors.append(FieldError("order_type", "choose MKT, LMT, STP or STP LMT"))
    tif = next((t for t in TICKET_TIFS if t == draft.tif), None)
    if tif is None:
        errors.append(FieldError("tif", "choose DAY, GTC or IOC"))
    quantity = _positive(draft.quantity, "quantity", "quantity", errors)
    limit = stop = None
    if kind is not None and kind.needs_stop:
        stop = _positive(draft.stop_price, "stop_price", "stop price", errors)
    if kind is not None and kind.needs_limit:
        limit = _positive(draft.limit_price, "limit_price", "limit price", errors)
    if kind is TicketType.MKT and draft.outside_rth is True:
        errors.append(
            FieldError("outside_rth", "a market order cannot execute outside regular hours")
        )
    if errors or side is None or kind is None or tif is None or quantity is None:
        return errors, None
    return errors, ParsedDraft(
        account_id=draft.account_id,
        conid=draft.conid,
        symbol=draft.symbol,
        side=side,
        quantity=quantity,
        order_type=kind,
        limit_price=limit,
        stop_price=stop,
        tif=tif,
        outside_rth=draft.outside_rth is True,
        is_paper=draft.is_paper is not False,
        currency=draft.currency,
    )


def _side(value: object) -> Side | None:
    """The draft's side; the ticket may hand over text ("buy") where a Side is expected."""
    if isinstance(value, str) and value.strip().upper() in ("BUY", "SELL"):
        return Side(value.strip().upper())
    return None


def _kind(value: object) -> TicketType | None:
    if isinstance(value, TicketType):
        return value
    if isinstance(value, str):
        key = " ".join(value.upper().replace("_", " ").split())
        return {"STOP LIMIT": TicketType.STP_LMT, "STPLMT": TicketType.STP_LMT}.get(
            key, next((t for t in TicketType if t.value == key), None)
        )
    return None


def _positive_market(value: object) -> Decimal | None:
    number = parse_amount(value)
    return number if number is not None and number > 0 else None


def _market_rules(parsed: ParsedDraft, last: Decimal | None) -> list[FieldError]:
    errors: list[FieldError] = []
    stop, limit = parsed.stop_price, parsed.limit_price
    if stop is not None and last is not None:
        if parsed.side is Side.BUY and stop <= last:
            errors.append(
                FieldError(
                    "stop_price", f"a buy stop must be above the last price ({_price(last)})"
                )
            )
        if parsed.side is Side.SELL and stop >= last:
            errors.append(
                FieldError(
                    "stop_price", f"a sell stop must be below the last price ({_price(last)})"
                )
            )
    if parsed.order_type is TicketType.STP_LMT and stop is not None and limit is not None:
        if parsed.side is Side.BUY and limit < stop:
            errors.append(
                FieldError("limit_price", "a buy stop limit needs a limit at or above its stop")
            )
        if parsed.side is Side.SELL and limit > stop:
            errors.append(
                FieldError("limit_price", "a sell stop limit needs a limit at or below its stop")
            )
    return errors


def parse_draft(draft: OrderDraft, market: MarketQuote | None = None) -> ParsedDraft:
    """The parsed draft, or :class:`DraftError` with every field error of :func:`validate`."""
    errors, parsed = _structure(draft)
    last = _positive_market(market.last) if market is not None else None
    if parsed is not None:
        errors.extend(_market_rules(parsed, last))
    if errors or parsed is None:
        raise DraftError(tuple(errors))
    return parsed


def validate(draft: OrderDraft, market: MarketQuote | None = None) -> list[FieldError]:
    """Every reason the draft cannot be sent, by field (empty: it can be).

    Positive quantity; numbers only; the prices the type needs; no MKT outside regular hours;
    with a last price, a buy stop above it and a sell stop below it; a stop limit's limit at or
    beyond its stop (buy: limit >= stop, sell: limit <= stop). Never raises.
    """
    try:
        parse_draft(draft, market)
    except DraftError as exc:
        return list(exc.errors)
    return []


def reference_price(parsed: ParsedDraft, last: Decimal | None) -> Decimal | None:
    """The price the order's value is judged at: its limit, else its stop, else the last."""
    return parsed.limit_price or parsed.stop_price or last


def precautions(
    draft: OrderDraft, last: Decimal | None, settings: OrderSettings
) -> list[Precaution]:
    """The precaution limits (``[orders]`` settings) the draft crosses: order value, quantity,
    limit price too far from the last price, or a limit or stop price that could not be checked
    for want of a last price (never passed as if checked). Each warns, or blocks when
    ``precaution_action`` is ``"block"``. An invalid draft has none (:func:`validate` speaks
    for it). Never raises."""
    try:
        parsed = parse_draft(draft)
    except DraftError:
        return []
    last = _positive_market(last)
    blocking = settings.precaution_action == "block"
    out: list[Precaution] = []
    price = reference_price(parsed, last)
    max_value = Decimal(str(settings.max_order_value))
    max_quantity = Decimal(str(settings.max_quantity))
    max_pct = Decimal(str(settings.max_price_deviation_pct))
    if price is None:
        out.append(
            Precaution(
                "no_price",
                "no last price: the order's value cannot be checked against your limits",
                blocking,
            )
        )
    else:
        value = parsed.quantity * price
        if value > max_value:
            out.append(
                Precaution(
                    "order_value",
                    f"order value {f'{value:,.2f} {parsed.currency}'.strip()} is above your "
                    f"limit of {max_value:,.2f}",
                    blocking,
                )
            )
    if parsed.quantity > max_quantity:
        out.append(
            Precaution(
                "quantity",
                f"quantity {_fmt(parsed.quantity)} is above your limit of {_fmt(max_quantity)}",
                blocking,
            )
        )
    if last is None and (parsed.limit_price is not None or parsed.stop_price is not None):
        prices = [
            f"{label} {_fmt(value)}"
            for label, value in (("limit", parsed.limit_price), ("stop", parsed.stop_price))
            if value is not None
        ]
        out.append(
            Precaution(
                "price_unchecked",
                f"no last price: {' and '.join(prices)} could not be checked against the market "
                f"(your limit: {_fmt(max_pct)}% away)",
                blocking,
            )
        )
    if parsed.limit_price is not None and last is not None:
        away = abs(parsed.limit_price - last) / last * 100
        if away > max_pct:
            out.append(
                Precaution(
                    "price_deviation",
                    f"limit {_price(parsed.limit_price)} is {away:.1f}% away from the last price "
                    f"{_price(last)} (your limit: {_fmt(max_pct)}%)",
                    blocking,
                )
            )
    return out


def check(draft: OrderDraft, market: MarketQuote | None, settings: OrderSettings) -> Check:
    """:func:`validate` and :func:`precautions` together (what the ticket shows as it is typed)."""
    errors = validate(draft, market)
    if errors:
        return Check(errors=tuple(errors))
    last = market.last if market is not None else None
    return Check(precautions=tuple(precautions(draft, last, settings)))


def live_confirmation_ok(account_id: str, typed: str | None) -> bool:
    """True when ``typed`` is the account id's last four characters (spaces and case ignored)."""
    expected = account_id.strip()[-4:]
    if not expected or typed is None:
        return False
    return typed.strip().upper() == expected.upper()


def question_policy(message_id: str | None, settings: OrderSettings) -> QuestionPolicy:
    """What to do with one of IBKR's questions: ``ask`` the trader (the default), ``confirm``
    or ``reject`` it without asking, per message id (``o163``, ``p12``...) from the
    ``[orders.questions]`` settings."""
    if not message_id:
        return "ask"
    policy = settings.questions.get(message_id, "ask")
    return policy if policy in ("ask", "confirm", "reject") else "ask"


def build_order(parsed: ParsedDraft, coid: str) -> OrderRequest:
    """The wire order. IBKR's price conventions: ``price`` is the limit (LMT, STP LMT) or the
    stop trigger (STP); ``aux_price`` is the trigger of a STP LMT."""
    kind = parsed.order_type
    if kind is TicketType.STP:
        price, aux = parsed.stop_price, None
    elif kind is TicketType.STP_LMT:
        price, aux = parsed.limit_price, parsed.stop_price
    elif kind is TicketType.LMT:
        price, aux = parsed.limit_price, None
    else:
        price, aux = None, None
    return OrderRequest(
        conid=parsed.conid,
        side=parsed.side,
        quantity=parsed.quantity,
        order_type=kind.wire,
        coid=coid,
        price=price,
        aux_price=aux,
        tif=parsed.tif,
        outside_rth=parsed.outside_rth,
        account_id=parsed.account_id,
    )
