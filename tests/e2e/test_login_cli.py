"""``ibtui login`` against ``ibtui sim`` on a loopback socket, the verifier fed through stdin,
then ``ibtui positions`` running on the stored token."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.sim_process import sim_process

REPO = Path(__file__).resolve().parents[2]
URL = re.compile(r"(http://127\.0\.0\.1:\d+/authorize\?oauth_token=\S+)")


def third_party_config(state: Path) -> Path:
    """The simulator's config without its first-party token, with a state dir of its own."""
    lines = (state / "config.toml").read_text().splitlines()
    kept = [line for line in lines if not line.startswith("access_token")]
    kept += ["[paths]", f'state_dir = "{state / "client"}"']
    path = state / "login.toml"
    path.write_text("\n".join(kept) + "\n")
    return path


def approve_in_browser(authorize_url: str) -> str:
    """What the trader does in the browser: log in on the authorize page, copy the verifier."""
    page = httpx.get(authorize_url).text
    username, password = re.findall(r"<code>([^<]+)</code>", page)[:2]
    token = authorize_url.split("oauth_token=", 1)[1]
    form = {"oauth_token": token, "username": username, "password": password}
    done = httpx.post(authorize_url.split("?", 1)[0], data=form).text
    match = re.search(r"<code id=oauth_verifier>([^<]+)</code>", done)
    assert match, done
    return match.group(1)


def start_login(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ibtui", "login", "--config", str(config), *extra],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_authorize_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        match = URL.search(line)
        if match:
            return match.group(1)
    raise AssertionError(f"no authorize URL in {seen}")


def test_login_through_stdin_then_positions_on_the_stored_token(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with sim_process(["--port", "0", "--state-dir", str(state), "--no-pacing"]):
        config = third_party_config(state)

        before = subprocess.run(
            [sys.executable, "-m", "ibtui", "positions", "--config", str(config)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert before.returncode == 1 and "ibtui login" in before.stderr

        login = start_login(config)
        verifier = approve_in_browser(read_authorize_url(login))
        out, err = login.communicate(verifier + "\n", timeout=60)
        assert login.returncode == 0, err
        assert "Logged in" in out

        token_file = state / "client" / "tokens.json"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert verifier not in token_file.read_text()

        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ibtui",
                "positions",
                "--config",
                str(config),
                "--account",
                "DU4820311",
                "--format",
                "json",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert any(row["symbol"] == "AAPL" for row in json.loads(done.stdout))

        again = start_login(config)
        out, err = again.communicate("", timeout=60)
        assert again.returncode == 0 and "already stored" in out

        wrong = start_login(config, "--force")
        read_authorize_url(wrong)
        out, err = wrong.communicate("not-the-verifier\n", timeout=60)
        assert wrong.returncode == 1
        assert err.count("\n") == 1 and "did not accept the verifier" in err
        assert "consumer key" not in err and "Traceback" not in err
        assert json.loads(token_file.read_text())["access_token"]  # the old token is kept
