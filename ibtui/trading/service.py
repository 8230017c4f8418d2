"""The order service: what the ticket and the orders screen call to move money.

:class:`OrderService` wraps an :class:`~ibtui.ibkr.client.IbkrClient` for one account and adds
what IBKR does not: validation and precaution limits before anything is sent, the typed
confirmation for live accounts, IBKR's questions shown to the trader (or answered by the
configured policy) with follow-ups chained while the session's other requests wait
(:mod:`ibtui.ibkr.gate`), one submission at a time (a double key press sends once),
reconciliation by ``cOID`` when an order's fate is unknown (and no second send of the same draft
until it is known), cancel, modify, a kill switch, and an audit journal line for every step.
Results are frozen dataclasses with ``Decimal`` money; no raw JSON leaves here.

It is a thin front: each job has its module — :mod:`~ibtui.trading.submit` (sending and IBKR's
questions), :mod:`~ibtui.trading.reconcile` (unknown outcomes, by cOID),
:mod:`~ibtui.trading.cancel` (cancel and the kill switch), :mod:`~ibtui.trading.modify`,
:mod:`~ibtui.trading.blotter` (the order list and what is remembered of it) and
:mod:`~ibtui.trading.record` (the journal lines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

from ibtui.ibkr.client import IbkrClient
from ibtui.ibkr.errors import IbkrError
from ibtui.ibkr.models import LiveOrder, Trade, make_coid
from ibtui.trading.blotter import Blotter
from ibtui.trading.cancel import Canceller
from ibtui.trading.draft import MarketQuote, OrderDraft
from ibtui.trading.journal import Journal
from ibtui.trading.modify import Modifier
from ibtui.trading.outcomes import (
    Answer,
    CancelOutcome,
    KillSwitchResult,
    Preview,
    SubmitOutcome,
    SubmitStatus,
    UnresolvedOrder,
    preview_of,
)
from ibtui.trading.reconcile import DEFAULT_RECONCILE_DELAYS, Reconciler
from ibtui.trading.record import JournalUnavailable, Recorder
from ibtui.trading.safety import Check, DraftError, build_order, check, parse_draft
from ibtui.trading.settings import OrderSettings
from ibtui.trading.submit import Submitter

__all__ = ["OrderService"]


class OrderService:
    """Orders for one account. One submission (or modification) at a time: a second call while
    one is in flight returns BUSY at once and sends nothing; cancels and the kill switch are
    never held up by it.

    ``is_paper`` is what the service knows of the account: when it is False (or a draft says
    its account is live) sending needs the typed confirmation. ``reconcile_delays`` are the
    pauses before each look at the live orders when an order's fate is unknown.
    """

    def __init__(
        self,
        client: IbkrClient,
        account_id: str,
        journal: Journal,
        settings: OrderSettings,
        *,
        is_paper: bool | None = None,
        coid_prefix: str = "ibtui",
        reconcile_delays: Sequence[float] = DEFAULT_RECONCILE_DELAYS,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.journal = journal
        self.settings = settings
        self.is_paper = is_paper
        self._busy = False
        self._record = Recorder(journal, account_id)
        self._blotter = Blotter(client, account_id, self._record)
        self._reconciler = Reconciler(
            client, self._record, self._blotter, delays=reconcile_delays, sleep=sleep
        )
        self._blotter.reconciler = self._reconciler
        self._submitter = Submitter(
            client,
            account_id,
            self._record,
            self._blotter,
            self._reconciler,
            settings,
            is_paper=is_paper,
            coid_prefix=coid_prefix,
        )
        self._modifier = Modifier(self._submitter)
        self._cancels = Canceller(client, account_id, self._record, self._blotter)

    def __repr__(self) -> str:
        return f"OrderService(account_id={self.account_id!r})"

    # --- state the screens show --------------------------------------------------------------

    @property
    def in_flight(self) -> bool:
        """A submission or modification is under way (the ticket disables its send key)."""
        return self._busy

    @property
    def unresolved(self) -> tuple[UnresolvedOrder, ...]:
        """Sends whose outcome is still unknown."""
        return tuple(self._reconciler.unknown.values())

    @property
    def journal_error(self) -> OSError | None:
        """The last failed journal write, if any."""
        return self._record.error

    def check(self, draft: OrderDraft, market: MarketQuote | None = None) -> Check:
        """Field errors and precautions for the draft (pure; call it as the trader types)."""
        return check(draft, market, self.settings)

    def needs_live_confirmation(self, draft: OrderDraft) -> bool:
        """True when sending this draft needs the account's last four characters typed."""
        return self._submitter.needs_live_confirmation(draft)

    # --- preview -------------------------------------------------------------------------------

    async def preview(self, draft: OrderDraft, *, market: MarketQuote | None = None) -> Preview:
        """IBKR's what-if for the draft (nothing is placed). Raises :class:`DraftError` for an
        invalid draft and :class:`~ibtui.ibkr.errors.IbkrError` when IBKR cannot be asked."""
        if draft.account_id != self.account_id:
            raise DraftError((self._submitter.wrong_account(draft),))
        parsed = parse_draft(draft, market)
        order = build_order(parsed, make_coid(self._submitter.coid_prefix))
        try:
            whatif = await self.client.whatif(self.account_id, order)
        except IbkrError as exc:
            await self._record.note("preview", order.coid, order=draft.describe(), failed=str(exc))
            raise
        preview = preview_of(draft.describe(), whatif)
        await self._record.note("preview", order.coid, preview=preview)
        return preview

    # --- submit and modify: one at a time --------------------------------------------------------

    async def submit(
        self,
        draft: OrderDraft,
        answer: Answer,
        *,
        market: MarketQuote | None = None,
        confirmation: str | None = None,
    ) -> SubmitOutcome:
        """Send the draft once. ``market`` is the quote the ticket shows (for the stop-side rule
        and the precaution limits); ``confirmation`` is what the trader typed for a live
        account. Never raises for IBKR's or the network's failures: they are outcomes."""
        return await self._one_at_a_time(
            lambda: self._submitter.submit(draft, answer, market, confirmation),
            busy=lambda: self._record.note("validation", order=draft.describe(), result="busy"),
            what="this one",
        )

    async def modify(
        self,
        order_id: int,
        *,
        answer: Answer,
        quantity: Decimal | str | None = None,
        limit_price: Decimal | str | None = None,
        stop_price: Decimal | str | None = None,
        market: MarketQuote | None = None,
    ) -> SubmitOutcome:
        """Change a working order's quantity and/or prices (None keeps a value). IBKR wants
        every field of the original again: they are read from the order's status first. The
        same checks, questions and journal as a submission; BUSY while one is in flight."""
        return await self._one_at_a_time(
            lambda: self._modifier.modify(
                order_id, answer, quantity, limit_price, stop_price, market
            ),
            busy=lambda: self._record.note("modify_request", order_id=order_id, result="busy"),
            what="this change",
        )

    async def _one_at_a_time(
        self,
        send: Callable[[], Awaitable[SubmitOutcome]],
        *,
        busy: Callable[[], Awaitable[None]],
        what: str,
    ) -> SubmitOutcome:
        """``send`` unless another submission or modification is in flight (then BUSY, with the
        journal line ``busy`` writes); a journal that cannot be written stops it as NOT_SENT."""
        if self._busy:
            await busy()
            return SubmitOutcome(
                SubmitStatus.BUSY, f"another order is being sent: {what} was not sent"
            )
        self._busy = True
        try:
            return await send()
        except JournalUnavailable as exc:
            return SubmitOutcome(
                SubmitStatus.NOT_SENT, f"not sent: the journal cannot be written ({exc})"
            )
        finally:
            self._busy = False
            self._submitter.posting = False

    # --- unknown outcomes ------------------------------------------------------------------------

    async def reconcile(self, coid: str) -> SubmitOutcome:
        """Look again for an order whose outcome is unknown. Found: ACCEPTED (and the draft may
        be sent again as a new order); not found: still UNKNOWN."""
        return await self._reconciler.reconcile(coid)

    async def release(self, coid: str) -> bool:
        """The trader checked the orders screen: the order with this cOID is not there, so the
        draft may be sent again (as a new order, with a new cOID). False if nothing was held."""
        return await self._reconciler.release(coid)

    # --- cancel, kill switch -------------------------------------------------------------------

    async def cancel(self, order_id: int) -> CancelOutcome:
        """Ask IBKR to cancel one order (the order reaches Cancelled a moment later)."""
        return await self._cancels.cancel(order_id)

    async def cancel_all(self) -> KillSwitchResult:
        """The kill switch: cancel every working order of the account, one by one (see
        :meth:`~ibtui.trading.cancel.Canceller.cancel_all`)."""
        return await self._cancels.cancel_all()

    # --- lists ---------------------------------------------------------------------------------

    async def orders(self, *, refresh: bool = False) -> tuple[LiveOrder, ...]:
        """The account's working and recent orders (IBKR paces this list at 1 per 5 s).

        ``refresh`` clears IBKR's cache first (two requests). Status changes since the last
        look are journaled, and an order whose send was unknown is reconciled when it shows up.
        """
        return await self._blotter.orders(refresh=refresh)

    async def trades(self) -> tuple[Trade, ...]:
        """The account's executions (IBKR: today's; paced at 1 per 5 s)."""
        return await self._blotter.trades()
