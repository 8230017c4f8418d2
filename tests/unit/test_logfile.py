"""ibtui's log file: created 0600 in the state folder (and still 0600 after it rotates), a planted
symbolic link refused, secrets and control characters never written, only ibtui's loggers."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibtui import logfile
from ibtui.logfile import LOG_FILE_NAME, log_path, redact_in_logs, setup_logging, stop_logging


@pytest.fixture(autouse=True)
def _closed_afterwards() -> Iterator[None]:
    yield
    stop_logging()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_log_is_created_0600_in_the_state_folder_and_says_what_started(
    tmp_path: Path,
) -> None:
    old = os.umask(0o022)  # the usual umask would make a plain open() 0644
    try:
        path = setup_logging(tmp_path / "state", "run")
    finally:
        os.umask(old)
    assert path == tmp_path / "state" / LOG_FILE_NAME == log_path()
    assert mode(path) == 0o600
    assert mode(tmp_path / "state") == 0o700
    assert "started: run" in path.read_text()


def test_an_existing_log_with_open_permissions_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / LOG_FILE_NAME
    path.write_text("earlier\n")
    path.chmod(0o644)
    setup_logging(tmp_path, "run")
    assert mode(path) == 0o600
    assert path.read_text().startswith("earlier\n")


def test_a_rotated_log_and_the_new_one_stay_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logfile, "LOG_MAX_BYTES", 2_000)
    old = os.umask(0o022)
    try:
        path = setup_logging(tmp_path, "run")
        assert path is not None
        for i in range(100):
            logging.getLogger("ibtui.test").info("line %d %s", i, "x" * 60)
    finally:
        os.umask(old)
    rotated = sorted(tmp_path.glob(LOG_FILE_NAME + ".*"))
    assert rotated, "the log did not rotate"
    assert len(rotated) <= logfile.LOG_BACKUPS
    for file in [path, *rotated]:
        assert mode(file) == 0o600, file


def test_a_symbolic_link_planted_as_the_log_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("not ibtui's\n")
    (tmp_path / LOG_FILE_NAME).symlink_to(target)
    assert setup_logging(tmp_path, "run") is None  # runs without a log rather than follow it
    assert log_path() is None
    logging.getLogger("ibtui.test").warning("something")
    assert target.read_text() == "not ibtui's\n"


def test_no_log_file_when_the_state_folder_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert setup_logging(blocker / "state", "run") is None
    logging.getLogger("ibtui.test").error("nowhere to go")  # and nothing breaks


def test_secrets_and_their_shapes_are_redacted(tmp_path: Path) -> None:
    path = setup_logging(tmp_path, "run")
    assert path is not None
    registered = "S3cr3tValueOfTheAccessTokenSecret"
    redact_in_logs(registered)
    lst = "q83vEjRWeJq83vEjRWeJq83vEjQ="  # 20 bytes in base64: a live session token's shape
    log = logging.getLogger("ibtui.test")
    log.info("registered %s", registered)
    log.info("a token %s alone", lst)
    log.info('Authorization: OAuth realm="limited_poa", oauth_signature="abc%2Bdef"')
    log.info("oauth_signature=abcdef&oauth_token=tok123 diffie_hellman_response = 0a1b2c")
    log.info("{'live_session_token': 'pyrepr0123'}")
    log.info("POST /oauth/live_session_token: the TLS handshake failed")  # prose stays
    log.info('{"live_session_token_signature": "f7c60dbf9d8e277bde31241a205cd48a9319002c"}')
    pem = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    )
    log.info("key: %s", pem)
    try:
        raise ValueError(f"failed with {registered}")
    except ValueError:
        log.exception("an error")
    text = path.read_text()
    for leaked in (
        registered,
        lst,
        "abc%2Bdef",
        "abcdef",
        "tok123",
        "0a1b2c",
        "pyrepr0123",
        "f7c60dbf9d8e",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ):
        assert leaked not in text, leaked
    assert text.count("<redacted>") >= 10
    assert "POST /oauth/live_session_token: the TLS handshake failed" in text
    assert "ValueError: failed with <redacted>" in text


def test_server_text_cannot_drive_the_terminal_or_forge_a_line(tmp_path: Path) -> None:
    path = setup_logging(tmp_path, "run")
    assert path is not None
    logging.getLogger("ibtui.test").warning(
        "IBKR said %s", "\x1b]52;c;ZWNobyBoaQ==\x07\x1b[2J\x9b31m\n2024-01-01 INFO forged"
    )
    text = path.read_text()
    assert not any(ch in text for ch in "\x1b\x07\x9b")
    lines = text.splitlines()
    assert len(lines) == 2 and "\\x1b[2J" in lines[1] and "\\nforged" not in lines[1]
    assert lines[1].endswith("\\n2024-01-01 INFO forged")


def test_only_ibtuis_loggers_write_to_it(tmp_path: Path) -> None:
    path = setup_logging(tmp_path, "run")
    assert path is not None
    logging.getLogger("httpx").warning("HTTP Request: GET https://api.ibkr.com/x")
    logging.getLogger("ibtui.ibkr.client").debug("too detailed")
    logging.getLogger("ibtui.ibkr.client").info("kept")
    text = path.read_text()
    assert "HTTP Request" not in text and "too detailed" not in text and "kept" in text


def test_a_log_that_cannot_be_written_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(tmp_path, "run")
    assert path is not None
    (handler,) = [
        h for h in logging.getLogger("ibtui").handlers if isinstance(h, logging.FileHandler)
    ]
    assert handler.stream is not None
    handler.stream.close()  # e.g. the disk went away
    logging.getLogger("ibtui.test").error("lost")
    assert capsys.readouterr().err == ""


def test_without_a_log_file_ibtuis_warnings_are_not_printed() -> None:
    # a fresh interpreter: pytest's own handlers on the root logger would hide the difference
    probe = (
        "import logging, ibtui.ibkr.client\n"
        "logging.getLogger('ibtui.ibkr.client').warning('GET /x: cannot reach the server')\n"
        "logging.getLogger('ibtui.local.files').warning('a journal mode was set back to 0600')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stderr == ""
