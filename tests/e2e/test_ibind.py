"""The unchanged third-party client ibind against ``ibtui sim`` on a loopback port.

ibind runs in a child process (``ibind_driver.py``) configured only through the ``IBIND_*``
variables of the ``ibind.env`` file the simulator wrote and announced on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .sim_process import REPO, SimProcess, load_env_file, sim_process

DRIVER = Path(__file__).with_name("ibind_driver.py")


def run_ibind(sim: SimProcess, scenario: str, tmp_path: Path, **extra: str) -> dict[str, Any]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IBIND_")},
        **load_env_file(sim.ibind_env_file()),
        "IBIND_LOG_TO_FILE": "false",
        "IBIND_LOGS_DIR": str(tmp_path),
        "IBIND_AUTO_REGISTER_SHUTDOWN": "false",
        **extra,
    }
    result = subprocess.run(
        [sys.executable, str(DRIVER), scenario],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"ibind failed:\n{result.stdout}\n{result.stderr}"
    observed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return observed


def test_ibind_lst_handshake_and_signed_calls(tmp_path: Path) -> None:
    """The OAuth layer alone: ibind's LST handshake (2048-bit keys, the bundled DH prime) and
    HMAC-signed GET, GET with a query (signed without it, as ibind does) and POST with JSON."""
    state = tmp_path / "state"
    with sim_process(["--port", "0", "--state-dir", str(state)], oauth_only=True) as sim:
        observed = run_ibind(
            sim,
            "oauth",
            tmp_path,
            IBIND_INIT_BROKERAGE_SESSION="false",
            IBIND_MAINTAIN_OAUTH="false",
            IBIND_SHUTDOWN_OAUTH="false",
        )
        env = load_env_file(sim.ibind_env_file())
    who = {
        "consumer_key": env["IBIND_OAUTH1A_CONSUMER_KEY"],
        "token": env["IBIND_OAUTH1A_ACCESS_TOKEN"],
    }
    assert observed["get"] == observed["get_with_query"] == observed["post_json"] == who
    day_from_now_ms = (time.time() + 86_400) * 1000
    assert abs(observed["lst_expires_ms"] - day_from_now_ms) < 120_000


def test_ibind_full_session_against_the_simulator(tmp_path: Path) -> None:
    """``ibtui sim`` itself, unchanged ibind with its defaults (ssodh/init on start, /logout on
    close): accounts, positions, a warm-up and a data snapshot, history, an order through its
    reply question, live orders, cancel. Pacing is off: ibind does not pace itself, and this
    test is about protocol compatibility (pacing has its own tests)."""
    args = ["--port", "0", "--state-dir", str(tmp_path / "state"), "--no-pacing"]
    with sim_process(args) as sim:
        seen = run_ibind(sim, "full", tmp_path)
        assert sim.process.poll() is None  # the server outlived its client

    status = seen["auth_status"]
    assert status["authenticated"] is True and status["connected"] is True
    assert status["competing"] is False
    assert seen["tickle"]["iserver"]["authStatus"]["authenticated"] is True
    assert seen["healthy"] is True

    account = seen["account"]
    assert account.startswith("DU")
    assert account in seen["iserver_accounts"]["accounts"]
    assert isinstance(seen["positions"], list)
    for position in seen["positions"]:
        assert position["acctId"] == account and isinstance(position["conid"], int)

    warmup, snapshot = seen["snapshot_warmup"], seen["snapshot"]
    assert {str(row["conid"]) for row in warmup} == {"265598", "8314"}
    assert all("31" not in row for row in warmup)  # the first call only subscribes
    assert {str(row["conid"]) for row in snapshot} == {"265598", "8314"}
    for row in snapshot:
        assert isinstance(row["31"], str) and float(row["31"].lstrip("CH").replace(",", "")) > 0

    history = seen["history"]
    bars = history["data"]
    assert 0 < len(bars) <= 1000
    assert {"o", "h", "l", "c", "t"} <= set(bars[0])
    assert history["symbol"] == "AAPL"

    assert "price exceeds the Percentage constraint of 3%" in seen["refused_question"]
    placed = seen["placed"]
    order_id = placed["order_id"]
    assert isinstance(order_id, str) and order_id.isdigit()
    live = next(o for o in seen["live_orders"]["orders"] if str(o["orderId"]) == order_id)
    assert live["side"] == "BUY" and live["orderType"] in ("LMT", "Limit")
    assert live["status"] in ("PreSubmitted", "Submitted")
    assert seen["cancel"]["msg"] == "Request was submitted"
    assert str(seen["cancel"]["order_id"]) == order_id
    cancelled = next(o for o in seen["after_cancel"]["orders"] if str(o["orderId"]) == order_id)
    assert cancelled["status"] == "Cancelled"


def test_ibind_websocket_against_the_simulator(tmp_path: Path) -> None:
    """ibind's IbkrWsClient with OAuth against ``ibtui sim`` over loopback (uvicorn serving
    the WebSocket with wsproto): the greeting lets it subscribe, market data arrives for two
    conids, and an order placed over REST comes back as an ``sor`` update."""
    args = ["--port", "0", "--state-dir", str(tmp_path / "state"), "--no-pacing"]
    with sim_process(args) as sim:
        seen = run_ibind(sim, "ws", tmp_path)
    assert seen["started"] is True and seen["unconfirmed"] == 0
    for conid in ("265598", "8314"):
        assert {"last_price", "bid_price", "ask_price"} <= set(seen["market_data"][conid])
    assert seen["orders"] and seen["order_id"]
