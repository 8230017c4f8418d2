"""Values checked against the schema: what each key takes, precise errors, no crash on huge
numbers, URLs that keep credentials on an encrypted channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibtui.config import InvalidConfigError, load_settings
from tests.config.conftest import SECRET, TOKEN, problems_of, write_config


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


def test_a_bad_port_from_the_environment_or_a_flag_is_an_error_too() -> None:
    message = problems_of(None, env={"IBTUI_IBKR_BASE_URL": "https://h:99999/"})
    assert message == (
        "environment variable IBTUI_IBKR_BASE_URL: 'ibkr.base_url' must be an https:// URL "
        "(plain http:// only for a loopback host such as 127.0.0.1); got a string "
        "'https://h:99999/': its port must be a number from 1 to 65535"
    )
    with pytest.raises(InvalidConfigError, match=r"^command-line option: 'ibkr.base_url'.*host"):
        load_settings(None, env={}, overrides={"ibkr.base_url": "http://[::1"})


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


def test_secret_pasted_with_line_breaks_is_compacted(tmp_path: Path) -> None:
    wrapped = SECRET[:20] + "\n" + SECRET[20:]
    path = write_config(
        tmp_path, f'[ibkr]\naccess_token = "{TOKEN}"\naccess_token_secret = """{wrapped}"""\n'
    )
    assert load_settings(path, env={}).ibkr.access_token_secret == SECRET


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
