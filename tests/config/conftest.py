"""What the settings' tests share: canary secrets, a config file writer, and every test
kept away from the real home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ibtui.config import ConfigError, load_settings

# canaries: if one of these shows up in a message or repr, a secret leaked
SECRET = "Q0FOQVJZU0VDUkVUY2FuYXJ5c2VjcmV0Q0FOQVJZU0VDUkVU"  # valid base64
TOKEN = "c0ffee0000canary0000"


@pytest.fixture(autouse=True)
def platform_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """platformdirs reads XDG_* from os.environ: keep every test away from the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def write_config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / "conf" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # as `ibtui init` writes it (a config holding a secret must be private)
    return path


def problems_of(path: Path | None, text: str = "", env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env=env or {})
    return str(info.value)


FULL = f"""
[ibkr]
base_url = "https://5.api.ibkr.com/v1/api"
consumer_key = "ABCDEFGHI"
signature_key = "keys/private_signature.pem"
encryption_key = "/abs/private_encryption.pem"
dh_params = "dhparam.pem"
access_token = "{TOKEN}"
access_token_secret = "{SECRET}"

[ui]
poll_interval = 1
theme = "nord"
bell = false
idle_lock_minutes = 15

[keymap]
quit = "ctrl+q, q"
"positions.sort" = "s"

[orders]
max_order_value = 25000
max_quantity = 500.5
max_price_deviation_pct = 2.5
precaution_action = "block"

[orders.questions]
o163 = "confirm"
P12 = "reject"
o354 = "ask"

[paths]
state_dir = "state"
"""


# --- files of another user; POSIX owners and modes ------------------------------------------

OTHER_UID = 4242  # a user id that is not ours (the tests may run as root, who can chown)
needs_posix = pytest.mark.skipif(os.name == "nt", reason="POSIX owners and permission bits")


def other_owner(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(path, OTHER_UID, -1)
