"""The token store: the access token and its encrypted secret that a third-party login
(``ibtui login``) keeps in the state folder, written atomically with mode 0600 and read only
from the user's own regular file that no one else can read."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ibtui.config.file import CONFIG_SIZE_LIMIT
from ibtui.config.schema import SCHEMA, BadValue, coerce
from ibtui.local.files import ConfigError, open_private, read_at_most, write_private

__all__ = ["StoredTokens", "load_tokens", "save_tokens"]


@dataclass(frozen=True, repr=False, slots=True)
class StoredTokens:
    """An access token and its encrypted secret from a third-party login (OAUTH.md §8)."""

    access_token: str
    access_token_secret: str
    is_paper: bool | None = None

    def __repr__(self) -> str:
        return (
            f"StoredTokens(access_token='***', access_token_secret='***', is_paper={self.is_paper})"
        )


_TOKEN_FORMAT = 1


def save_tokens(
    path: Path, access_token: str, access_token_secret: str, is_paper: bool | None
) -> None:
    """Write the token file atomically with mode 0600."""
    record = {
        "format": _TOKEN_FORMAT,
        "access_token": access_token,
        "access_token_secret": access_token_secret,
        "is_paper": is_paper,
    }
    write_private(path, json.dumps(record, indent=2) + "\n")


def load_tokens(path: Path) -> StoredTokens | None:
    """The stored tokens, or ``None`` when there is no token file (a login is needed).

    The file is opened without following a symbolic link and must be a regular file of the
    user's (:class:`UnsafePathError`) that group and others cannot read
    (:class:`InsecureFileError`); a damaged file gives a :class:`ConfigError` that says to
    delete it and log in again.
    """
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except ConfigError:
        raise
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the token file: {exc.strerror}") from exc
    try:
        raw = read_at_most(fd, CONFIG_SIZE_LIMIT)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the token file: {exc.strerror}") from exc
    finally:
        os.close(fd)
    damaged = (
        f"{path}: not a valid ibtui token file ({{}}); delete it and log in again (ibtui login)"
    )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(damaged.format("not JSON")) from exc
    if not isinstance(data, dict):
        raise ConfigError(damaged.format("not a JSON object"))
    token, secret, paper = (
        data.get("access_token"),
        data.get("access_token_secret"),
        data.get("is_paper"),
    )
    if not isinstance(token, str) or not token.strip():
        raise ConfigError(damaged.format("no access_token"))
    if not isinstance(secret, str):
        raise ConfigError(damaged.format("no access_token_secret"))
    try:
        secret = coerce(
            SCHEMA["ibkr"]["access_token_secret"], secret, from_text=True, base_dir=path.parent
        )
    except BadValue as exc:
        raise ConfigError(damaged.format("access_token_secret is not base64")) from exc
    if paper is not None and not isinstance(paper, bool):
        raise ConfigError(damaged.format("is_paper is not true, false or null"))
    return StoredTokens(token.strip(), cast(str, secret), paper)
