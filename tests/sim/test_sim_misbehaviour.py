"""The real IBKR's known misbehaviour as named, deterministic faults (``--faults``)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from ibtui.cli.sim import parse_args
from ibtui.sim import Simulator
from ibtui.sim.faults import PLACEHOLDERS, FaultSpecError, parse_faults

from .conftest import brokerage, snapshot_twice


async def test_gone410_hits_the_last_of_every_n_requests(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.faults.misbehave("gone410", every=4, burst=2)
    codes = [(await client.post("/tickle")).status_code for _ in range(8)]
    assert codes == [200, 200, 410, 410, 200, 200, 410, 410]
    r = await client.post("/tickle")
    assert r.status_code == 200
    sim.faults.clear()
    sim.faults.misbehave("gone410", count=1)
    r = await client.post("/tickle")
    assert (r.status_code, r.json()["error"]) == (410, "Gone")


async def test_spurious401_says_invalid_signature(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.faults.misbehave("spurious401", count=1)
    r = await client.post("/tickle")
    assert (r.status_code, r.json()["error"]) == (401, "Invalid signature")
    assert (await client.post("/tickle")).status_code == 200


async def test_nobridge_after_each_init_and_unauthenticated_status(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.faults.misbehave("nobridge", count=2)
    await client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    status = (await client.post("/iserver/auth/status")).json()
    assert status["authenticated"] is False and status["connected"] is True
    r = await client.get("/iserver/accounts")
    assert r.status_code == 400 and "no bridge" in r.text
    assert (await client.get("/iserver/accounts")).status_code == 200
    assert (await client.post("/iserver/auth/status")).json()["authenticated"] is True
    # every new init starts the warm-up again
    await client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    assert (await client.get("/iserver/accounts")).status_code == 400


async def test_placeholders_replace_snapshot_values_but_not_identifiers(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await brokerage(client)
    sim.faults.misbehave("placeholders", rate=1.0, fields=frozenset({"31"}))
    rows = await snapshot_twice(client, [265598, 8314], fields="31,84,86")
    assert [row["31"] for row in rows] == list(PLACEHOLDERS[:2])
    assert all(row["84"] not in PLACEHOLDERS and row["conid"] for row in rows)


async def test_reset_ends_the_brokerage_session_every_n_requests(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    await brokerage(client)
    sim.faults.misbehave("reset", every=3)
    assert (await client.get("/iserver/accounts")).status_code == 200
    assert (await client.get("/iserver/accounts")).status_code == 200
    r = await client.get("/iserver/accounts")
    assert r.status_code == 400 and "no bridge" in r.text


async def test_trickle_sends_the_body_in_pieces(sim: Simulator, client: httpx.AsyncClient) -> None:
    sim.faults.misbehave("trickle", count=1, seconds=0.05)
    began = time.perf_counter()
    r = await client.post("/tickle")
    assert r.status_code == 200 and r.json()["session"]
    assert time.perf_counter() - began >= 0.05 * 8


async def test_drop_response_follows_its_schedule(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """``drop_response:every=2`` loses the answer of the second matching request, not the first
    (an order's preview comes before the order): the request is handled all the same."""
    sim.faults.clear()
    sim.faults.add_spec("drop_response:path=tickle:methods=POST:every=2:count=1")
    first = await client.post("/tickle")
    assert first.status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/tickle")
    assert (await client.post("/tickle")).status_code == 200  # count=1: once only
    assert [rule.hits for rule in sim.faults.rules] == [1]


async def test_a_path_ending_in_a_dollar_matches_that_path_only(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    """``path=.../orders$``: an order's POST, not its preview's (``.../orders/whatif``)."""
    await brokerage(client)
    sim.faults.add_spec("gone410:path=iserver/account/orders$:count=1")
    assert (await client.get("/iserver/account/orders/U1234567")).status_code != 410
    assert (await client.get("/iserver/account/orders")).status_code == 410


async def test_retry_after_answers_429_with_the_header(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    sim.faults.misbehave("retry_after", seconds=900)
    r = await client.get("/portfolio/accounts")
    assert (r.status_code, r.headers["retry-after"]) == (429, "900")


def test_the_spec_format() -> None:
    rules = parse_faults("gone410:every=10:burst=3, nobridge:count=2,emptydh:count=2")
    assert [(r.kind, r.every, r.burst, r.count) for r in rules] == [
        ("gone410", 10, 3, None),
        ("nobridge", None, 1, 2),
        ("emptydh", None, 1, 2),
    ]
    assert rules[2].path_prefix.endswith("/oauth/live_session_token")
    assert {r.kind for r in parse_faults("all")} == {
        "gone410",
        "spurious401",
        "emptydh",
        "nobridge",
        "placeholders",
        "reset",
        "trickle",
        "reply503",
        "post429carried",
        "post5xxcarried",
        "wsdrop",
        "wsstall",
        "wsgarbage",
    }
    for bad, words in [
        ("gone411", "unknown fault 'gone411'"),
        ("gone410:every=0", "every='0'"),
        ("trickle:speed=1", "unknown option 'speed'"),
        ("placeholders:rate=2", "rate='2'"),
        ("reset:every", "not name=value"),
    ]:
        with pytest.raises(FaultSpecError, match=words):
            parse_faults(bad)


def test_ibtui_sim_takes_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--faults", "gone410,reset:every=50"]).faults == "gone410,reset:every=50"
    with pytest.raises(SystemExit):
        parse_args(["--faults", "nonsense"])
    assert "unknown fault 'nonsense'" in capsys.readouterr().err


class _NoAuth:
    """An authenticator with no routes: enough to build the app."""

    def routes(self) -> list[object]:
        return []


def test_ibtui_sim_serves_a_portfolio_of_the_size_asked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from ibtui.sim import PAPER_ACCOUNT
    from ibtui.sim.serve import simulator_app

    options = parse_args(["--portfolio-size", "5000", "--state-dir", str(tmp_path)])
    assert options.portfolio_size == 5000
    assert parse_args([]).portfolio_size is None
    app = simulator_app(_NoAuth(), options)  # type: ignore[arg-type]
    sim = app.state.sim  # type: ignore[attr-defined]
    assert len(sim.broker.accounts[PAPER_ACCOUNT].positions) == 5000
    for bad, words in [("5001", "between 0 and 5000"), ("many", "not a whole number")]:
        with pytest.raises(SystemExit):
            parse_args(["--portfolio-size", bad])
        assert words in capsys.readouterr().err
