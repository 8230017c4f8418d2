"""Private files: atomic 0600 writes, ssh-style permission checks, append-only journals."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ibtui.local.files import (
    ConfigError,
    InsecureFileError,
    append_private_line,
    check_private_permissions,
    write_private,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_creates_file_and_parents_private(tmp_path: Path) -> None:
    target = tmp_path / "state" / "ibtui" / "tokens.json"
    write_private(target, "héllo")
    assert target.read_bytes() == "héllo".encode()
    assert mode_of(target) == 0o600
    assert mode_of(tmp_path / "state") == 0o700
    assert mode_of(tmp_path / "state" / "ibtui") == 0o700


def test_write_private_replaces_an_open_file_and_tightens_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "tokens.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, b"new")
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.json"]


def test_write_private_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "a" / "f", b"x")
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "a" / "f") == 0o600
    assert mode_of(tmp_path / "a") == 0o700


def test_existing_parent_directory_keeps_its_mode(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir(mode=0o755)
    parent.chmod(0o755)
    write_private(parent / "f", b"x")
    assert mode_of(parent) == 0o755


def test_failed_rename_keeps_old_content_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "tokens.json"
    write_private(target, b"old")

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space left"):
        write_private(target, b"new content")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "tokens.json"

    def boom(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="Input/output"):
        write_private(target, b"new")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_private_modes_pass(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "key.pem"
    key.write_text("k")
    key.chmod(mode)
    check_private_permissions(key)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601, 0o610])
def test_group_or_other_access_is_refused_like_ssh(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "private signature.pem"
    key.write_text("k")
    key.chmod(mode)
    with pytest.raises(InsecureFileError) as info:
        check_private_permissions(key)
    message = str(info.value)
    assert str(key) in message
    assert f"{mode:04o}" in message
    assert f"chmod 600 '{key}'" in message  # quoted: the name has a space
    assert info.value.mode == mode
    assert isinstance(info.value, ConfigError)


def test_permission_check_follows_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.pem"
    real.write_text("k")
    real.chmod(0o644)
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    with pytest.raises(InsecureFileError, match="chmod 600"):
        check_private_permissions(link)


def test_permission_check_of_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        check_private_permissions(tmp_path / "nope.pem")


def test_append_private_line_creates_0600_and_appends(tmp_path: Path) -> None:
    journal = tmp_path / "journal" / "orders.jsonl"
    append_private_line(journal, '{"n": 1}')
    append_private_line(journal, '{"n": 2}', fsync=False)
    assert journal.read_text() == '{"n": 1}\n{"n": 2}\n'
    assert mode_of(journal) == 0o600
    assert mode_of(journal.parent) == 0o700


def test_append_private_line_rejects_line_breaks(tmp_path: Path) -> None:
    journal = tmp_path / "orders.jsonl"
    append_private_line(journal, "a")
    with pytest.raises(ValueError, match="line break"):
        append_private_line(journal, "b\nc")
    assert journal.read_text() == "a\n"
