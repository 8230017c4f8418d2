"""``ibtui sim`` on a real loopback socket: provisioning, instructions, OAuth over TCP, signals.

These run ``serve()`` with the OAuth routes and one signed endpoint instead of the whole simulator
(see ``sim_process.OAUTH_ONLY``), so they check this layer alone; test_ibind.py runs the real one.
"""

from __future__ import annotations

import base64
import signal
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest

from ibtui.ibkr import oauth

from .sim_process import REPO, load_env_file, sim_process

FAST_KEYS = ["--key-bits", "1024"]
SERVE = [sys.executable, "-m", "ibtui", "sim"]


def signed_session(client: httpx.Client, state: Path) -> tuple[dict[str, str], str]:
    """A client that read only the folder: it gets an LST over the socket like any client."""
    config = tomllib.loads((state / "config.toml").read_text())["ibkr"]
    signature_key = oauth.load_rsa_key((state / config["signature_key"]).read_bytes())
    encryption_key = oauth.load_rsa_key((state / config["encryption_key"]).read_bytes())
    dh = oauth.parse_dh_params((state / config["dh_params"]).read_bytes())
    secret = oauth.decrypt_access_token_secret(encryption_key, config["access_token_secret"])
    exponent = oauth.generate_dh_exponent()
    params = {
        "diffie_hellman_challenge": oauth.dh_challenge(dh, exponent),
        "oauth_consumer_key": config["consumer_key"],
        "oauth_nonce": oauth.generate_nonce(),
        "oauth_signature_method": "RSA-SHA256",
        "oauth_timestamp": oauth.Timestamper()(),
        "oauth_token": config["access_token"],
    }
    url = config["base_url"] + "oauth/live_session_token"
    signed = oauth.sign_rsa_request(
        "POST", url, config["realm"], params, signature_key, prepend=secret.hex()
    )
    response = client.post(url, headers={"Authorization": signed.header})
    assert response.status_code == 200, response.text
    body = response.json()
    raw = oauth.compute_lst(dh, exponent, body["diffie_hellman_response"], secret)
    assert oauth.validate_lst(raw, config["consumer_key"], body["live_session_token_signature"])
    return config, base64.b64encode(raw).decode()


def signed_get(
    client: httpx.Client,
    config: dict[str, str],
    lst: str,
    url: str,
    *,
    host: str | None = None,
    signed_url: str | None = None,
) -> httpx.Response:
    params = {
        "oauth_consumer_key": config["consumer_key"],
        "oauth_nonce": oauth.generate_nonce(),
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": oauth.Timestamper()(),
        "oauth_token": config["access_token"],
    }
    header = oauth.sign_hmac_request("GET", signed_url or url, config["realm"], params, lst).header
    headers = {"Authorization": header, **({"Host": host} if host else {})}
    return client.get(url, headers=headers)


def test_serve_provisions_the_folder_and_verifies_over_tcp(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with sim_process(
        ["--port", "0", "--state-dir", str(state), *FAST_KEYS], oauth_only=True
    ) as sim:
        stdout = "\n".join(sim.lines)
        config = tomllib.loads((state / "config.toml").read_text())["ibkr"]
        assert config["base_url"] == sim.base_url == f"http://127.0.0.1:{sim.port}/v1/api/"
        assert f"ibtui --config {state / 'config.toml'}" in stdout
        for name in ("IBIND_USE_OAUTH=true", f"IBIND_OAUTH1A_REST_URL={sim.base_url}"):
            assert name in stdout
        assert f"IBIND_OAUTH1A_ACCESS_TOKEN={config['access_token']}" in stdout
        assert f"IBIND_OAUTH1A_CONSUMER_KEY={config['consumer_key']}" in stdout
        assert f"IBIND_OAUTH1A_SIGNATURE_KEY_FP={state / 'private_signature.pem'}" in stdout
        assert "IBIND_OAUTH1A_DH_PRIME=f51d7ab737a4" in stdout
        assert config["access_token_secret"] not in stdout  # the secret stays in the files
        env = load_env_file(sim.ibind_env_file())
        assert env["IBIND_OAUTH1A_ACCESS_TOKEN_SECRET"] == config["access_token_secret"]
        for name in ("config.toml", "private_signature.pem", "private_encryption.pem"):
            assert stat.S_IMODE((state / name).stat().st_mode) == 0o600

        with httpx.Client(timeout=10) as client:
            config, lst = signed_session(client, state)
            whoami = sim.base_url + "whoami"
            response = signed_get(client, config, lst, whoami)
            assert response.status_code == 200
            assert response.json() == {
                "consumer_key": config["consumer_key"],
                "token": config["access_token"],
            }
            query = signed_get(client, config, lst, whoami + "?conids=265598,8314&fields=31")
            assert query.status_code == 200
            unsigned = client.get(whoami)
            assert unsigned.status_code == 401
            assert unsigned.json()["error"].endswith("error: missing Authorization header")
            # ibind signs the URL it uses but sends "Host: api.ibkr.com": the listening origin
            # verifies; a signature for another port does not
            ibind_like = signed_get(client, config, lst, whoami, host="api.ibkr.com")
            assert ibind_like.status_code == 200
            other_port = whoami.replace(str(sim.port), str(sim.port + 1))
            forged = signed_get(client, config, lst, whoami, signed_url=other_port)
            assert forged.status_code == 401
            assert forged.json()["error"].endswith("error: invalid signature")
            page = client.get(f"http://127.0.0.1:{sim.port}/authorize?oauth_token=nope")
            assert page.status_code == 400 and "invalid" in page.text

        assert sim.stop(signal.SIGTERM) == 0
        assert sim.read_until("stopped") == "ibtui sim: stopped (SIGTERM)"


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    args = ["--state-dir", str(tmp_path / "s"), *FAST_KEYS]
    with sim_process(args, oauth_only=True) as sim:
        assert sim.stop(signal.SIGINT) == 0
        assert sim.read_until("stopped") == "ibtui sim: stopped (SIGINT)"
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", sim.port), timeout=2):
            pass


def test_restart_on_another_port_keeps_the_client_setup(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["--state-dir", str(state), *FAST_KEYS]
    with sim_process(args, oauth_only=True) as first:
        first_config = tomllib.loads((state / "config.toml").read_text())["ibkr"]
        key = (state / "private_signature.pem").read_bytes()
        assert first.stop() == 0
    with sim_process(args, oauth_only=True) as second:
        config = tomllib.loads((state / "config.toml").read_text())["ibkr"]
        assert config == {**first_config, "base_url": second.base_url}
        assert (state / "private_signature.pem").read_bytes() == key
        with httpx.Client(timeout=10) as client:
            config, lst = signed_session(client, state)
            assert signed_get(client, config, lst, second.base_url + "whoami").status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_non_loopback_hosts_are_refused(host: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [*SERVE, "--host", host, "--state-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr or "not an IP address" in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_port_in_use_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*SERVE, "--port", str(port), "--state-dir", str(tmp_path / "s")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"ibtui sim: cannot listen on 127.0.0.1:{port}" in result.stderr
