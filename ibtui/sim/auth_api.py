"""The contract between the simulator's HTTP app and its OAuth verifier.

``create_app(sim)`` mounts :meth:`Authenticator.routes` (``/v1/api/oauth/*`` and ``/authorize``)
and calls :meth:`Authenticator.authenticate` for every other ``/v1/api/...`` request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

__all__ = ["AuthContext", "Authenticator"]


@dataclass(frozen=True)
class AuthContext:
    consumer_key: str
    access_token: str  # identifies the user/brokerage session


class Authenticator(Protocol):
    def routes(
        self,
    ) -> list[BaseRoute]: ...  # /v1/api/oauth/* and /authorize, mounted by create_app

    async def authenticate(
        self, request: Request
    ) -> AuthContext | Response: ...  # a Response (401) = rejected

    def stream_context(self, access_token: str) -> AuthContext | None: ...

    # an unsigned WebSocket upgrade's ``oauth_token``: known, with a current LST (else None)

    def revoke(self, access_token: str) -> None: ...  # /logout revokes the LST

    def expire_all_lsts(self) -> None: ...  # fault: forced LST expiry
