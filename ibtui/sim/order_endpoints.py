"""Order endpoints: place, reply, questions/suppress, whatif, live orders, status, modify, cancel,
trades. Routed by :mod:`ibtui.sim.routes_orders`, which imports this module (and with it the
order tickets, replies, what-if and order views) on the first order request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ibtui.sim.hours import VENUES
from ibtui.sim.orders import Order, Ticket, TicketError, parse_ticket
from ibtui.sim.replies import PendingReply, Question, questions_for
from ibtui.sim.sessions import Brokerage
from ibtui.sim.views_orders import live_order_json, order_status_json, trade_json
from ibtui.sim.web import RequestState, error, flag, ok, read_json, state
from ibtui.sim.whatif import whatif_json

__all__ = [
    "cancel",
    "live_orders",
    "modify",
    "order_status",
    "place",
    "reply",
    "suppress",
    "suppress_reset",
    "trades",
    "whatif",
]

_NEEDS_ACCOUNTS = "Bad Request: Please query /accounts first"


def _brokerage(st: RequestState) -> Brokerage:
    assert st.session.brokerage is not None
    return st.session.brokerage


def _tickets(st: RequestState, body: Any) -> list[Ticket]:
    orders = body.get("orders") if isinstance(body, dict) else body
    if not isinstance(orders, list) or not orders:
        raise TicketError('Invalid order request: expected {"orders": [...]}')
    return [parse_ticket(o, st.sim.universe) for o in orders]


def _questions(st: RequestState, tickets: list[Ticket], *, modify: bool) -> list[Question]:
    sim, b = st.sim, _brokerage(st)
    lasts = {t.instrument.conid: sim.market.last(t.instrument.conid, st.now) for t in tickets}
    data = {t.instrument.conid for t in tickets} if modify else b.md_ever
    qs = questions_for(
        tickets,
        lasts,
        data,
        sim.config.price_constraint_pct,
        sim.config.order_value_limit_usd,
        sim.config.fx_usd_per_unit,
        sim.config.stop_order_question and not modify,
    )
    return [q for q in qs if q.message_id not in b.suppressed]


def _execute(st: RequestState, pending: PendingReply) -> Response:
    broker = st.sim.broker
    try:
        if pending.kind == "modify":
            assert pending.order_id is not None
            order = broker.orders[pending.order_id]
            return ok(broker.modify(order, pending.tickets[0], st.now))
        return ok(broker.place(pending.account_id, pending.tickets, st.now))
    except TicketError as exc:
        return ok({"error": str(exc)})


def _submit(st: RequestState, pending: PendingReply, questions: list[Question]) -> Response:
    if not questions:
        return _execute(st, pending)
    pending.questions = questions[1:]
    return ok(_brokerage(st).replies.ask(pending, questions[0]))


async def place(request: Request) -> Response:
    st = state(request)
    if not _brokerage(st).accounts_queried:
        return error(_NEEDS_ACCOUNTS, 400)
    acct = request.path_params["acct"]
    if st.sim.broker.account(acct) is None:
        return error("Invalid account ID", 500, code=False)
    try:
        tickets = _tickets(st, await read_json(request))
        st.sim.broker.check_new(acct, tickets)
    except TicketError as exc:
        return ok({"error": str(exc)})
    expires = st.now + st.sim.config.reply_id_lifetime
    pending = PendingReply("place", acct, tickets, [], expires)
    return _submit(st, pending, _questions(st, tickets, modify=False))


async def reply(request: Request) -> Response:
    st = state(request)
    rid = request.path_params["rid"]
    body = await read_json(request)
    pending = _brokerage(st).replies.take(rid, st.now)
    if pending is None and _brokerage(st).replies.was_withdrawn(rid):
        st.sim.faults.question_withdrawn()
        return error("Service Unavailable", 503)
    if pending is None:
        return ok({"error": f"reply id not found: '{rid}'"})
    if not flag(body.get("confirmed") if isinstance(body, dict) else None):
        return ok({"error": "Order not confirmed"})
    pending.expires_at = st.now + st.sim.config.reply_id_lifetime
    if pending.questions:
        nxt, pending.questions = pending.questions[0], pending.questions[1:]
        return ok(_brokerage(st).replies.ask(pending, nxt))
    return _execute(st, pending)


async def suppress(request: Request) -> Response:
    st = state(request)
    body = await read_json(request)
    ids = body.get("messageIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or len(ids) > 51:
        return error("Bad Request: messageIds must be a list of up to 51 ids", 400)
    _brokerage(st).suppressed.update(str(i) for i in ids)
    return ok({"status": "submitted"})


async def suppress_reset(request: Request) -> Response:
    _brokerage(state(request)).suppressed.clear()
    return ok({"status": "submitted"})


async def whatif(request: Request) -> Response:
    st = state(request)
    acct = request.path_params["acct"]
    if st.sim.broker.account(acct) is None:
        return error("Invalid account ID", 500, code=False)
    try:
        ticket = _tickets(st, await read_json(request))[0]
    except TicketError as exc:
        return ok({"error": str(exc)})
    conid = ticket.instrument.conid
    value = st.sim.broker.valuation(acct, st.now)
    tick = st.sim.market.tick(conid, st.now)
    return ok(whatif_json(ticket, value, tick, conid in _brokerage(st).md_ever))


def _status_key(text: str) -> str:
    return text.strip().lower().replace("_", "")


async def live_orders(request: Request) -> Response:
    st = state(request)
    b = _brokerage(st)
    if not b.accounts_queried:
        return error(_NEEDS_ACCOUNTS, 400)
    q = request.query_params
    if flag(q.get("force")) or not b.orders_primed:
        b.orders_primed = True
        return ok({"orders": [], "snapshot": False})
    acct = q.get("accountId") or st.session.selected_account
    wanted = {_status_key(f) for f in q.get("filters", "").split(",") if f.strip()}
    by_time = "sortbytime" in wanted
    wanted.discard("sortbytime")
    rows: list[Order] = []
    for o in st.sim.broker.orders.values():
        if o.account_id != acct or not (o.working or o.last_change >= b.since):
            continue
        if wanted and _status_key(o.status) not in wanted:
            continue
        rows.append(o)
    if by_time:
        rows.sort(key=lambda o: o.last_change, reverse=True)
    return ok({"orders": [live_order_json(o) for o in rows], "snapshot": True})


def _order(st: RequestState, raw: str) -> Order | None:
    try:
        return st.sim.broker.orders.get(int(raw))
    except ValueError:
        return None


async def order_status(request: Request) -> Response:
    st = state(request)
    o = _order(st, request.path_params["oid"])
    if o is None:
        return error(f"OrderID {request.path_params['oid']} doesn't exist", 500, code=False)
    return ok(order_status_json(o))


async def modify(request: Request) -> Response:
    st = state(request)
    if not _brokerage(st).accounts_queried:
        return error(_NEEDS_ACCOUNTS, 400)
    acct, oid = request.path_params["acct"], request.path_params["oid"]
    o = _order(st, oid)
    if o is None or o.account_id != acct or not o.working:
        return ok({"error": f"OrderID {oid} doesn't exist"})
    body = await read_json(request)
    try:
        if not isinstance(body, dict) or "orders" in body:
            raise TicketError("Invalid modify request: send the order as a single object")
        ticket = parse_ticket(body, st.sim.universe)
    except TicketError as exc:
        return ok({"error": str(exc)})
    expires = st.now + st.sim.config.reply_id_lifetime
    pending = PendingReply("modify", acct, [ticket], [], expires, order_id=o.order_id)
    return _submit(st, pending, _questions(st, [ticket], modify=True))


async def cancel(request: Request) -> Response:
    st = state(request)
    acct, oid = request.path_params["acct"], request.path_params["oid"]
    broker = st.sim.broker
    if oid == "-1":
        for each in list(broker.orders.values()):
            if each.account_id == acct and each.working:
                broker.cancel(each, st.now)
        return ok({"msg": "Request was submitted", "order_id": -1, "conid": -1, "account": acct})
    o = _order(st, oid)
    if o is None or o.account_id != acct or not o.working:
        return ok({"error": f"OrderID {oid} doesn't exist"})
    broker.cancel(o, st.now)
    return ok(
        {
            "msg": "Request was submitted",
            "order_id": o.order_id,
            "conid": o.instrument.conid,
            "account": acct,
        }
    )


async def trades(request: Request) -> Response:
    st = state(request)
    q = request.query_params
    try:
        days = min(max(int(q.get("days", "1")), 1), 7)
    except ValueError:
        days = 1
    acct = q.get("accountId")
    tz = VENUES["US"].tz
    first_day = datetime.fromtimestamp(st.now, tz).date() - timedelta(days=days - 1)
    rows = [
        trade_json(e, st.sim.config.username)
        for e in st.sim.broker.executions
        if (acct is None or e.account_id == acct)
        and datetime.fromtimestamp(e.time, tz).date() >= first_day
    ]
    return ok(rows)
