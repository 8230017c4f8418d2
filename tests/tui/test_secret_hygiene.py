"""No secret leaves its place: with the real login, session and an order on the simulator, the
private keys, the access token secret (as issued and decrypted) and the live session token appear
in no log record, no line of the log file (which is 0600), no journal line, no screenshot, no
error text and no repr."""

from __future__ import annotations

import base64
import logging
import os
import stat
import time
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import Input

from ibtui.adapters.broker import ClientBackend
from ibtui.ibkr import oauth
from ibtui.ibkr.connect import connect
from ibtui.ibkr.session import AccessCredentials
from ibtui.logfile import setup_logging, stop_logging
from ibtui.sim import PAPER_ACCOUNT, ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import build_demo, trading_offset
from ibtui.trading.journal import journal_path
from ibtui.trading.settings import OrderSettings
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.login import LoginScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.screens.ticket import TicketScreen
from tests.tui.test_tui_demo_flow import wait_for

AAPL = 265598


def pem_body(pem: bytes) -> list[str]:
    """The base64 lines of a PEM: what a leaked key would look like in text."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def attributes(holder: object) -> str:
    """What a dump of ``holder``'s attributes shows (nothing for an object with slots only)."""
    try:
        return repr(vars(holder))
    except TypeError:
        return ""


async def test_no_secret_in_logs_journal_screens_errors_or_reprs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log_file = setup_logging(tmp_path / "state", "test")
    assert log_file is not None
    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    demo = build_demo(key_bits=1024, config=SimConfig(seed=9, clock=clock, pacing_enabled=False))
    saved = []
    backend = ClientBackend(
        demo.base_url, demo.consumer, transport=demo.transport, demo=demo, save_access=saved.append
    )
    app = IbtuiApp(
        backend,
        login=backend,
        trader=backend.trader(OrderSettings(), tmp_path),
        poll=PollSettings(interval=0.2),
        cursor_blink=False,
    )
    screens: list[str] = []
    errors: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen))
        login = app.screen
        assert isinstance(login, LoginScreen)
        await wait_for(pilot, lambda: "verifier" in str(login.query_one("#hint").render()))
        await pilot.press(*"0123456789abcdef", "enter")  # wrong first: its error text is kept
        await wait_for(pilot, lambda: bool(login.error))
        errors.append(login.error or "")
        screens.append(app.export_screenshot())
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: "verifier" in str(login.query_one("#hint").render()))
        login.query_one("#verifier", Input).value = str(login.query_one("#hint").render()).split()[
            -1
        ]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AccountsScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen))
        positions = app.screen
        assert isinstance(positions, PositionsScreen)
        await wait_for(pilot, lambda: AAPL in positions.quotes)
        screens.append(app.export_screenshot())
        positions.table.grid.move_to(f"{PAPER_ACCOUNT}:{AAPL}")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketScreen))
        ticket = app.screen
        assert isinstance(ticket, TicketScreen)
        last = positions.quotes[AAPL].last
        assert last is not None
        ticket.query_one("#quantity", Input).value = "1"
        ticket.query_one("#limit", Input).value = str(
            (last * Decimal("0.99")).quantize(Decimal("0.01"))
        )
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket.preview is not None)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is positions)
        screens.append(app.export_screenshot())

        conn = backend._conn  # the live objects hold the secrets the test looks for
        assert conn is not None and conn.session.lst is not None
        lst = conn.session.lst.value
        reprs = [repr(x) for x in (backend, conn, conn.session, conn.session.lst, demo.consumer)]
        reprs += [repr(saved[0]), repr(app.trader)]
        # what a debugger or a traceback showing locals prints: the objects' attributes
        reprs += [attributes(x) for x in (backend, conn, conn.session, saved[0])]
    await backend.aclose()
    stop_logging()
    assert stat.S_IMODE(os.stat(log_file).st_mode) == 0o600

    access = saved[0]
    plaintext = oauth.decrypt_access_token_secret(
        demo.consumer.encryption_key, access.access_token_secret
    )
    canaries = {
        "LST": lst,
        "LST (hex)": base64.b64decode(lst).hex(),
        "access token secret": access.access_token_secret,
        "decrypted secret": plaintext.hex(),
        "decrypted secret (bytes)": repr(plaintext)[2:-1],
    }
    for name, key in (
        ("signature", demo.consumer.signature_key),
        ("encryption", demo.consumer.encryption_key),
    ):
        for i, line in enumerate(pem_body(key.export_key("PEM"))[1:-1]):
            canaries[f"{name} key line {i}"] = line
    texts = {
        "log": "\n".join(r.getMessage() for r in caplog.records),
        "log file": log_file.read_text(),
        "journal": journal_path(tmp_path).read_text(),
        "screens": "\n".join(screens),
        "errors": "\n".join(errors),
        "reprs": "\n".join(reprs),
    }
    assert texts["journal"] and texts["screens"] and texts["errors"]
    assert "live session token #1 obtained" in texts["log file"]
    for where, text in texts.items():
        for name, value in canaries.items():
            assert value not in text, f"{name} found in {where}"
    assert access.access_token not in texts["reprs"]  # masked: its first 4 characters only
    assert f"access_token='{access.access_token[:4]}…'" in texts["reprs"]


async def test_reprs_and_attributes_of_the_session_mask_the_token_and_hide_the_secret() -> None:
    demo = build_demo(key_bits=1024, config=SimConfig(seed=4, pacing_enabled=False))
    access = AccessCredentials(*demo.server.provision_access_token(demo.consumer.consumer_key))
    async with connect(demo.base_url, demo.consumer, access, transport=demo.transport) as conn:
        session = conn.session
        await session.current_lst()  # decrypts the secret and keeps it for the next exchange
        plaintext = oauth.decrypt_access_token_secret(
            demo.consumer.encryption_key, access.access_token_secret
        )
        token = access.access_token
        assert repr(access) == (
            f"AccessCredentials(access_token='{token[:4]}…', access_token_secret=<hidden>, "
            "is_paper=None)"
        )
        assert repr(session).startswith(f"LiveSession(access_token='{token[:4]}…', lst=expires")
        dump = repr(vars(session))
        assert "Secret(<hidden>)" in dump
        for text in (repr(access), repr(session), dump):
            assert token not in text and access.access_token_secret not in text
            assert repr(plaintext) not in text and plaintext.hex() not in text
