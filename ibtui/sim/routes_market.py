"""Contract and market-data endpoints: secdef/search, contract info, trsrv/stocks, snapshot
(pre-flight rule), unsubscribe, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ibtui.sim.views_market import contract_info, search_result, snapshot_values
from ibtui.sim.web import error, flag, ok, params, state

__all__ = ["routes"]

MAX_CONIDS, MAX_FIELDS = 100, 50
DELAY = 900.0


def _int_list(raw: Any, what: str) -> list[int]:
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    out = []
    for item in items:
        s = str(item).strip()
        if not s:
            continue
        try:
            out.append(int(s))
        except ValueError:
            raise ValueError(f"Bad Request: invalid {what} {s!r}") from None
    return out


async def secdef_search(request: Request) -> Response:
    st = state(request)
    p = await params(request)
    symbol = str(p.get("symbol", ""))
    sec_type = str(p.get("secType", "STK") or "STK").upper()
    if not symbol:
        return error("Bad Request: symbol required", 400)
    if sec_type != "STK":
        return ok([])
    found = st.sim.universe.search(symbol, by_name=flag(p.get("name")))
    today = datetime.fromtimestamp(st.now, UTC).date()
    return ok([search_result(i, today) for i in found])


async def info(request: Request) -> Response:
    st = state(request)
    try:
        inst = st.sim.universe.get(int(request.path_params["conid"]))
    except ValueError:
        inst = None
    if inst is None:
        return error(f"Invalid conid: {request.path_params['conid']}", 500, code=False)
    return ok(contract_info(inst))


async def stocks(request: Request) -> Response:
    st = state(request)
    out: dict[str, Any] = {}
    for sym in str(request.query_params.get("symbols", "")).split(","):
        sym = sym.strip().upper()
        found = st.sim.universe.by_symbol(sym) if sym else []
        if found:
            out[sym] = [
                {
                    "name": i.name,
                    "chineseName": i.chinese_name,
                    "assetClass": i.asset_class,
                    "contracts": [{"conid": i.conid, "exchange": i.exchange, "isUS": i.is_us}],
                }
                for i in found
            ]
    return ok(out)


async def snapshot(request: Request) -> Response:
    st = state(request)
    b = st.session.brokerage
    assert b is not None
    if not b.accounts_queried:
        return error("Bad Request: Please query /accounts first", 400)
    try:
        conids = _int_list(request.query_params.get("conids"), "conid")
        fields = [f.strip() for f in request.query_params.get("fields", "").split(",") if f.strip()]
    except ValueError as exc:
        return error(str(exc), 400)
    if not conids:
        return error("Bad Request: conids required", 400)
    if len(conids) > MAX_CONIDS:
        return error(f"Bad Request: too many conids (max {MAX_CONIDS})", 400)
    if len(fields) > MAX_FIELDS:
        return error(f"Bad Request: too many fields (max {MAX_FIELDS})", 400)
    sim = st.sim
    delayed = sim.config.delayed_market_data
    when = st.now - DELAY if delayed else st.now
    rows: list[dict[str, Any]] = []
    for conid in conids:
        row: dict[str, Any] = {"conid": conid, "conidEx": str(conid)}
        inst = sim.universe.get(conid)
        if inst is None:
            rows.append(row)
            continue
        if conid not in b.md_fields:  # pre-flight: open the stream, answer identifiers only
            b.md_fields[conid] = set(fields)
            b.md_ever.add(conid)
            b.server_ids[conid] = f"q{len(b.server_ids)}"
            rows.append(row)
            continue
        wanted = b.md_fields[conid]
        wanted.update(fields)
        q = sim.market.quote(conid, when)
        live = sim.market.venue(inst).in_rth(st.now)
        availability = ("D" if live else "Y") if delayed else ("R" if live else "Z")
        server_id = b.server_ids[conid]
        held = sim.broker.position_value(st.session.selected_account, conid, st.now)
        values = snapshot_values(inst, q, availability + "pB", server_id, held)
        row.update({"_updated": int(st.now * 1000), "server_id": server_id})
        for f in sorted(wanted | {"6509", "6119"}, key=lambda x: (len(x), x)):
            if f in values:
                row[f] = values[f]
        rows.append(row)
    sim.faults.placeholders(rows)
    return ok(rows)


async def unsubscribe(request: Request) -> Response:
    st = state(request)
    p = await params(request)
    b = st.session.brokerage
    assert b is not None
    try:
        conid = int(p.get("conid", ""))
    except (TypeError, ValueError):
        return error("Bad Request: conid required", 400)
    if conid not in b.md_fields:
        return error("Not Found", 404, code=False)
    del b.md_fields[conid]
    return ok({"success": True})


async def unsubscribe_all(request: Request) -> Response:
    b = state(request).session.brokerage
    assert b is not None
    b.md_fields.clear()
    return ok({"unsubscribed": True})


def _parse_start(raw: str | None) -> float | None:
    from ibtui.sim.history import HistoryError

    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise HistoryError(f"Bad Request: invalid startTime {raw!r}") from None


async def history(request: Request) -> Response:
    # The bars' module is imported by the first history request: a start (the demo's too)
    # answers none.
    from ibtui.sim.history import BARS, HistoryError, bars, fmt_time, parse_spec

    st = state(request)
    q = request.query_params
    try:
        inst = st.sim.universe.get(int(q.get("conid", "")))
    except ValueError:
        return error("Bad Request: conid required", 400)
    if inst is None:
        return error("Invalid conid", 500, code=False)
    try:
        spec = parse_spec(q.get("period"), q.get("bar"))
        start = _parse_start(q.get("startTime"))
    except HistoryError as exc:
        return error(str(exc), exc.status)
    data = bars(st.sim.market, inst, spec, start, st.now)
    if not data:
        return error("No data.", 500, code=False)
    first = data[0].t
    hi = max(data, key=lambda b: b.h)
    lo = min(data, key=lambda b: b.lo)
    total = round(sum(b.v for b in data), 2)
    start_text = fmt_time(first)
    return ok(
        {
            "serverId": st.sim.next_server_id(),
            "symbol": inst.symbol,
            "text": inst.name,
            "priceFactor": 100,
            "startTime": start_text,
            "high": f"{round(hi.h * 100)}/{total}/{int((hi.t - first) // 60)}",
            "low": f"{round(lo.lo * 100)}/{total}/{int((lo.t - first) // 60)}",
            "timePeriod": spec.period,
            "barLength": BARS[spec.bar],
            "mdAvailability": "S",
            "mktDataDelay": 0,
            "outsideRth": flag(q.get("outsideRth")),
            "tradingDayDuration": 1440,
            "volumeFactor": 1,
            "priceDisplayRule": 1,
            "priceDisplayValue": "2",
            "chartPanStartTime": start_text,
            "direction": -1,
            "negativeCapable": False,
            "messageVersion": 2,
            "travelTime": 27,
            "points": len(data),
            "data": [
                {"t": int(b.t * 1000), "o": b.o, "h": b.h, "l": b.lo, "c": b.c, "v": b.v}
                for b in data
            ],
        }
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/iserver/secdef/search", secdef_search, methods=["GET", "POST"]),
        Route("/iserver/contract/{conid}/info", info, methods=["GET"]),
        Route("/trsrv/stocks", stocks, methods=["GET"]),
        Route("/iserver/marketdata/snapshot", snapshot, methods=["GET"]),
        Route("/iserver/marketdata/unsubscribe", unsubscribe, methods=["POST"]),
        Route("/iserver/marketdata/unsubscribeall", unsubscribe_all, methods=["GET", "POST"]),
        Route("/iserver/marketdata/history", history, methods=["GET"]),
    ]
