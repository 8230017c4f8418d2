"""Settings: file < IBTUI_* environment < flags, precise errors, no secrets, the token store."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.config import (
    DEFAULT_BASE_URL,
    ConfigError,
    ConfigSyntaxError,
    InsecureFileError,
    InvalidConfigError,
    MissingConfigError,
    Settings,
    StoredTokens,
    load_settings,
    load_tokens,
    save_tokens,
)
from ibtui.local import files

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


# --- defaults and the file ------------------------------------------------------------------


def test_no_config_file_gives_defaults_in_platform_dirs(tmp_path: Path) -> None:
    s = load_settings(None, env={})
    assert s.config_path == tmp_path / "xdg-config" / "ibtui" / "config.toml"
    assert not s.config_found
    assert s.state_dir == tmp_path / "xdg-state" / "ibtui"
    assert s.token_file == tmp_path / "xdg-state" / "ibtui" / "tokens.json"
    assert s.ibkr.base_url == DEFAULT_BASE_URL == "https://api.ibkr.com/v1/api/"
    assert s.ibkr.consumer_key is None and s.ibkr.realm == "limited_poa"
    assert not s.ibkr.first_party
    assert (s.ui.poll_interval, s.ui.bell, s.ui.idle_lock_minutes) == (2.0, True, 0)
    o = s.orders
    assert (o.max_order_value, o.max_quantity, o.max_price_deviation_pct) == (50000, 10000, 5.0)
    assert o.precaution_action == "warn" and dict(o.questions) == {}
    assert dict(s.keymap) == {}


def test_default_config_file_is_read(tmp_path: Path) -> None:
    default = tmp_path / "xdg-config" / "ibtui" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text('[ibkr]\nconsumer_key = "FROMDEFLT"\ndh_params = "dh.pem"\n')
    s = load_settings(None, env={})
    assert s.config_found and s.ibkr.consumer_key == "FROMDEFLT"
    assert s.ibkr.dh_params == default.parent / "dh.pem"


def test_full_file_is_parsed_with_paths_relative_to_its_folder(tmp_path: Path) -> None:
    path = write_config(tmp_path, FULL)
    s = load_settings(path, env={})
    folder = path.parent
    assert s.config_found and s.config_path == path
    assert s.ibkr.base_url == "https://5.api.ibkr.com/v1/api/"  # trailing slash added
    assert s.ibkr.consumer_key == "ABCDEFGHI" and s.ibkr.realm == "limited_poa"
    assert s.ibkr.signature_key == folder / "keys" / "private_signature.pem"
    assert s.ibkr.encryption_key == Path("/abs/private_encryption.pem")
    assert s.ibkr.dh_params == folder / "dhparam.pem"
    assert s.ibkr.access_token == TOKEN and s.ibkr.access_token_secret == SECRET
    assert s.ibkr.first_party
    assert s.ui.poll_interval == 1.0 and isinstance(s.ui.poll_interval, float)
    assert (s.ui.theme, s.ui.bell, s.ui.idle_lock_minutes) == ("nord", False, 15)
    assert dict(s.keymap) == {"quit": "ctrl+q,q", "positions.sort": "s"}
    assert s.orders.max_order_value == 25000 and s.orders.max_quantity == 500.5
    assert s.orders.max_price_deviation_pct == 2.5 and s.orders.precaution_action == "block"
    assert dict(s.orders.questions) == {"o163": "confirm", "p12": "reject", "o354": "ask"}
    assert s.state_dir == folder / "state"
    assert s.token_file == folder / "state" / "tokens.json"


def test_tilde_paths_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write_config(tmp_path, '[ibkr]\nsignature_key = "~/keys/sig.pem"\n')
    assert load_settings(path, env={}).ibkr.signature_key == tmp_path / "home/keys/sig.pem"


@pytest.mark.parametrize(
    ("consumer_key", "realm_line", "realm"),
    [
        ("TESTCONS", "", "test_realm"),
        ("ABCDEFGHI", "", "limited_poa"),
        ("TESTCONS", 'realm = "limited_poa"', "limited_poa"),
    ],
)
def test_realm_is_derived_unless_given(
    tmp_path: Path, consumer_key: str, realm_line: str, realm: str
) -> None:
    path = write_config(tmp_path, f'[ibkr]\nconsumer_key = "{consumer_key}"\n{realm_line}\n')
    assert load_settings(path, env={}).ibkr.realm == realm


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(None, env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.ui.poll_interval = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.keymap["quit"] = "x"  # type: ignore[index]


# --- precedence -----------------------------------------------------------------------------


def test_environment_overrides_file_and_flags_override_both(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[ibkr]\nbase_url = "https://file.example/v1/api/"\n[ui]\npoll_interval = 3\nbell = true\n',
    )
    env = {
        "IBTUI_IBKR_BASE_URL": "http://127.0.0.1:5000/v1/api/",
        "IBTUI_UI_POLL_INTERVAL": "0.5",
        "IBTUI_UI_BELL": "off",
        "IBTUI_ORDERS_PRECAUTION_ACTION": "block",
    }
    s = load_settings(path, env=env)
    assert s.ibkr.base_url == "http://127.0.0.1:5000/v1/api/"
    assert s.ui.poll_interval == 0.5 and s.ui.bell is False
    assert s.orders.precaution_action == "block"

    flags = {"ibkr.base_url": "http://127.0.0.1:6000/v1/api", "ui.poll_interval": 0.25}
    s = load_settings(path, env=env, overrides=flags)
    assert s.ibkr.base_url == "http://127.0.0.1:6000/v1/api/"
    assert s.ui.poll_interval == 0.25
    assert s.ui.bell is False  # not overridden: the environment still wins over the file

    s = load_settings(path, env={}, overrides={"ibkr.base_url": None, "ui.poll_interval": "7"})
    assert s.ibkr.base_url == "https://file.example/v1/api/"  # None means "flag not given"
    assert s.ui.poll_interval == 7.0


def test_flags_can_set_keymap_questions_and_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(
        None,
        env={},
        overrides={"keymap.quit": "x", "orders.questions.O163": "reject", "paths.state_dir": "st"},
    )
    assert dict(s.keymap) == {"quit": "x"}
    assert dict(s.orders.questions) == {"o163": "reject"}
    assert s.state_dir == tmp_path / "st"


def test_environment_paths_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, '[ibkr]\nsignature_key = "sig.pem"\n')
    s = load_settings(path, env={"IBTUI_IBKR_ENCRYPTION_KEY": "keys/enc.pem"})
    assert s.ibkr.signature_key == path.parent / "sig.pem"
    assert s.ibkr.encryption_key == tmp_path / "keys" / "enc.pem"


def test_empty_environment_variable_counts_as_unset(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nconsumer_key = "FILEKEY01"\n')
    s = load_settings(path, env={"IBTUI_IBKR_CONSUMER_KEY": "", "IBTUI_UI_BELL": ""})
    assert s.ibkr.consumer_key == "FILEKEY01" and s.ui.bell is True


def test_ibtui_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nconsumer_key = "VIAENV001"\n', name="other.toml")
    s = load_settings(None, env={"IBTUI_CONFIG": str(path)})
    assert s.config_path == path and s.ibkr.consumer_key == "VIAENV001"
    # --config wins over IBTUI_CONFIG
    flag = write_config(tmp_path, '[ibkr]\nconsumer_key = "VIAFLAG01"\n', name="flag.toml")
    assert load_settings(flag, env={"IBTUI_CONFIG": str(path)}).ibkr.consumer_key == "VIAFLAG01"


def test_unrelated_environment_variables_are_ignored(tmp_path: Path) -> None:
    s = load_settings(None, env={"IBTUI_DEBUG": "1", "HOME": "/x", "IBTUI_CONFIG": ""})
    assert s.ui == load_settings(None, env={}).ui


# --- missing files --------------------------------------------------------------------------


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(MissingConfigError) as info:
        load_settings(missing, env={})
    assert str(info.value) == f"{missing}: no such config file (given with --config)"
    with pytest.raises(MissingConfigError, match="named by IBTUI_CONFIG"):
        load_settings(None, env={"IBTUI_CONFIG": str(missing)})


def test_credentials_required_without_any_config_explains_how_to_create_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(MissingConfigError) as info:
        load_settings(None, env={}, require_credentials=True)
    message = str(info.value)
    default = tmp_path / "xdg-config" / "ibtui" / "config.toml"
    assert message.startswith(f"{default}: no config file")
    assert "[ibkr]" in message and 'consumer_key = "' in message
    assert 'signature_key = "private_signature.pem"' in message and "--config PATH" in message
    assert "ibtui demo" in message
    # the same command line without the requirement (the demo) is fine
    assert not load_settings(None, env={}).config_found


def test_credentials_required_names_each_missing_setting(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nconsumer_key = "ABCDEFGHI"\ndh_params = "dh.pem"\n')
    with pytest.raises(InvalidConfigError) as info:
        load_settings(path, env={}, require_credentials=True)
    assert info.value.problems == (
        f"{path}: 'ibkr.signature_key' is not set "
        "(add it under [ibkr] or set IBTUI_IBKR_SIGNATURE_KEY)",
        f"{path}: 'ibkr.encryption_key' is not set "
        "(add it under [ibkr] or set IBTUI_IBKR_ENCRYPTION_KEY)",
    )


def test_credentials_can_come_from_the_environment_alone(tmp_path: Path) -> None:
    env = {
        "IBTUI_IBKR_CONSUMER_KEY": "ABCDEFGHI",
        "IBTUI_IBKR_SIGNATURE_KEY": "/k/s.pem",
        "IBTUI_IBKR_ENCRYPTION_KEY": "/k/e.pem",
        "IBTUI_IBKR_DH_PARAMS": "/k/dh.pem",
    }
    s = load_settings(None, env=env, require_credentials=True)
    assert s.ibkr.signature_key == Path("/k/s.pem") and not s.config_found


# --- error messages -------------------------------------------------------------------------


def test_unknown_key_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nconsumer_kye = "ABCDEFGHI"\n')
    assert problems_of(path) == (
        f"{path}: unknown key 'ibkr.consumer_kye' (did you mean 'consumer_key'?)"
    )


def test_unknown_key_without_a_close_match(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[ui]\nzzz = 1\n")
    assert problems_of(path) == f"{path}: unknown key 'ui.zzz'"


def test_unknown_section_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibrk]\nconsumer_key = "A"\n')
    assert problems_of(path) == (
        f"{path}: unknown section [ibrk] (did you mean 'ibkr'?); "
        "known sections: ibkr, ui, keymap, orders, paths"
    )


def test_key_outside_its_section_points_to_the_section(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'consumer_key = "A"\n[ibkr]\n')
    assert problems_of(path) == (
        f"{path}: unknown key 'consumer_key' "
        "(did you mean 'ibkr.consumer_key'? put it under [ibkr])"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[ui]\npoll_interval = "fast"',
            "'ui.poll_interval' must be a number greater than 0; got a string 'fast'",
        ),
        (
            "[ui]\npoll_interval = 0",
            "'ui.poll_interval' must be a number greater than 0; got an integer 0",
        ),
        (
            "[ui]\npoll_interval = nan",
            "'ui.poll_interval' must be a number greater than 0; got a float nan",
        ),
        ("[ui]\nbell = 1", "'ui.bell' must be true or false; got an integer 1"),
        ('[ui]\nbell = "yes"', "'ui.bell' must be true or false; got a string 'yes'"),
        (
            "[ui]\nidle_lock_minutes = -1",
            "'ui.idle_lock_minutes' must be a whole number >= 0; got an integer -1",
        ),
        (
            "[ui]\nidle_lock_minutes = 1.5",
            "'ui.idle_lock_minutes' must be a whole number >= 0; got a float 1.5",
        ),
        ("[ui]\ntheme = []", "'ui.theme' must be a non-empty string without spaces; got an array"),
        (
            '[ibkr]\nbase_url = "ftp://x/"',
            "'ibkr.base_url' must be an https:// URL (plain http:// only for a loopback host "
            "such as 127.0.0.1); got a string 'ftp://x/'",
        ),
        (
            '[ibkr]\nbase_url = "http://api.ibkr.com/v1/api/"',
            "'ibkr.base_url' must be an https:// URL (plain http:// only for a loopback host "
            "such as 127.0.0.1); got a string 'http://api.ibkr.com/v1/api/'",
        ),
        (
            '[ibkr]\nbase_url = "http://10.0.0.7:5000/v1/api/"',
            "'ibkr.base_url' must be an https:// URL (plain http:// only for a loopback host "
            "such as 127.0.0.1); got a string 'http://10.0.0.7:5000/v1/api/'",
        ),
        (
            '[ibkr]\nconsumer_key = ""',
            "'ibkr.consumer_key' must be a non-empty string without spaces; got a string ''",
        ),
        (
            "[ibkr]\nsignature_key = 5",
            "'ibkr.signature_key' must be a file path (a string); got an integer 5",
        ),
        (
            "[ibkr]\ndh_params = 1979-05-27",
            "'ibkr.dh_params' must be a file path (a string); got a date/time",
        ),
        (
            "[orders]\nmax_quantity = 0",
            "'orders.max_quantity' must be a number greater than 0; got an integer 0",
        ),
        (
            "[orders]\nmax_order_value = true",
            "'orders.max_order_value' must be a number greater than 0; got a boolean true",
        ),
        (
            '[orders]\nprecaution_action = "maybe"',
            "'orders.precaution_action' must be one of 'warn', 'block'; got a string 'maybe'",
        ),
        (
            '[orders.questions]\no163 = "yes"',
            "'orders.questions.o163' must be one of 'ask', 'confirm', 'reject'; got a string 'yes'",
        ),
        (
            '[orders.questions]\nprice = "ask"',
            "'orders.questions.price': 'price' is not an IBKR message id (like o163, p12)",
        ),
        ("[orders]\nquestions = 1", "'orders.questions' must be a table ([orders.questions])"),
        (
            "[keymap]\nquit = 1",
            '\'keymap.quit\' must be keys like "ctrl+q" or "j,down"; got an integer 1',
        ),
        (
            '[keymap]\nquit = "ctrl+q,,q"',
            "'keymap.quit' must be keys like \"ctrl+q\" or \"j,down\"; got a string 'ctrl+q,,q'",
        ),
        (
            '[keymap]\napp.quit = "q"',
            '\'keymap.app\' must be keys like "ctrl+q" or "j,down"; got a table '
            '(quote an id that contains a dot: "app.…" = …)',
        ),
        ("ui = 3", "'ui' must be a table ([ui] section)"),
        *(
            (
                f'[ibkr]\nbase_url = "{url}"',
                "'ibkr.base_url' must be an https:// URL (plain http:// only for a loopback host "
                f"such as 127.0.0.1); got a string '{url}': {why}",
            )
            for url, why in [
                ("https://api.example:99999/v1/api/", "its port must be a number from 1 to 65535"),
                ("https://api.example:abc/v1/api/", "its port must be a number from 1 to 65535"),
                ("https://api.example:0/", "its port must be a number from 1 to 65535"),
                ("https://[::1/v1/api/", "its host is not a name or an address ([…] for IPv6)"),
                ("http://[::1:5000/", "its host is not a name or an address ([…] for IPv6)"),
                ("https://[nothex]/", "its host is not a name or an address ([…] for IPv6)"),
                ("https://:443/v1/api/", "it has no host"),
            ]
        ),
    ],
)
def test_wrong_values_name_the_key_and_the_expected_type(
    tmp_path: Path, toml: str, message: str
) -> None:
    path = write_config(tmp_path, toml + "\n")
    assert problems_of(path) == f"{path}: {message}"


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nrealm = 1\nbogus = 2\n[ui]\nbell = "no"\n')
    with pytest.raises(InvalidConfigError) as info:
        load_settings(path, env={"IBTUI_UI_POLL_INTERVAL": "-3"})
    assert len(info.value.problems) == 4
    assert info.value.problems[-1] == (
        "environment variable IBTUI_UI_POLL_INTERVAL: 'ui.poll_interval' must be a number "
        "greater than 0; got a string '-3'"
    )


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


def test_a_bad_port_from_the_environment_or_a_flag_is_an_error_too() -> None:
    message = problems_of(None, env={"IBTUI_IBKR_BASE_URL": "https://h:99999/"})
    assert message == (
        "environment variable IBTUI_IBKR_BASE_URL: 'ibkr.base_url' must be an https:// URL "
        "(plain http:// only for a loopback host such as 127.0.0.1); got a string "
        "'https://h:99999/': its port must be a number from 1 to 65535"
    )
    with pytest.raises(InvalidConfigError, match=r"^command-line option: 'ibkr.base_url'.*host"):
        load_settings(None, env={}, overrides={"ibkr.base_url": "http://[::1"})


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


def test_huge_values_are_out_of_range_not_crashes(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "[ui]\npoll_interval = 1e400\n[orders]\nmax_quantity = 1" + "0" * 400
    )
    with pytest.raises(InvalidConfigError) as info:
        load_settings(path, env={})
    assert info.value.problems[0] == (
        f"{path}: 'ui.poll_interval' must be a number greater than 0; got a float inf"
    )
    assert info.value.problems[1].startswith(
        f"{path}: 'orders.max_quantity' must be a number greater than 0; got an integer 1000"
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


def test_bad_environment_value_names_the_variable() -> None:
    assert problems_of(None, env={"IBTUI_UI_IDLE_LOCK_MINUTES": "ten"}) == (
        "environment variable IBTUI_UI_IDLE_LOCK_MINUTES: 'ui.idle_lock_minutes' must be a "
        "whole number >= 0; got a string 'ten'"
    )
    assert problems_of(None, env={"IBTUI_UI_BELL": "maybe"}).startswith(
        "environment variable IBTUI_UI_BELL: 'ui.bell' must be true or false"
    )


def test_unknown_environment_variable_in_a_known_section_is_reported() -> None:
    assert problems_of(None, env={"IBTUI_IBKR_CONSUMERKEY": "X"}) == (
        "environment variable IBTUI_IBKR_CONSUMERKEY: unknown setting "
        "(did you mean 'IBTUI_IBKR_CONSUMER_KEY'?)"
    )


def test_bad_flag_value_and_unknown_flag() -> None:
    with pytest.raises(InvalidConfigError) as info:
        load_settings(None, env={}, overrides={"ui.poll_interval": "soon", "ui.colour": "x"})
    assert info.value.problems == (
        "command-line option: 'ui.poll_interval' must be a number greater than 0; "
        "got a string 'soon'",
        "option 'ui.colour': unknown setting",
    )


def test_access_token_without_secret_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'[ibkr]\naccess_token = "{TOKEN}"\n')
    message = problems_of(path)
    assert message == (
        f"{path}: 'ibkr.access_token' is set but 'ibkr.access_token_secret' is not: a "
        "first-party setup needs both (leave both out to log in as a third party)"
    )
    assert TOKEN not in message
    env_only = problems_of(None, env={"IBTUI_IBKR_ACCESS_TOKEN_SECRET": SECRET})
    assert env_only.startswith(
        "environment variable IBTUI_IBKR_ACCESS_TOKEN_SECRET: 'ibkr.access_token_secret' is set"
    )


def test_secret_pasted_with_line_breaks_is_compacted(tmp_path: Path) -> None:
    wrapped = SECRET[:20] + "\n" + SECRET[20:]
    path = write_config(
        tmp_path, f'[ibkr]\naccess_token = "{TOKEN}"\naccess_token_secret = """{wrapped}"""\n'
    )
    assert load_settings(path, env={}).ibkr.access_token_secret == SECRET


# --- secrets never leak ---------------------------------------------------------------------


def test_repr_and_str_of_settings_hide_the_secrets(tmp_path: Path) -> None:
    s = load_settings(write_config(tmp_path, FULL), env={})
    for text in (repr(s), str(s), repr(s.ibkr), str(s.ibkr), repr(vars(s))):
        assert SECRET not in text and TOKEN not in text
        assert "access_token_secret='***'" in text
    for holder in (s.ibkr, StoredTokens(TOKEN, SECRET)):  # what a debugger's dump would show
        with pytest.raises(TypeError):
            vars(holder)


@pytest.mark.parametrize(
    "toml",
    [
        '[ibkr]\naccess_token_secret = "not base64 !{secret}"\naccess_token = "{token}"',
        '[ibkr]\naccess_token_secret = ["{secret}"]\naccess_token = "{token} x"',
        '[ibkr]\naccess_token_secret = "{secret}\n',
        '[ibkr]\naccess_token = "{token}"\naccess_token_secret = {secret}',
        '[ibkr]\naccess_token_secret = "{secret}"',
    ],
)
def test_errors_never_show_the_secret(tmp_path: Path, toml: str) -> None:
    path = write_config(tmp_path, toml.format(secret=SECRET, token=TOKEN) + "\n")
    message = problems_of(path)
    assert SECRET not in message and TOKEN not in message
    assert "access_token" in message


def test_environment_errors_never_show_the_secret() -> None:
    message = problems_of(
        None, env={"IBTUI_IBKR_ACCESS_TOKEN_SECRET": "#" + SECRET, "IBTUI_IBKR_ACCESS_TOKEN": TOKEN}
    )
    assert "IBTUI_IBKR_ACCESS_TOKEN_SECRET" in message and "value not shown" in message
    assert SECRET not in message and TOKEN not in message


# --- token store ----------------------------------------------------------------------------


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


# --- the file and its folders: what ssh would refuse ----------------------------------------

OTHER_UID = 4242  # a user id that is not ours (the tests may run as root, who can chown)
needs_posix = pytest.mark.skipif(os.name == "nt", reason="POSIX owners and permission bits")


def other_owner(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    os.chown(path, OTHER_UID, -1)


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


# --- property tests: junk in, ConfigError out -----------------------------------------------

_TOML_PIECES = st.sampled_from(
    [
        "[ibkr]", "[ui]", "[keymap]", "[orders]", "[orders.questions]", "[paths]", "[[ui]]",
        "[ibkr.x]", "[nope]", "base_url", "consumer_key", "realm", "signature_key",
        "access_token", "access_token_secret", "poll_interval", "bell", "theme",
        "idle_lock_minutes", "max_quantity", "precaution_action", "state_dir", "o163", "quit",
        "questions", "a.b", '"q.x"', " = ", "=", "\n", '"', "'", '"""', "[", "]", "{", "}",
        ",", "true", "false", "0", "-1", "1e400", "nan", "inf", "2.5", "10" * 30, '"warn"',
        "9" * 4400, '"ask"', '"ctrl+q"', '"~/k.pem"', '"http://h/"', '"QQ=="',
        "1979-05-27T07:32:00Z", "#", "\\", "\t", "\x00", "é",
    ]
)  # fmt: skip


def _load_junk(data: bytes) -> Settings | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_bytes(data)
        try:
            return load_settings(path, env={})
        except ConfigError as exc:
            assert str(exc)
            return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOML_PIECES, max_size=40).map("".join))
def test_toml_ish_junk_gives_settings_or_config_error(text: str) -> None:
    result = _load_junk(text.encode("utf-8"))
    assert result is None or isinstance(result, Settings)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_give_settings_or_config_error(data: bytes) -> None:
    result = _load_junk(data)
    assert result is None or isinstance(result, Settings)


_ENV_NAMES = [
    "IBTUI_IBKR_BASE_URL",
    "IBTUI_IBKR_CONSUMER_KEY",
    "IBTUI_IBKR_SIGNATURE_KEY",
    "IBTUI_UI_POLL_INTERVAL",
    "IBTUI_UI_BELL",
    "IBTUI_UI_IDLE_LOCK_MINUTES",
    "IBTUI_ORDERS_MAX_QUANTITY",
    "IBTUI_ORDERS_PRECAUTION_ACTION",
    "IBTUI_PATHS_STATE_DIR",
    "IBTUI_UI_X",
]


@settings(max_examples=100, deadline=None)
@given(
    env=st.dictionaries(st.sampled_from(_ENV_NAMES), st.text(max_size=30)),
    token=st.none() | st.text(max_size=20),
    secret=st.none() | st.text(max_size=20),
)
def test_arbitrary_environment_values_give_settings_or_config_error(
    env: dict[str, str], token: str | None, secret: str | None
) -> None:
    env = dict(env)
    if token is not None:
        env["IBTUI_IBKR_ACCESS_TOKEN"] = TOKEN + token
    if secret is not None:
        env["IBTUI_IBKR_ACCESS_TOKEN_SECRET"] = secret + SECRET
    try:
        load_settings(None, env=env)
    except ConfigError as exc:
        assert TOKEN not in str(exc) and SECRET not in str(exc)


def test_hypothesis_runs_without_touching_the_real_home() -> None:
    # the autouse fixture points platformdirs into tmp_path; guard against a regression
    assert "xdg-config" in str(load_settings(None, env={}).config_path)
    assert os.environ["XDG_STATE_HOME"].endswith("xdg-state")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000/v1/api/",
        "http://127.8.9.1/v1/api/",
        "http://localhost:5000/v1/api/",
        "http://[::1]:5000/v1/api/",
        "https://api.ibkr.com/v1/api/",
        "https://10.0.0.7:5000/v1/api/",
    ],
)
def test_plain_http_only_to_this_machine(url: str) -> None:
    assert load_settings(None, env={}, overrides={"ibkr.base_url": url}).ibkr.base_url == url
