"""The simulator's WebSocket, ``/v1/api/ws`` (API.md §10), as IBKR serves it.

The upgrade is admitted as IBKR admits it: ``?oauth_token=`` names a known access token with a
current live session token (or the upgrade is signed like any API request), and the ``api``
cookie is that token's ``/tickle`` session; anything else is refused before the upgrade (under
uvicorn the client gets 403). Then the greeting (``system``, ``act``, ``sts``), a ``system``
heartbeat every :attr:`SimConfig.stream_heartbeat_seconds`, and what was subscribed:

* ``smd+<conid>+{"fields":[...]}``: the quote as the market moves (a step a second, looked at
  every :attr:`SimConfig.stream_push_seconds`), only the fields that changed since the last
  frame (the first frame after a subscription has them all), with ``conid``, ``_updated`` and
  ``topic``; ``umd+<conid>+{}`` stops it. A subscription that is not sent
  again within :attr:`SimConfig.stream_expiry_seconds` goes quiet, as IBKR's do after about
  15 minutes.
* ``sor+{}`` / ``uor+{}``: order changes from the order book, partial objects (the keys that
  changed, with ``orderId``, ``acct`` and ``conid``), nothing until an order changes.
* ``spl+{}`` / ``upl+{}``: the selected account's P&L every :attr:`SimConfig.stream_pnl_seconds`.
* ``tic`` is answered with the session's id; ``ech+hb`` is echoed; anything else is answered
  ``{"error": "Topic unknown ...", "code": 1}``.

After a nightly reset (the session's ``/tickle`` id changes) the socket keeps heart-beating but
its subscriptions are dead, IBKR's known failure mode; a competing login is pushed as
``{"topic": "sts", "args": {"competing": true}}``; after a logout, or once the access token has
no current live session token, the socket closes. The stream's
faults (``wsdrop``, ``wsstall``, ``wsgarbage`` in :mod:`ibtui.sim.faults`) are asked once per
frame sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from ibtui.sim.routes_session import SERVER_INFO, accounts_body
from ibtui.sim.sessions import Session
from ibtui.sim.simulator import Simulator
from ibtui.sim.views_market import snapshot_values
from ibtui.sim.views_orders import live_order_json
from ibtui.sim.views_portfolio import pnl_row

__all__ = ["serve_stream"]

_log = logging.getLogger(__name__)
_AFTER_MOVE = 0.001  # seconds after a market step that the push loop looks (the step is there)
_REFUSED = 1008  # policy violation: before the upgrade, uvicorn answers 403
# What the wsgarbage fault sends, in turn: not UTF-8, cut-off JSON, not an object, no conid.
_GARBAGE: tuple[bytes | str, ...] = (
    b"\xff\xfe\x00\x9c not utf-8",
    '{"topic":"smd+',
    "[1, 2, 3]",
    '{"topic":"smd+0"}',
)


async def serve_stream(sim: Simulator, scope: Scope, receive: Receive, send: Send) -> None:
    """One WebSocket connection, from the upgrade to its end."""
    ws = WebSocket(scope, receive, send)
    session = await _admit(sim, ws)
    if session is None:
        await ws.close(code=_REFUSED)
        return
    await ws.accept()
    await _Connection(sim, ws, session, ws.cookies.get("api", "")).run()


async def _admit(sim: Simulator, ws: WebSocket) -> Session | None:
    """The session the upgrade belongs to, or None to refuse it."""
    token = ws.query_params.get("oauth_token", "")
    if "authorization" in ws.headers:  # a signed upgrade, checked like any API request
        http_scope = {**ws.scope, "type": "http", "method": "GET"}
        verdict = await sim.authenticator.authenticate(Request(http_scope))
        if isinstance(verdict, Response):
            return None
        token = verdict.access_token
    elif not token or sim.authenticator.stream_context(token) is None:
        return None
    session = sim.sessions.get(token)
    cookie = ws.cookies.get("api", "")
    if session is None or not cookie or cookie != session.tickle_id:
        return None
    return session


@dataclass(slots=True)
class _Line:
    fields: frozenset[str]
    renewed: float
    server_id: str
    sent: dict[str, str] = field(default_factory=dict)  # the values the client has
    moment: tuple[int, bool] | None = None  # (market step, open) the values were made at


def _until_next_look(now: float, every: float) -> float:
    """Seconds to the next look at the market: ``every``, or sooner when the market moves
    before that (it moves a step each trading second, on the clock's whole seconds: sessions
    open on whole minutes), so that a tick goes out as its market moves."""
    return min(every, math.floor(now) + 1 - now + _AFTER_MOVE)


class _Drop(Exception):
    """The wsdrop fault: end the connection now."""


class _Connection:
    def __init__(self, sim: Simulator, ws: WebSocket, session: Session, cookie: str) -> None:
        self.sim = sim
        self.ws = ws
        self.session = session
        self.cookie = cookie
        self.lines: dict[int, _Line] = {}
        self.orders: dict[int, dict[str, Any]] | None = None  # what was sent, when subscribed
        self.pnl = False
        self.stalled = False
        self.competing = session.competing  # as the client was last told
        self._garbage = 0
        self._server_ids = 0

    async def run(self) -> None:
        try:
            await self._greet()
        except (_Drop, WebSocketDisconnect):
            pass
        else:
            # whichever ends first (the client left, a fault, a logout) ends the other
            tasks = {asyncio.create_task(self._read()), asyncio.create_task(self._push())}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None and not isinstance(failure, _Drop | WebSocketDisconnect):
                    _log.error("the WebSocket ended on an error", exc_info=failure)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.ws.close(code=1011)

    # --- sending ---------------------------------------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        fault = self.sim.faults.stream_fault()
        if self.stalled or fault == "stall":
            self.stalled = True  # silent from now on, the socket left open
            return
        if fault == "drop":
            raise _Drop()
        if fault == "garbage":
            junk = _GARBAGE[self._garbage % len(_GARBAGE)]
            self._garbage += 1
            if isinstance(junk, bytes):
                await self.ws.send_bytes(junk)
            else:
                await self.ws.send_text(junk)
        await self.ws.send_text(json.dumps(message, separators=(",", ":")))

    async def _greet(self) -> None:
        sim, session = self.sim, self.session
        now = sim.advance()
        account = sim.broker.accounts[session.selected_account]
        await self._send(
            {
                "topic": "system",
                "success": sim.config.username,
                "isFT": False,
                "isPaper": account.paper,
            }
        )
        await self._send({"topic": "act", "args": accounts_body(sim, session)})
        usable = session.usable(now, sim.config.bridge_warmup_seconds)
        await self._send(
            {
                "topic": "sts",
                "args": {
                    "authenticated": usable,
                    "competing": session.competing,
                    "message": "",
                    "fail": "",
                    **SERVER_INFO,
                    "username": sim.config.username,
                },
            }
        )

    # --- what the client sends -------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                raw = message.get("bytes") or b""
                text = raw.decode("utf-8", "replace")
            if self.stalled:
                continue
            await self._command(text.strip())

    async def _command(self, text: str) -> None:
        sim, session = self.sim, self.session
        now = sim.advance()
        if text == "tic":
            sim.sessions.touch(session.access_token, now)
            await self._send(
                {
                    "topic": "tic",
                    "alive": True,
                    "id": session.tickle_id,
                    "lastAccessed": int(now * 1000),
                }
            )
            return
        if text == "ech+hb":
            sim.sessions.touch(session.access_token, now)
            await self._send({"topic": "ech+hb", "alive": True})
            return
        topic, _, rest = text.partition("+")
        target, _, body = rest.partition("+") if topic in ("smd", "umd") else ("", "", rest)
        if topic == "smd":
            await self._subscribe(target, body, now)
        elif topic == "umd":
            with contextlib.suppress(ValueError):
                self.lines.pop(int(target), None)
        elif topic == "sor":
            self.orders = {o.order_id: live_order_json(o) for o in self._account_orders()}
        elif topic == "uor":
            self.orders = None
        elif topic == "spl":
            self.pnl = True
        elif topic == "upl":
            self.pnl = False
        else:
            await self._send({"error": f"Topic unknown: {text[:40]}", "code": 1})

    async def _subscribe(self, target: str, body: str, now: float) -> None:
        try:
            conid = int(target)
            wanted = json.loads(body) if body.strip() else {}
            fields = wanted.get("fields", []) if isinstance(wanted, dict) else None
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise ValueError
        except (ValueError, RecursionError):
            await self._send({"error": f"Bad subscription: smd+{target[:20]}", "code": 1})
            return
        if self.sim.universe.get(conid) is None:
            await self._send({"error": f"Invalid conid: {conid}", "code": 1, "topic": "smd"})
            return
        line = self.lines.get(conid)
        if line is None:
            self._server_ids += 1
            line = _Line(frozenset(fields), now, f"q{self._server_ids}")
            self.lines[conid] = line
        line.renewed = now
        line.fields = frozenset(fields)
        line.sent = {}  # a subscription answers with every field first
        if self.session.brokerage is not None:  # market data asked for in this session, as a
            self.session.brokerage.md_ever.add(conid)  # snapshot's is (no "blind trading" warn)

    # --- what the server pushes ------------------------------------------------------------

    async def _push(self) -> None:
        config = self.sim.config
        beat = pnl = 0.0
        while True:
            await asyncio.sleep(_until_next_look(self.sim.now(), config.stream_push_seconds))
            if self.stalled:
                continue
            sim, session = self.sim, self.session
            if (
                sim.sessions.get(session.access_token) is not session
                or sim.authenticator.stream_context(session.access_token) is None
            ):
                raise _Drop()  # logged out, or its live session token is over: it closes
            now = sim.advance()
            if now - beat >= config.stream_heartbeat_seconds:
                beat = now
                await self._send({"topic": "system", "hb": int(now * 1000)})
            if session.competing != self.competing:  # another login took the session (or not)
                self.competing = session.competing
                await self._send({"topic": "sts", "args": {"competing": session.competing}})
            if session.tickle_id != self.cookie or session.brokerage is None:
                continue  # a nightly reset: heartbeats go on, subscriptions are dead
            await self._ticks(now)
            await self._order_changes()
            if self.pnl and now - pnl >= config.stream_pnl_seconds:
                pnl = now
                # The session's selected account, as IBKR's partitioned P&L has it (switching
                # accounts switches the pushes).
                account = session.selected_account
                rows = {f"{account}.Core": pnl_row(sim.broker.valuation(account, now))}
                await self._send({"topic": "spl", "args": rows})

    async def _ticks(self, now: float) -> None:
        """A frame for every subscribed conid whose market moved (or that was just subscribed),
        each sent as soon as it is made."""
        for conid, line in list(self.lines.items()):
            frame = self._tick_frame(conid, line, now)
            if frame is not None:
                await self._send(frame)

    def _tick_frame(self, conid: int, line: _Line, now: float) -> dict[str, Any] | None:
        """The ``smd`` frame of one line now (only the fields that changed), or None.

        ``_updated`` is when the market moved to these values (the start of their step), as an
        exchange's tick carries the time it happened, not when a server got round to sending
        it; the answer to a subscription is stamped with the time it is made."""
        sim = self.sim
        if now - line.renewed >= sim.config.stream_expiry_seconds:
            return None  # quiet: IBKR stops a stream that was not asked for again
        inst = sim.universe.get(conid)
        if inst is None:
            return None
        venue = sim.market.venue(inst)
        live = venue.in_rth(now)
        step = sim.market.step_at(inst, now)
        moment = (step, live)
        if moment == line.moment and line.sent:
            return None  # the market has not moved since (it moves a step a second)
        answer = not line.sent
        line.moment = moment
        held = sim.broker.position_value(self.session.selected_account, conid, now)
        values = snapshot_values(
            inst, sim.market.quote(conid, now), ("R" if live else "Z") + "pB", "", held
        )
        wanted = line.fields | {"6509"}
        changed = {k: v for k, v in values.items() if k in wanted and line.sent.get(k) != v and k}
        if not changed:
            return None
        line.sent.update(changed)
        stamp = now if answer or not live else min(now, max(venue.clock_time(step), line.renewed))
        return {
            "server_id": line.server_id,
            "conidEx": str(conid),
            "conid": conid,
            "_updated": int(stamp * 1000),
            "6119": line.server_id,
            **changed,
            "topic": f"smd+{conid}",
        }

    def _account_orders(self) -> list[Any]:
        account = self.session.selected_account
        return [o for o in self.sim.broker.orders.values() if o.account_id == account]

    async def _order_changes(self) -> None:
        if self.orders is None:
            return
        changes: list[dict[str, Any]] = []
        for order in self._account_orders():
            now = live_order_json(order)
            before = self.orders.get(order.order_id, {})
            delta = {k: v for k, v in now.items() if before.get(k) != v}
            if not delta:
                continue
            self.orders[order.order_id] = now
            keys = {"orderId", "acct", "conid", "conidex"}
            changes.append({**{k: now[k] for k in keys if k in now}, **delta})
        if changes:
            await self._send({"topic": "sor", "args": changes})
