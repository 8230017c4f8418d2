"""Small HTTP helpers shared by the route modules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ibtui.sim.auth_api import AuthContext
from ibtui.sim.sessions import Session
from ibtui.sim.simulator import Simulator

__all__ = [
    "BadRequest",
    "RequestState",
    "error",
    "flag",
    "ok",
    "params",
    "read_json",
    "state",
]

SCOPE_KEY = "ibtui.sim"


@dataclass(frozen=True)
class RequestState:
    """What the gateway learned about a request before routing it."""

    sim: Simulator
    auth: AuthContext
    session: Session
    now: float


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def state(request: Request) -> RequestState:
    st = request.scope[SCOPE_KEY]
    assert isinstance(st, RequestState)
    return st


def ok(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


def error(message: str, status: int = 400, *, code: bool = True) -> Response:
    """``{"error": ..., "statusCode": ...}`` (``code=False`` leaves statusCode out)."""
    body: dict[str, Any] = {"error": message}
    if code:
        body["statusCode"] = status
    return JSONResponse(body, status_code=status)


async def read_json(request: Request) -> Any:
    """The JSON body (``{}`` when empty); 400 for malformed JSON."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("Bad Request: malformed JSON body") from None


async def params(request: Request) -> dict[str, Any]:
    """Query parameters overlaid by a JSON object body (clients send either)."""
    merged: dict[str, Any] = dict(request.query_params)
    if request.method in ("POST", "PUT", "DELETE"):
        body = await read_json(request)
        if isinstance(body, dict):
            merged.update(body)
    return merged


def flag(value: Any, default: bool = False) -> bool:
    """A boolean from JSON (true) or a query string ("true", "1")."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "y")
