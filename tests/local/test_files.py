"""Private files: atomic 0600 writes, ssh-style permission checks, append-only journals."""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

import pytest

from ibtui.local.files import (
    ConfigError,
    InsecureFileError,
    UnsafePathError,
    append_private_line,
    check_private_dir,
    check_private_permissions,
    open_private,
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


# --- planted files and shared folders (ssh's rules) -----------------------------------------

OTHER_UID = 4242  # a user id that is not ours (the tests may run as root, who can chown)


def other_owner(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(path, OTHER_UID, -1, follow_symlinks=False)


def test_a_symlink_planted_at_the_journal_is_refused_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    target.chmod(0o644)
    journal = tmp_path / "journal.jsonl"
    journal.symlink_to(target)
    with pytest.raises(UnsafePathError) as info:
        append_private_line(journal, '{"n": 1}')
    assert str(info.value) == (
        f"{journal}: is a symbolic link, which ibtui does not follow for a private file (it could "
        f"point anywhere). Fix: remove the link (rm {journal})"
    )
    assert isinstance(info.value, OSError)  # the order journal's callers handle OSError
    assert target.read_text() == "precious\n"
    assert mode_of(target) == 0o644


def test_a_dangling_symlink_is_not_followed_to_create_its_target(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.symlink_to(tmp_path / "created-elsewhere")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        append_private_line(journal, "x")
    assert not (tmp_path / "created-elsewhere").exists()


def test_a_fifo_or_folder_at_the_journal_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match="not a regular file"):
        append_private_line(fifo, "x")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(UnsafePathError, match="not a regular file"):
        append_private_line(folder, "x")


def test_another_users_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    append_private_line(journal, "mine")
    other_owner(journal)
    with pytest.raises(UnsafePathError) as info:
        append_private_line(journal, "x")
    assert str(info.value) == (
        f"{journal}: belongs to another user (uid {OTHER_UID}, you are uid {os.geteuid()}); "
        "ibtui keeps private data only in files of your own"
    )
    assert journal.read_text() == "mine\n"


def test_a_loose_mode_on_the_users_own_journal_is_set_back_to_0600_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text("old\n")
    journal.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="ibtui.local.files"):
        append_private_line(journal, "new")
    assert journal.read_text() == "old\nnew\n"
    assert mode_of(journal) == 0o600
    assert [r.getMessage() for r in caplog.records] == [
        f"{journal}: permissions 0644 were too open for a private file; set to 0600"
    ]


def test_a_partial_last_line_is_ended_in_the_same_write(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    append_private_line(journal, "a", end_partial_line=True)  # empty file: nothing to end
    with journal.open("a") as f:
        f.write("cut")
    append_private_line(journal, "b", end_partial_line=True)
    append_private_line(journal, "c", end_partial_line=True)
    assert journal.read_text() == "a\ncut\nb\nc\n"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757, 0o1777])
def test_a_folder_others_can_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    state = tmp_path / "my state"
    state.mkdir()
    state.chmod(mode)
    with pytest.raises(UnsafePathError) as info:
        append_private_line(state / "journal.jsonl", "x")
    writers = {0o777: "group and others", 0o770: "group", 0o757: "others", 0o1777: "group and "
               "others"}[mode]  # fmt: skip
    fix = "keep the files in a folder of your own" if mode & 0o1000 else f"chmod go-w '{state}'"
    assert str(info.value) == (
        f"{state}: permissions {mode:04o} are too open: the folder is writable by {writers}, "
        f"who could change what ibtui reads there. Fix: {fix}"
    )
    assert isinstance(info.value, ConfigError) and isinstance(info.value, OSError)
    assert list(state.iterdir()) == []
    with pytest.raises(UnsafePathError):
        write_private(state / "tokens.json", b"secret")
    assert list(state.iterdir()) == []


def test_another_users_folder_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    other_owner(state)
    with pytest.raises(UnsafePathError) as info:
        check_private_dir(state, "state folder")
    assert str(info.value) == (
        f"{state}: the state folder belongs to another user (uid {OTHER_UID}, you are uid "
        f"{os.geteuid()}), who could change what ibtui reads there; use a state folder of your own"
    )


def test_private_and_read_only_shared_folders_pass(tmp_path: Path) -> None:
    for mode in (0o700, 0o755, 0o750):
        folder = tmp_path / f"f{mode:o}"
        folder.mkdir()
        folder.chmod(mode)
        check_private_dir(folder)
    check_private_dir(Path(tempfile.mkdtemp(dir=tmp_path)))  # what `ibtui demo` makes


def test_open_private_refuses_a_readable_file_unless_told_to_tighten(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text("{}")
    tokens.chmod(0o640)
    with pytest.raises(InsecureFileError, match="permissions 0640 are too open"):
        open_private(tokens, os.O_RDONLY)
    assert mode_of(tokens) == 0o640


def test_a_fifo_opened_for_reading_is_refused_once_open(tmp_path: Path) -> None:
    fifo = tmp_path / "tokens.json"
    os.mkfifo(fifo, 0o600)  # opening it to read succeeds at once (O_NONBLOCK): fstat refuses it
    with pytest.raises(UnsafePathError, match="not a regular file"):
        open_private(fifo, os.O_RDONLY)
