"""The simulator's ``/authorize`` page: IBKR's login-and-approve step of the third-party flow.

``GET /authorize?oauth_token=…`` shows a login form for the demo user (its credentials are shown
as a hint); ``POST /authorize`` checks them and shows the verifier, also as an
``oauth_verifier=`` link the way IBKR's page ends on a URL carrying it (OAUTH.md §8 step 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

__all__ = ["AuthorizeBackend", "AuthorizeError", "RequestTokenView", "authorize_routes"]

_MAX_FORM_BYTES = 4096


class AuthorizeError(Exception):
    """Login refused or request token not usable; the message is shown to the user."""


@dataclass(frozen=True)
class RequestTokenView:
    consumer_key: str
    authorized: bool
    used: bool


class AuthorizeBackend(Protocol):
    @property
    def demo_login(self) -> tuple[str, str]: ...

    def describe_request_token(self, token: str) -> RequestTokenView | None: ...

    def approve(self, request_token: str, username: str, password: str) -> str: ...

    def verifier_for(self, request_token: str) -> str | None: ...


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{escape(title)}</title></head>\n<body>\n<h1>{escape(title)}</h1>\n"
        f"{body}\n</body></html>\n"
    )
    return HTMLResponse(html, status_code=status)


def _login_form(token: str, consumer_key: str, login: tuple[str, str], error: str = "") -> str:
    username, password = login
    alert = f"<p class=error role=alert>{escape(error)}</p>\n" if error else ""
    return (
        f"<p>The application <b>{escape(consumer_key)}</b> asks to trade and read data "
        "on your behalf. Log in to allow it.</p>\n"
        f"{alert}"
        '<form method=post action="/authorize">\n'
        f'<input type=hidden name=oauth_token value="{escape(token)}">\n'
        "<label>Username <input name=username autocomplete=username></label>\n"
        "<label>Password <input name=password type=password></label>\n"
        "<button type=submit>Log in and allow</button>\n</form>\n"
        f"<p class=hint>Simulator demo login: username <code>{escape(username)}</code>, "
        f"password <code>{escape(password)}</code></p>"
    )


def _verifier_page(token: str, verifier: str) -> HTMLResponse:
    link = "/authorize?" + urlencode({"oauth_token": token, "oauth_verifier": verifier})
    body = (
        "<p>Access granted. Copy this verifier into the application:</p>\n"
        f"<p><code id=oauth_verifier>{escape(verifier)}</code></p>\n"
        f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
    )
    return _page("Authorization complete", body)


def _invalid_link() -> HTMLResponse:
    return _page(
        "Authorization failed",
        "<p>This authorization link is invalid or has already been used. "
        "Start again from the application to get a new one.</p>",
        status=400,
    )


def authorize_routes(backend: AuthorizeBackend) -> list[BaseRoute]:
    """``GET`` and ``POST /authorize`` served from ``backend``."""

    async def show(request: Request) -> Response:
        token = request.query_params.get("oauth_token", "")
        view = backend.describe_request_token(token)
        if view is None or view.used:
            return _invalid_link()
        verifier = backend.verifier_for(token)
        shown = request.query_params.get("oauth_verifier")
        if verifier is not None and shown == verifier:
            return _verifier_page(token, verifier)
        if view.authorized:
            return _page("Already authorized", "<p>This request was already approved.</p>")
        return _page("Log in to IBKR", _login_form(token, view.consumer_key, backend.demo_login))

    async def submit(request: Request) -> Response:
        raw = await request.body()
        form = dict(parse_qsl(raw[:_MAX_FORM_BYTES].decode("utf-8", "replace")))
        token = form.get("oauth_token", "")
        view = backend.describe_request_token(token)
        if view is None or view.used:
            return _invalid_link()
        try:
            verifier = backend.approve(token, form.get("username", ""), form.get("password", ""))
        except AuthorizeError as exc:
            form_html = _login_form(token, view.consumer_key, backend.demo_login, str(exc))
            return _page("Log in to IBKR", form_html, status=401)
        return _verifier_page(token, verifier)

    return [
        Route("/authorize", show, methods=["GET"]),
        Route("/authorize", submit, methods=["POST"]),
    ]
