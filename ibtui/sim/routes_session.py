"""Session and account endpoints: ssodh/init, auth/status, tickle, logout, sso/validate,
/iserver/accounts, account switch, /portfolio/accounts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ibtui.sim.portfolio import Account
from ibtui.sim.sessions import Session
from ibtui.sim.simulator import Simulator
from ibtui.sim.web import error, flag, ok, params, state

__all__ = ["MAC", "SERVER_INFO", "accounts_body", "auth_status", "routes"]

SERVER_INFO = {"serverName": "JifN17091", "serverVersion": "Build 10.30.1f, Oct 2, 2024 4:12:55 PM"}
MAC = "F4:03:43:9A:2E:11"


def auth_status(session: Session) -> dict[str, Any]:
    connected = session.brokerage is not None
    warming = session.brokerage is not None and session.brokerage.no_bridge_left > 0
    return {
        "authenticated": connected and not session.competing and not warming,
        "competing": session.competing,
        "connected": connected,
        "message": "",
        "MAC": MAC,
        "serverInfo": dict(SERVER_INFO),
    }


async def ssodh_init(request: Request) -> Response:
    st = state(request)
    p = await params(request)
    session = st.session
    if session.competing and not flag(p.get("compete"), default=True):
        return ok(auth_status(session))
    brokerage = st.sim.sessions.open_brokerage(session, st.now)
    brokerage.no_bridge_left = st.sim.faults.bridge_warmup()
    return ok(auth_status(session))


async def status(request: Request) -> Response:
    return ok({**auth_status(state(request).session), "fail": ""})


async def tickle(request: Request) -> Response:
    st = state(request)
    s = st.session
    return ok(
        {
            "session": s.tickle_id,
            "ssoExpires": 600_000,
            "collission": s.competing,
            "userId": st.sim.config.user_id,
            "hmds": {"error": "no bridge"},
            "iserver": {"authStatus": auth_status(s)},
        }
    )


async def logout(request: Request) -> Response:
    st = state(request)
    st.sim.authenticator.revoke(st.auth.access_token)
    st.sim.sessions.end(st.auth.access_token)
    return ok({"status": True})


async def sso_validate(request: Request) -> Response:
    st = state(request)
    cfg = st.sim.config
    ms = int(st.now * 1000)
    return ok(
        {
            "USER_ID": cfg.user_id,
            "USER_NAME": cfg.username,
            "RESULT": True,
            "AUTH_TIME": ms,
            "SF_ENABLED": False,
            "IS_FREE_TRIAL": False,
            "CREDENTIAL": cfg.username,
            "IP": "127.0.0.1",
            "EXPIRES": 415_890,
            "QUALIFIED_FOR_MOBILE_AUTH": None,
            "LANDING_APP": "UNIVERSAL",
            "IS_MASTER": False,
            "lastAccessed": ms,
            "LOGIN_TYPE": 2,
            "PAPER_USER_NAME": cfg.username,
            "features": {"env": "PROD", "wlms": True, "realtime": True, "bond": True},
            "region": "NJ",
        }
    )


async def reauthenticate(request: Request) -> Response:
    st = state(request)
    if st.session.brokerage is None:
        st.sim.sessions.open_brokerage(st.session, st.now)
    return ok({"message": "triggered"})


def account_json(a: Account) -> dict[str, Any]:
    return {
        "id": a.account_id,
        "PrepaidCrypto-Z": False,
        "PrepaidCrypto-P": False,
        "brokerageAccess": True,
        "accountId": a.account_id,
        "accountVan": a.account_id,
        "accountTitle": a.title,
        "displayName": a.title,
        "accountAlias": None,
        "accountStatus": a.opened_ms,
        "currency": a.base_currency,
        "type": "DEMO" if a.paper else "INDIVIDUAL",
        "tradingType": "STKNOPT",
        "businessType": "INDEPENDENT",
        "ibEntity": "IBLLC-US" if a.base_currency == "USD" else "IBIE",
        "faclient": False,
        "clearingStatus": "O",
        "covestor": False,
        "noClientTrading": False,
        "trackVirtualFXPortfolio": not a.paper,
        "acctCustType": "INDIVIDUAL",
        "parent": {
            "mmc": [],
            "accountId": "",
            "isMParent": False,
            "isMChild": False,
            "isMultiplex": False,
        },
        "desc": a.account_id,
    }


async def portfolio_accounts(request: Request) -> Response:
    st = state(request)
    st.session.portfolio_accounts_queried = True
    return ok([account_json(a) for a in st.sim.broker.accounts.values()])


def iserver_accounts_body(request: Request) -> dict[str, Any]:
    st = state(request)
    return accounts_body(st.sim, st.session)


def accounts_body(sim: Simulator, session: Session) -> dict[str, Any]:
    """``GET /iserver/accounts``'s answer (and the WebSocket's ``act`` greeting)."""
    ids = list(sim.broker.accounts)
    selected = sim.broker.accounts[session.selected_account]
    props = {
        "hasChildAccounts": False,
        "supportsCashQty": True,
        "supportsFractions": True,
        "noFXConv": False,
        "isProp": False,
        "allowCustomerTime": False,
    }
    return {
        "accounts": ids,
        "acctProps": {i: dict(props) for i in ids},
        "aliases": {i: i for i in ids},
        "allowFeatures": {
            "showGFIS": True,
            "showEUCostReport": False,
            "allowEventContract": True,
            "allowFXConv": True,
            "allowFinancialLens": False,
            "allowMTA": True,
            "allowTypeAhead": True,
            "allowEventTrading": True,
            "snapshotRefreshTimeout": 30,
            "liteUser": False,
            "showWebNews": True,
            "research": True,
            "debugPnl": True,
            "showTaxOpt": True,
            "showImpactDashboard": True,
            "allowDynAccount": False,
            "allowCrypto": False,
            "allowFA": False,
            "allowLiteUnderPro": False,
            "allowedAssetTypes": "STK,CFD,OPT,FOP,WAR,FUT,BAG,PDC,CASH,IND,BOND,BILL,FUND,SLB,"
            "News,CMDTY,IOPT,ICU,ICS,PHYSS,CRYPTO",
        },
        "chartPeriods": {
            **{k: ["*"] for k in ("STK", "CFD", "WAR", "IOPT", "FUT", "CASH", "IND", "BOND")},
            **{k: ["*"] for k in ("FUND", "CMDTY", "PHYSS", "CRYPTO")},
            "OPT": ["2h", "1d", "2d", "1w", "1m"],
            "FOP": ["2h", "1d", "2d", "1w", "1m"],
        },
        "groups": [],
        "profiles": [],
        "selectedAccount": selected.account_id,
        "serverInfo": dict(SERVER_INFO),
        "sessionId": f"{session.tickle_id[:8]}.{session.tickle_id[-8:]}",
        "isFT": False,
        "isPaper": selected.paper,
    }


async def iserver_accounts(request: Request) -> Response:
    st = state(request)
    assert st.session.brokerage is not None
    st.session.brokerage.accounts_queried = True
    return ok(iserver_accounts_body(request))


async def switch_account(request: Request) -> Response:
    st = state(request)
    p = await params(request)
    acct = str(p.get("acctId", ""))
    if acct not in st.sim.broker.accounts:
        return error("Invalid account ID", 500, code=False)
    st.session.selected_account = acct
    return ok({"set": True, "acctId": acct})


def routes() -> list[BaseRoute]:
    return [
        Route("/iserver/auth/ssodh/init", ssodh_init, methods=["POST", "GET"]),
        Route("/iserver/auth/status", status, methods=["GET", "POST"]),
        Route("/iserver/reauthenticate", reauthenticate, methods=["GET", "POST"]),
        Route("/tickle", tickle, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST", "GET"]),
        Route("/sso/validate", sso_validate, methods=["GET"]),
        Route("/portfolio/accounts", portfolio_accounts, methods=["GET"]),
        Route("/portfolio/subaccounts", portfolio_accounts, methods=["GET"]),
        Route("/iserver/accounts", iserver_accounts, methods=["GET"]),
        Route("/iserver/account", switch_account, methods=["POST"]),
    ]
