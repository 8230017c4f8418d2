"""The settings: the realm derived, frozen values, secrets masked in every repr."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ibtui.config import StoredTokens, load_settings
from tests.config.conftest import FULL, SECRET, TOKEN, write_config


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


# --- secrets never leak ---------------------------------------------------------------------


def test_repr_and_str_of_settings_hide_the_secrets(tmp_path: Path) -> None:
    s = load_settings(write_config(tmp_path, FULL), env={})
    for text in (repr(s), str(s), repr(s.ibkr), str(s.ibkr), repr(vars(s))):
        assert SECRET not in text and TOKEN not in text
        assert "access_token_secret='***'" in text
    for holder in (s.ibkr, StoredTokens(TOKEN, SECRET)):  # what a debugger's dump would show
        with pytest.raises(TypeError):
            vars(holder)
