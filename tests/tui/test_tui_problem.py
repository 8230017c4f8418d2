"""Problems that stop ibtui from starting get a screen saying what to do, and r tries again."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from textual.widgets import Static

from ibtui.cli import run
from ibtui.tui.problem import ProblemApp


async def test_the_problem_screen_shows_the_message_and_r_tries_again() -> None:
    app = ProblemApp("ibtui cannot start", "config.toml: no config file; `ibtui init` creates it")
    async with app.run_test(size=(80, 24)) as pilot:
        assert "ibtui init" in str(app.query_one("#problem-text", Static).render())
        await pilot.press("r")
    assert app.return_value is True
    app = ProblemApp("ibtui cannot start", "x")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
    assert app.return_value is False


class Tty:
    def isatty(self) -> bool:
        return True


def run_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], answers: list[bool]
) -> tuple[int, list[str]]:
    shown: list[str] = []

    def show(title: str, message: str) -> bool:
        shown.append(message)
        return answers.pop(0)

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr(run, "show_problem", show)
    return run.main(argv), shown


def test_no_config_names_the_command_that_creates_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, shown = run_on_a_terminal(monkeypatch, ["--config", str(tmp_path / "c.toml")], [False])
    assert code == 1 and "no such config file" in shown[0]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    code, shown = run_on_a_terminal(monkeypatch, [], [False])
    assert code == 1 and "ibtui init" in shown[0]


def test_an_exposed_key_file_says_chmod_and_r_reads_the_fixed_setup_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ibtui.cli.init import write_consumer_files

    paths = write_consumer_files(tmp_path, key_bits=1024)
    os.chmod(paths["signature"], 0o644)
    started: list[object] = []

    def fixed_then_quit(title: str, message: str) -> bool:
        os.chmod(paths["signature"], 0o600)  # the trader fixes it in another pane
        started.append(message)
        return True

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setattr(run, "show_problem", fixed_then_quit)
    import ibtui.tui.app as tui_app

    monkeypatch.setattr(tui_app, "run_app", lambda *a, **k: started.append("console") or 0)
    assert run.main(["--config", str(paths["config"])]) == 0
    assert "chmod 600" in str(started[0]) and started[1] == "console"


def test_a_missing_key_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ibtui.cli.init import write_consumer_files

    paths = write_consumer_files(tmp_path, key_bits=1024)
    Path(paths["encryption"]).unlink()
    code, shown = run_on_a_terminal(monkeypatch, ["--config", str(paths["config"])], [False])
    assert code == 1
    assert str(paths["encryption"]) in shown[0]
    assert "no such file (ibkr.encryption_key)" in shown[0]
    assert "decrypts the access token secret" in shown[0]


def test_an_unreadable_key_file_says_what_it_should_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ibtui.cli.init import write_consumer_files

    paths = write_consumer_files(tmp_path, key_bits=1024)
    Path(paths["signature"]).write_text("a key file overwritten by mistake\n")
    code, shown = run_on_a_terminal(monkeypatch, ["--config", str(paths["config"])], [False])
    assert code == 1
    assert str(paths["signature"]) in shown[0]
    assert "not an RSA key in PEM format (ibkr.signature_key)" in shown[0]
    assert "(PKCS#1) or" in shown[0] and "(PKCS#8)" in shown[0]
