"""The non-UI core of trading: order drafts and their safety checks, the order service (preview,
IBKR's questions, submit without double sends, reconciliation, cancel, modify, kill switch) and
the audit journal. No Textual here: the ticket and orders screens build on this package.

    journal = Journal(journal_path(settings.state_dir))
    service = OrderService(client, account_id, journal, settings.orders, is_paper=True)
    service.check(draft, market)                    # as the trader types: errors, precautions
    await service.preview(draft)                    # IBKR's what-if
    await service.submit(draft, answer, market=market, confirmation=typed)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibtui.lazy import lazy_names

if TYPE_CHECKING:
    from ibtui.trading.draft import (
        TICKET_TIFS,
        Amount,
        MarketQuote,
        OrderDraft,
        Side,
        TicketType,
        TimeInForce,
        parse_amount,
    )
    from ibtui.trading.journal import EVENTS, Journal, JournalError, journal_path, read_journal
    from ibtui.trading.outcomes import (
        Answer,
        AnsweredQuestion,
        CancelOutcome,
        CancelStatus,
        KillSwitchResult,
        Preview,
        Question,
        SubmitOutcome,
        SubmitStatus,
        UnresolvedOrder,
    )
    from ibtui.trading.safety import (
        Check,
        DraftError,
        FieldError,
        ParsedDraft,
        Precaution,
        PrecautionKind,
        build_order,
        check,
        live_confirmation_ok,
        parse_draft,
        precautions,
        question_policy,
        validate,
    )
    from ibtui.trading.service import OrderService
    from ibtui.trading.settings import OrderSettings, QuestionPolicy

__all__ = [
    "EVENTS",
    "TICKET_TIFS",
    "Amount",
    "Answer",
    "AnsweredQuestion",
    "CancelOutcome",
    "CancelStatus",
    "Check",
    "DraftError",
    "FieldError",
    "Journal",
    "JournalError",
    "KillSwitchResult",
    "MarketQuote",
    "OrderDraft",
    "OrderService",
    "OrderSettings",
    "ParsedDraft",
    "Precaution",
    "PrecautionKind",
    "Preview",
    "Question",
    "QuestionPolicy",
    "Side",
    "SubmitOutcome",
    "SubmitStatus",
    "TicketType",
    "TimeInForce",
    "UnresolvedOrder",
    "build_order",
    "check",
    "journal_path",
    "live_confirmation_ok",
    "parse_amount",
    "parse_draft",
    "precautions",
    "question_policy",
    "read_journal",
    "validate",
]

_HOME = {
    **dict.fromkeys(
        (
            "TICKET_TIFS",
            "Amount",
            "MarketQuote",
            "OrderDraft",
            "Side",
            "TicketType",
            "TimeInForce",
            "parse_amount",
        ),
        "draft",
    ),
    **dict.fromkeys(
        ("EVENTS", "Journal", "JournalError", "journal_path", "read_journal"), "journal"
    ),
    **dict.fromkeys(
        (
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
            "validate",
        ),
        "safety",
    ),
    **dict.fromkeys(
        (
            "Answer",
            "AnsweredQuestion",
            "CancelOutcome",
            "CancelStatus",
            "KillSwitchResult",
            "Preview",
            "Question",
            "SubmitOutcome",
            "SubmitStatus",
            "UnresolvedOrder",
        ),
        "outcomes",
    ),
    "OrderService": "service",
    "OrderSettings": "settings",
    "QuestionPolicy": "settings",
}


# Names load their module on first use, so ``ibtui journal`` does not import the client.
__getattr__ = lazy_names(__name__, {name: f"{__name__}.{home}" for name, home in _HOME.items()})
