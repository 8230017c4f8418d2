"""Brokerage session state: ``/iserver/auth/status``, ``ssodh/init``, ``/tickle`` (API.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Self

from ibtui.ibkr.models._parse import Obj, fail, guarded, to_duration_ms


@dataclass(frozen=True, slots=True)
class AuthStatus:
    """State of the brokerage session.

    From ``/iserver/auth/status``, ``POST /iserver/auth/ssodh/init``, ``/tickle``'s
    ``iserver.authStatus`` and the WebSocket ``sts`` topic (whose server fields are flat).
    """

    authenticated: bool
    connected: bool
    competing: bool
    message: str
    fail: str
    server_name: str | None
    server_version: str | None

    @property
    def healthy(self) -> bool:
        """Usable for trading: authenticated, connected and not competing (ibind's rule)."""
        return self.authenticated and self.connected and not self.competing

    @classmethod
    @guarded("auth status")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "auth status")
        if not o.has("authenticated"):
            raise fail("auth status has no 'authenticated'")
        server = o.opt_obj("serverInfo")
        name = server.opt_str("serverName") if server else o.opt_str("serverName")
        version = server.opt_str("serverVersion") if server else o.opt_str("serverVersion")
        return cls(
            authenticated=o.flag("authenticated"),
            # `sts` frames carry no `connected`; an authenticated session is connected.
            connected=o.flag("connected", default=o.flag("authenticated")),
            competing=o.flag("competing"),
            message=o.opt_str("message") or "",
            fail=o.opt_str("fail") or "",
            server_name=name,
            server_version=version,
        )


@dataclass(frozen=True, slots=True)
class Tickle:
    """Answer of ``/tickle`` (keep-alive). ``session`` is the WebSocket ``api`` cookie.

    ``auth_status`` is None when IBKR sends ``iserver: {}`` (before ``ssodh/init``).
    ``sso_expires`` counts down to the end of the SSO session. ``collision`` is IBKR's
    ``collission`` (sic).
    """

    session: str
    sso_expires: timedelta | None
    collision: bool
    user_id: int | None
    auth_status: AuthStatus | None
    hmds_error: str | None

    @classmethod
    @guarded("tickle")
    def from_json(cls, data: object) -> Self:
        o = Obj(data, "tickle")
        if not o.has("session") and o.text("error"):
            raise fail(f"tickle failed: {o.text('error')}")
        iserver = o.opt_obj("iserver")
        auth_raw = iserver.raw("authStatus") if iserver else None
        hmds = o.opt_obj("hmds")
        return cls(
            session=o.req_str("session"),
            sso_expires=to_duration_ms(o.raw("ssoExpires"), "tickle 'ssoExpires'"),
            collision=o.flag("collission", default=o.flag("collision")),
            user_id=o.opt_int("userId"),
            auth_status=None if auth_raw is None else AuthStatus.from_json(auth_raw),
            hmds_error=hmds.text("error") if hmds else None,
        )
