"""The order endpoints' routes: place, reply, questions/suppress, whatif, live orders, status,
modify, cancel, trades.

The handlers are in :mod:`ibtui.sim.order_endpoints`, imported by the first order request: an
app that has not been sent one (the demo up to its first positions) does not import the order
tickets, replies, what-if and order views (``ibtui.sim.orders`` and the modules over it).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

__all__ = ["routes"]

Endpoint = Callable[[Request], Awaitable[Response]]


def _endpoint(name: str) -> Endpoint:
    """The handler ``name`` of :mod:`ibtui.sim.order_endpoints`, imported when first called."""

    async def endpoint(request: Request) -> Response:
        handler: Endpoint = getattr(importlib.import_module("ibtui.sim.order_endpoints"), name)
        return await handler(request)

    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def routes() -> list[BaseRoute]:
    return [
        Route("/iserver/account/orders", _endpoint("live_orders"), methods=["GET"]),
        Route("/iserver/account/trades", _endpoint("trades"), methods=["GET"]),
        Route("/iserver/account/order/status/{oid}", _endpoint("order_status"), methods=["GET"]),
        Route("/iserver/account/{acct}/orders/whatif", _endpoint("whatif"), methods=["POST"]),
        Route("/iserver/account/{acct}/orders", _endpoint("place"), methods=["POST"]),
        Route("/iserver/account/{acct}/order/{oid}", _endpoint("modify"), methods=["POST"]),
        Route("/iserver/account/{acct}/order/{oid}", _endpoint("cancel"), methods=["DELETE"]),
        Route("/iserver/reply/{rid}", _endpoint("reply"), methods=["POST"]),
        Route("/iserver/questions/suppress", _endpoint("suppress"), methods=["POST"]),
        Route("/iserver/questions/suppress/reset", _endpoint("suppress_reset"), methods=["POST"]),
    ]
