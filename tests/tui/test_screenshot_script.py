"""screenshots/make_screenshots.py on the real demo: every screen is written, and no SVG holds a
secret (the access token secret, the live session token, the consumer's private keys)."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from Crypto.PublicKey import RSA

REPO = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    path = REPO / "screenshots" / "make_screenshots.py"
    spec = importlib.util.spec_from_file_location("make_screenshots", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def secret_forms(value: bytes | str) -> set[str]:
    """How a secret could appear in text: as is, hex, base64."""
    raw = value.encode() if isinstance(value, str) else value
    forms = {raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode()}
    if isinstance(value, str):
        forms.add(value)
    return {form for form in forms if len(form) >= 8}


def key_lines(key: RSA.RsaKey) -> set[str]:
    pem = key.export_key().decode().splitlines()
    return {line for line in pem if not line.startswith("-----") and len(line) >= 16}


async def test_screenshots_of_every_screen_without_secrets(tmp_path: Path) -> None:
    script = load_script()
    result = await script.capture(tmp_path, key_bits=1024)

    assert set(result.svgs) == set(script.NAMES)
    svgs = {name: path.read_text() for name, path in result.svgs.items()}
    for name, path in result.svgs.items():
        assert path.parent == tmp_path and path.suffix == ".svg"
        assert svgs[name].lstrip().startswith("<svg"), name
    assert "verifier" in svgs["login"] and "authorize" in svgs["login"]
    assert "PAPER" in svgs["accounts"] and "LIVE" in svgs["accounts"]
    assert "AAPL" in svgs["positions"]
    assert "Keys" in svgs["help"]

    # what must never be drawn
    demo = result.demo
    (access,) = result.access
    issued = demo.server.access_token_info(access.access_token)
    assert issued is not None
    session = demo.server._tokens.sessions[access.access_token]  # the simulator's LST record
    secrets = (
        secret_forms(access.access_token_secret)  # encrypted, as IBKR issues it
        | secret_forms(issued.secret)  # its plaintext
        | secret_forms(session.lst)
        | secret_forms(base64.b64decode(session.lst))
        | key_lines(demo.consumer.signature_key)
        | key_lines(demo.consumer.encryption_key)
    )
    assert len(secrets) > 10
    for name, text in svgs.items():
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"{name}.svg shows a secret"
