"""The config file: TOML syntax errors located by line, column and key; the file and its
folders checked as ssh would check them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ibtui.config import ConfigError, ConfigSyntaxError, InsecureFileError, load_settings
from tests.config.conftest import (
    OTHER_UID,
    SECRET,
    needs_posix,
    other_owner,
    problems_of,
    write_config,
)

# --- TOML syntax: line, column, key ---------------------------------------------------------


def test_syntax_error_names_file_line_column_and_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nbase_url = "https://x/"\nconsumer_key = ABC\n')
    with pytest.raises(ConfigSyntaxError) as info:
        load_settings(path, env={})
    err = info.value
    assert (err.line, err.column, err.key) == (3, 16, "ibkr.consumer_key")
    assert str(err) == f"{path}: line 3, column 16 (key 'ibkr.consumer_key'): Invalid value"


def test_syntax_error_at_end_of_file_points_at_the_last_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ui]\ntheme = "a"\n\n[ibkr]\nconsumer_key = """ABC\n\n')
    with pytest.raises(ConfigSyntaxError) as info:
        load_settings(path, env={})
    assert str(info.value) == (
        f"{path}: line 5, column 22 (key 'ibkr.consumer_key'): Unterminated string (at end of file)"
    )


def test_syntax_error_without_a_key(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[ui]\n[ui]\n")
    with pytest.raises(ConfigSyntaxError, match=r"line 2, column 4: Cannot declare"):
        load_settings(path, env={})


def test_integer_too_long_for_python_is_a_syntax_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[ui]\nidle_lock_minutes = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigSyntaxError) as info:
        load_settings(path, env={})
    assert str(info.value) == (
        f"{path}: line 2, column 21 (key 'ui.idle_lock_minutes'): a number too long to read"
    )


@pytest.mark.parametrize(
    ("value", "column"),
    [("[" * 5000 + "]" * 5000, 8 + 99), ("{a = " * 5000 + "}" * 5000, 8 + 5 * 99)],
    ids=["arrays", "inline tables"],
)
def test_values_nested_too_deeply_are_a_syntax_error(
    tmp_path: Path, value: str, column: int
) -> None:
    path = write_config(tmp_path, f'[ui]\ntheme = "nord"\n[keymap]\nquit = {value}\n')
    with pytest.raises(ConfigSyntaxError) as info:
        load_settings(path, env={})
    assert str(info.value) == (
        f"{path}: line 4, column {column} (key 'keymap.quit'): "
        "arrays or tables nested too deeply to read"
    )


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[ui]\ntheme = "caf\xe9"\n')
    with pytest.raises(ConfigSyntaxError) as info:
        load_settings(path, env={})
    assert str(info.value) == f"{path}: line 2, column 13: not valid UTF-8 text"


def test_config_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(tmp_path, env={})


# --- the file and its folders: what ssh would refuse ----------------------------------------


@needs_posix
@pytest.mark.parametrize(("mode", "writers"), [(0o666, "group and others"), (0o620, "group")])
def test_a_config_others_can_write_to_is_refused(tmp_path: Path, mode: int, writers: str) -> None:
    path = write_config(tmp_path, '[ui]\ntheme = "nord"\n')
    path.chmod(mode)
    assert problems_of(path) == (
        f"{path}: permissions {mode:04o} are too open: the config file is writable by "
        f"{writers}, who could change what ibtui reads there. Fix: chmod 600 {path}"
    )


@needs_posix
def test_a_config_without_secrets_may_be_readable_by_others(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ui]\ntheme = "nord"\n')
    path.chmod(0o644)
    assert load_settings(path, env={}).ui.theme == "nord"


@needs_posix
@pytest.mark.parametrize("key", ["access_token", "access_token_secret"])
def test_a_config_holding_a_secret_must_be_readable_by_the_user_only(
    tmp_path: Path, key: str
) -> None:
    path = write_config(tmp_path, f'[ibkr]\n{key} = "{SECRET}"\n')
    path.chmod(0o640)
    with pytest.raises(InsecureFileError) as info:
        load_settings(path, env={})
    assert str(info.value) == (
        f"{path}: permissions 0640 are too open: this file holds secret material and "
        f"must be accessible only by you. Fix: chmod 600 {path}"
    )


@needs_posix
def test_another_users_config_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ui]\ntheme = "nord"\n')
    other_owner(path)
    assert problems_of(path) == (
        f"{path}: the config file belongs to another user (uid {OTHER_UID}, you are uid "
        f"{os.geteuid()}), who could change what ibtui reads there; use a config file of your own"
    )


@needs_posix
def test_a_config_in_a_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ui]\ntheme = "nord"\n')
    path.parent.chmod(0o777)
    assert problems_of(path) == (
        f"{path.parent}: permissions 0777 are too open: the config file's folder is writable "
        f"by group and others, who could change what ibtui reads there. "
        f"Fix: chmod go-w {path.parent}"
    )


@needs_posix
def test_a_symlinked_config_is_judged_by_both_folders(tmp_path: Path) -> None:
    real = write_config(tmp_path, '[ui]\ntheme = "nord"\n')
    links = tmp_path / "links"
    links.mkdir()
    link = links / "config.toml"
    link.symlink_to(real)
    assert load_settings(link, env={}).ui.theme == "nord"  # dotfile managers link configs
    real.parent.chmod(0o757)
    assert problems_of(link).startswith(f"{real.parent}: permissions 0757 are too open")


@needs_posix
@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_a_state_folder_others_can_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(mode)
    path = write_config(tmp_path, f'[paths]\nstate_dir = "{state}"\n')
    message = problems_of(path)
    assert message.startswith(f"{state}: permissions {mode:04o} are too open: the state folder")
    assert message.endswith(f"Fix: chmod go-w {state}")


@needs_posix
def test_another_users_state_folder_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    other_owner(state)
    message = problems_of(None, env={"IBTUI_PATHS_STATE_DIR": str(state)})
    assert message == (
        f"{state}: the state folder belongs to another user (uid {OTHER_UID}, you are uid "
        f"{os.geteuid()}), who could change what ibtui reads there; use a state folder of your own"
    )


def test_a_missing_state_folder_is_fine(tmp_path: Path) -> None:
    state = tmp_path / "not yet"
    assert load_settings(None, env={"IBTUI_PATHS_STATE_DIR": str(state)}).state_dir == state


@needs_posix
def test_a_device_is_not_a_config_file() -> None:
    assert problems_of(Path("/dev/zero")) == (
        "/dev/zero: not a regular file (a device, pipe or socket); "
        "the config must be a TOML text file"
    )


@needs_posix
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    assert problems_of(fifo) == (
        f"{fifo}: not a regular file (a device, pipe or socket); "
        "the config must be a TOML text file"
    )


def test_a_config_over_1_mb_is_refused_unread(tmp_path: Path) -> None:
    path = write_config(tmp_path, "")
    with path.open("r+b") as f:
        f.truncate(1024 * 1024 + 1)  # sparse: nothing to read, the size alone is refused
    assert problems_of(path) == (
        f"{path}: too large for a config file (more than 1 MB); is it the right file?"
    )


def test_a_config_of_just_under_1_mb_is_read(tmp_path: Path) -> None:
    text = '[ui]\ntheme = "nord"\n'
    path = write_config(tmp_path, text + "#" * (1024 * 1024 - len(text) - 1) + "\n")
    assert path.stat().st_size == 1024 * 1024
    assert load_settings(path, env={}).ui.theme == "nord"
