"""What a trader types is never a crash: the verifier (in the terminal and on the login screen)
and the order ticket's fields give a value or a specific error, for any text at all."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ibtui.ibkr.errors import VerifierError
from ibtui.ibkr.login import clean_verifier
from ibtui.trading import TICKET_TIFS, Side, TicketType, TimeInForce
from ibtui.tui.screens.login import clean_verifier as screen_verifier
from ibtui.tui.screens.ticket import parse_ticket
from ibtui.tui.viewmodels import AccountView

ACCOUNT = AccountView("DU1", paper=True)
TEXT = st.text(max_size=80) | st.sampled_from(["", " ", "1e9", "NaN", "-0", "1,000", "٣", "0x10"])


@given(TEXT)
def test_the_verifier_is_cleaned_or_refused_with_a_reason(text: str) -> None:
    try:
        value = clean_verifier(text)
    except VerifierError as exc:
        assert "verifier" in str(exc)
    else:
        assert value and value == value.strip() and " " not in value
    shown = screen_verifier(text)
    assert shown is None or (shown and " " not in shown)


@settings(max_examples=300)
@given(
    TEXT,
    TEXT,
    TEXT,
    st.sampled_from(list(TicketType)),
    st.sampled_from(list(Side)),
    st.sampled_from(TICKET_TIFS),
    st.booleans(),
)
def test_ticket_fields_parse_or_say_which_field_is_wrong(
    quantity: str,
    limit: str,
    stop: str,
    kind: TicketType,
    side: Side,
    tif: TimeInForce,
    outside_rth: bool,
) -> None:
    draft, problems = parse_ticket(
        ACCOUNT,
        265598,
        "AAPL",
        side=side,
        quantity=quantity,
        kind=kind,
        limit=limit,
        stop=stop,
        tif=tif,
        outside_rth=outside_rth,
    )
    if draft is None:
        assert problems and all(
            p.field in ("quantity", "limit_price", "stop_price") for p in problems
        )
        assert all(p.message for p in problems)
    else:
        assert not problems and draft.quantity > 0 and draft.quantity.is_finite()
        for price, needed in (
            (draft.limit_price, kind.needs_limit),
            (draft.stop_price, kind.needs_stop),
        ):
            assert (price is not None) == needed
            assert price is None or (price > Decimal(0) and price.is_finite())
