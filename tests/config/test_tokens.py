"""The token store: round trip in a private file, atomic saves, damaged or foreign files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ibtui.config import ConfigError, InsecureFileError, StoredTokens, load_tokens, save_tokens
from ibtui.local import files
from tests.config.conftest import OTHER_UID, SECRET, TOKEN, needs_posix, other_owner


def test_tokens_round_trip_in_a_private_file(tmp_path: Path) -> None:
    token_file = tmp_path / "state" / "tokens.json"
    assert load_tokens(token_file) is None
    save_tokens(token_file, TOKEN, SECRET, True)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert load_tokens(token_file) == StoredTokens(TOKEN, SECRET, True)
    save_tokens(token_file, "0123456789abcdef0123", SECRET, None)
    assert load_tokens(token_file) == StoredTokens("0123456789abcdef0123", SECRET, None)
    assert json.loads(token_file.read_text())["is_paper"] is None


def test_stored_tokens_repr_hides_them(tmp_path: Path) -> None:
    tokens = StoredTokens(TOKEN, SECRET, False)
    assert SECRET not in repr(tokens) and TOKEN not in str(tokens)
    assert "is_paper=False" in repr(tokens)


def test_world_readable_token_file_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens.json"
    save_tokens(token_file, TOKEN, SECRET, False)
    token_file.chmod(0o644)
    with pytest.raises(InsecureFileError) as info:
        load_tokens(token_file)
    assert str(info.value) == (
        f"{token_file}: permissions 0644 are too open: this file holds secret material and "
        f"must be accessible only by you. Fix: chmod 600 {token_file}"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"access_token_secret": "QQ=="}', "no access_token"),
        ('{"access_token": "abc"}', "no access_token_secret"),
        (
            '{"access_token": "abc", "access_token_secret": "%%%"}',
            "access_token_secret is not base64",
        ),
        (
            '{"access_token": "abc", "access_token_secret": "QQ==", "is_paper": "yes"}',
            "is_paper is not true, false or null",
        ),
    ],
)
def test_damaged_token_file_says_to_log_in_again(tmp_path: Path, content: str, reason: str) -> None:
    token_file = tmp_path / "tokens.json"
    files.write_private(token_file, content)
    with pytest.raises(ConfigError) as info:
        load_tokens(token_file)
    assert str(info.value) == (
        f"{token_file}: not a valid ibtui token file ({reason}); "
        "delete it and log in again (ibtui login)"
    )


def test_failed_token_save_keeps_the_previous_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "tokens.json"
    save_tokens(token_file, TOKEN, SECRET, False)

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_tokens(token_file, "ffffffffffffffffffff", SECRET, True)
    assert load_tokens(token_file) == StoredTokens(TOKEN, SECRET, False)
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


@needs_posix
def test_the_token_file_is_not_read_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    save_tokens(real, TOKEN, SECRET, False)
    token_file = tmp_path / "tokens.json"
    token_file.symlink_to(real)
    with pytest.raises(ConfigError) as info:
        load_tokens(token_file)
    assert str(info.value).startswith(f"{token_file}: is a symbolic link, which ibtui does not")


@needs_posix
def test_another_users_token_file_is_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens.json"
    save_tokens(token_file, TOKEN, SECRET, False)
    other_owner(token_file)
    with pytest.raises(ConfigError, match=f"belongs to another user \\(uid {OTHER_UID}"):
        load_tokens(token_file)
