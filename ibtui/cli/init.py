"""``ibtui init``: everything a new IBKR OAuth consumer needs, made locally, and a config to match.

It writes two 2048-bit RSA key pairs (signature and encryption), 2048-bit Diffie-Hellman
parameters (the RFC 3526 group 14 prime, generator 2: a published safe prime, as good as a fresh
``openssl dhparam`` and instant), the public halves to upload to IBKR's OAuth self-service page,
and ``config.toml`` pointing at them. Private files are written atomically with mode 0600;
existing files are never overwritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from Crypto.PublicKey import RSA

from ibtui.config import ConfigError, default_config_path
from ibtui.config.credentials import RFC3526_GROUP14_PRIME
from ibtui.ibkr.oauth import DHParams, dh_params_pem
from ibtui.local.files import ensure_private_dir, write_private

__all__ = ["RFC3526_GROUP14_PRIME", "main", "write_consumer_files"]


FILES = {
    "signature": "private_signature.pem",
    "signature_public": "public_signature.pem",
    "encryption": "private_encryption.pem",
    "encryption_public": "public_encryption.pem",
    "dh": "dhparam.pem",
    "config": "config.toml",
}

CONFIG_TEMPLATE = """\
# Written by `ibtui init`. Key paths are relative to this file's folder.
[ibkr]
base_url = "https://api.ibkr.com/v1/api/"
consumer_key = "{consumer_key}"
signature_key = "private_signature.pem"
encryption_key = "private_encryption.pem"
dh_params = "dhparam.pem"
# First party (IBKR's OAuth self-service page shows these once):
# access_token = "..."
# access_token_secret = "..."
# Third party: leave them out and run `ibtui login`.

[ui]
poll_interval = 2.0

[orders]
max_order_value = 50000
precaution_action = "warn"
"""


def write_consumer_files(
    folder: Path, consumer_key: str = "YOURKEY01", *, key_bits: int = 2048
) -> dict[str, Path]:
    """Write the key pairs, DH parameters and config into ``folder``; the paths written.

    Raises :class:`ConfigError` (nothing written) when any of the files already exists.
    """
    paths = {name: folder / file for name, file in FILES.items()}
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing:
        raise ConfigError(
            f"not overwriting {', '.join(existing)}: choose an empty folder (--dir) or move them"
        )
    ensure_private_dir(folder)
    for role in ("signature", "encryption"):
        key = RSA.generate(key_bits)
        write_private(paths[role], key.export_key("PEM", pkcs=8))
        write_private(paths[f"{role}_public"], key.public_key().export_key("PEM"))
    write_private(paths["dh"], dh_params_pem(DHParams(prime=RFC3526_GROUP14_PRIME, generator=2)))
    write_private(paths["config"], CONFIG_TEMPLATE.format(consumer_key=consumer_key))
    return paths


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ibtui init",
        description="Create RSA keys, DH parameters and config.toml for an IBKR OAuth consumer.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        help=f"folder to write into (default: the config folder, {default_config_path().parent})",
    )
    parser.add_argument(
        "--consumer-key", default="YOURKEY01", help="the consumer key you chose at IBKR"
    )
    args = parser.parse_args(argv)
    folder = (args.dir or default_config_path().parent).expanduser()
    try:
        paths = write_consumer_files(folder, args.consumer_key)
    except (ConfigError, OSError) as exc:
        print(f"ibtui init: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {folder} (private files mode 0600):")
    for path in paths.values():
        print(f"  {path.name}")
    print(
        "\nNext:\n"
        "  1. On IBKR's OAuth self-service page (logged in with your live username), upload\n"
        f"     {paths['signature_public'].name}, {paths['encryption_public'].name} and "
        f"{paths['dh'].name}, and choose a consumer key.\n"
        f"  2. Put that consumer key into {paths['config']}.\n"
        "  3. First party: paste the access token and secret the page shows into the config.\n"
        "     Third party: run `ibtui login`.\n"
        "  4. Run `ibtui`. (A new consumer key can take until the next day to become active.)"
    )
    return 0
