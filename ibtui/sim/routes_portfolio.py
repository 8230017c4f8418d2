"""Portfolio endpoints: summary, ledger, positions (paged and cached), pnl/partitioned."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ibtui.sim.portfolio import Account
from ibtui.sim.valuation import AccountValue
from ibtui.sim.views_portfolio import ledger_json, pnl_row, position_json, summary_json
from ibtui.sim.web import BadRequest, RequestState, error, ok, state

__all__ = ["routes"]

PAGE_SIZE = 100


def _account(st: RequestState, account_id: str) -> Account:
    if st.sim.config.require_portfolio_accounts_first and not st.session.portfolio_accounts_queried:
        raise BadRequest("Bad Request: Please query /portfolio/accounts first")
    acct = st.sim.broker.account(account_id)
    if acct is None:
        raise BadRequest(f"Bad Request: accountId is not valid: {account_id}")
    return acct


def _value(st: RequestState, account_id: str) -> AccountValue:
    return st.sim.broker.valuation(_account(st, account_id).account_id, st.now)


def _rows(st: RequestState, acct: Account) -> list[dict[str, Any]]:
    """All position rows of the account, as cached for this session (see invalidate)."""
    cached = st.session.positions_cache.get(acct.account_id)
    if cached is not None and st.now - cached[0] < st.sim.config.positions_cache_ttl:
        return cached[1]
    value = st.sim.broker.valuation(acct.account_id, st.now)
    rows = []
    for pv in value.positions:
        row = position_json(pv, acct.base_currency, 18)
        row["acctId"] = acct.account_id
        rows.append(row)
    st.session.positions_cache[acct.account_id] = (st.now, rows)
    return rows


def _sorted(request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = request.query_params.get("sort") or "name"
    reverse = request.query_params.get("direction", "a").lower().startswith("d")

    def k(row: dict[str, Any]) -> tuple[int, Any, int]:
        v = row.get(key)
        if v is None:
            return (1, "", row["conid"])
        return (0, v if isinstance(v, (int, float)) else str(v), row["conid"])

    try:
        return sorted(rows, key=k, reverse=reverse)
    except TypeError:
        return sorted(rows, key=lambda r: (str(r.get(key)), r["conid"]), reverse=reverse)


async def summary(request: Request) -> Response:
    st = state(request)
    return ok(summary_json(_value(st, request.path_params["acct"])))


async def ledger(request: Request) -> Response:
    st = state(request)
    return ok(ledger_json(_value(st, request.path_params["acct"])))


async def positions(request: Request) -> Response:
    st = state(request)
    acct = _account(st, request.path_params["acct"])
    try:
        page = int(request.path_params.get("page", "0"))
    except ValueError:
        return error("Bad Request: invalid page", 400)
    if page < 0:
        return error("Bad Request: invalid page", 400)
    rows = _rows(st, acct)
    key = (request.query_params.get("sort") or "name", request.query_params.get("direction", "a"))
    cached = st.session.positions_sorted.get(acct.account_id)
    if cached is None or cached[0] is not rows or cached[1] != key:
        cached = (rows, key, _sorted(request, rows))
        st.session.positions_sorted[acct.account_id] = cached
    return ok(cached[2][page * PAGE_SIZE : (page + 1) * PAGE_SIZE])


async def position_by_conid(request: Request) -> Response:
    st = state(request)
    acct = _account(st, request.path_params["acct"])
    try:
        conid = int(request.path_params["conid"])
    except ValueError:
        return error("Bad Request: invalid conid", 400)
    value = st.sim.broker.valuation(acct.account_id, st.now)
    rows = []
    for pv in value.positions:
        if pv.instrument.conid == conid:
            row = position_json(pv, acct.base_currency, 12)
            row["acctId"] = acct.account_id
            rows.append(row)
    return ok(rows)


async def invalidate(request: Request) -> Response:
    st = state(request)
    acct = _account(st, request.path_params["acct"])
    st.session.positions_cache.pop(acct.account_id, None)
    return ok({"message": "success"})


async def positions2(request: Request) -> Response:
    """``/portfolio2/{acct}/positions``: uncached, unpaged, a smaller field set (⚠ uncertain)."""
    st = state(request)
    acct = _account(st, request.path_params["acct"])
    value = st.sim.broker.valuation(acct.account_id, st.now)
    out = []
    for pv in value.positions:
        pos, inst = pv.position, pv.instrument
        out.append(
            {
                "position": float(pos.quantity),
                "conid": str(inst.conid),
                "avgCost": float(pos.avg_cost),
                "avgPrice": float(pos.avg_cost),
                "currency": pos.currency,
                "description": inst.symbol,
                "isLastToLoq": False,
                "marketPrice": float(pv.mark),
                "marketValue": float(pv.market_value),
                "realizedPnl": float(round(pos.realized, 2)),
                "secType": inst.asset_class,
                "timestamp": int(st.now),
                "unrealizedPnl": float(pv.unrealized),
                "assetClass": inst.asset_class,
                "sector": inst.sector,
                "group": inst.group,
                "model": "",
            }
        )
    return ok(out)


async def pnl(request: Request) -> Response:
    st = state(request)
    b = st.session.brokerage
    assert b is not None
    if not b.accounts_queried:
        return error("Bad Request: Please query /accounts first", 400)
    if not b.pnl_primed:
        b.pnl_primed = True
        return ok({"upnl": {}})
    upnl = {
        f"{a}.Core": pnl_row(st.sim.broker.valuation(a, st.now)) for a in st.sim.broker.accounts
    }
    return ok({"upnl": upnl})


def routes() -> list[BaseRoute]:
    return [
        Route("/portfolio/{acct}/summary", summary, methods=["GET"]),
        Route("/portfolio/{acct}/ledger", ledger, methods=["GET"]),
        Route("/portfolio/{acct}/positions/invalidate", invalidate, methods=["POST", "GET"]),
        Route("/portfolio/{acct}/positions/{page}", positions, methods=["GET"]),
        Route("/portfolio/{acct}/positions", positions, methods=["GET"]),
        Route("/portfolio/{acct}/position/{conid}", position_by_conid, methods=["GET"]),
        Route("/portfolio2/{acct}/positions", positions2, methods=["GET"]),
        Route("/iserver/account/pnl/partitioned", pnl, methods=["GET"]),
    ]
