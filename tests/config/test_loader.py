"""The layers: file < IBTUI_* environment < flags, missing files, every problem reported at
once with where it came from, no secret in any message, junk in gives a ConfigError out."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibtui.config import (
    DEFAULT_BASE_URL,
    ConfigError,
    InvalidConfigError,
    MissingConfigError,
    Settings,
    load_settings,
)
from tests.config.conftest import FULL, SECRET, TOKEN, problems_of, write_config

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
        "known sections: ibkr, ui, keymap, orders, stream, paths, alerts"
    )


def test_key_outside_its_section_points_to_the_section(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'consumer_key = "A"\n[ibkr]\n')
    assert problems_of(path) == (
        f"{path}: unknown key 'consumer_key' "
        "(did you mean 'ibkr.consumer_key'? put it under [ibkr])"
    )


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[ibkr]\nrealm = 1\nbogus = 2\n[ui]\nbell = "no"\n')
    with pytest.raises(InvalidConfigError) as info:
        load_settings(path, env={"IBTUI_UI_POLL_INTERVAL": "-3"})
    assert len(info.value.problems) == 4
    assert info.value.problems[-1] == (
        "environment variable IBTUI_UI_POLL_INTERVAL: 'ui.poll_interval' must be a number "
        "greater than 0; got a string '-3'"
    )


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


def test_margin_warning_is_a_fraction_from_the_file_or_the_environment(tmp_path: Path) -> None:
    assert load_settings(None, env={}).ui.margin_warning == 0.10
    path = write_config(tmp_path, "[ui]\nmargin_warning = 0.25\n")
    assert load_settings(path, env={}).ui.margin_warning == 0.25
    s = load_settings(path, env={"IBTUI_UI_MARGIN_WARNING": "0"})  # 0: never warn
    assert s.ui.margin_warning == 0.0
    assert problems_of(None, env={"IBTUI_UI_MARGIN_WARNING": "10"}) == (
        "environment variable IBTUI_UI_MARGIN_WARNING: 'ui.margin_warning' must be a number "
        "from 0 to 1 (0.10 is 10%); got a string '10'"
    )
    bad = write_config(tmp_path, '[ui]\nmargin_warning = "low"\n', name="bad.toml")
    assert "'ui.margin_warning' must be a number from 0 to 1" in problems_of(bad)


def test_stream_is_on_with_100_lines_by_default_and_set_by_file_and_environment(
    tmp_path: Path,
) -> None:
    s = load_settings(None, env={})
    assert (s.stream.enabled, s.stream.line_allowance) == (True, 100)
    path = write_config(tmp_path, "[stream]\nenabled = false\nline_allowance = 40\n")
    s = load_settings(path, env={})
    assert (s.stream.enabled, s.stream.line_allowance) == (False, 40)
    env = {"IBTUI_STREAM_ENABLED": "yes", "IBTUI_STREAM_LINE_ALLOWANCE": "5"}
    s = load_settings(path, env=env)
    assert (s.stream.enabled, s.stream.line_allowance) == (True, 5)


def test_a_line_allowance_under_one_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[stream]\nline_allowance = 0\n")
    assert problems_of(path) == (
        f"{path}: 'stream.line_allowance' must be a whole number >= 1; got an integer 0"
    )


def test_the_background_poll_while_streaming_is_10_s_by_default_and_can_be_set(
    tmp_path: Path,
) -> None:
    assert load_settings(None, env={}).stream.background_poll_seconds == 10.0
    path = write_config(tmp_path, "[stream]\nbackground_poll_seconds = 0\n")
    assert load_settings(path, env={}).stream.background_poll_seconds == 0.0
    env = {"IBTUI_STREAM_BACKGROUND_POLL_SECONDS": "30"}
    assert load_settings(path, env=env).stream.background_poll_seconds == 30.0
    bad = write_config(tmp_path, "[stream]\nbackground_poll_seconds = -1\n")
    assert "'stream.background_poll_seconds' must be" in (problems_of(bad) or "")
