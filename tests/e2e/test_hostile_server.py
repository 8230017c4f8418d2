"""A hostile server's answers (terminal escapes, markup, 1e400) against the command line and the
console: the bytes that reach stdout, stderr and the terminal carry none of them raw."""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.hostile import (
    BEL,
    CLEANED,
    DESCRIPTION,
    ERROR,
    MARKUP,
    PAYLOAD,
    RAW,
    SERVER,
    SHOWN,
    SYMBOL,
)
from tests.e2e.sim_process import SimProcess, sim_process

REPO = Path(__file__).resolve().parents[2]
PAPER = "DU4820311"
# Bytes a command's output never holds: ESC, BEL, DEL, NUL and the C1 controls in UTF-8
CONTROLS = [b"\x1b", b"\x07", b"\x7f", b"\x00", *(bytes([0xC2, c]) for c in range(0x80, 0xA0))]


def ibtui(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ibtui", *args],
        cwd=REPO,
        capture_output=True,
        timeout=60,
        check=False,
    )


def assert_no_controls(*outputs: bytes) -> None:
    for output in outputs:
        found = [c for c in CONTROLS if c in output]
        assert not found, f"raw {found} in {output[:400]!r}"


def clean(text: str) -> str:
    return text.translate(CLEANED)


def strict_json(text: bytes) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimProcess, str]]:
    state = tmp_path_factory.mktemp("hostile") / "state"
    with sim_process(["--port", "0", "--state-dir", str(state), "--no-pacing"], code=SERVER) as sim:
        yield sim, str(state / "config.toml")


def mode(sim: SimProcess, name: str) -> None:
    httpx.post(f"http://127.0.0.1:{sim.port}/hostile/{name}", timeout=10).raise_for_status()


def test_positions_and_accounts_print_hostile_text_cleaned(hostile: tuple[SimProcess, str]) -> None:
    sim, config = hostile
    mode(sim, "text")
    symbol = clean(SYMBOL)
    for fmt in ("table", "csv", "json"):
        done = ibtui("positions", "--config", config, "--account", PAPER, "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert_no_controls(done.stdout, done.stderr)
        if fmt == "json":
            rows = strict_json(done.stdout)
            assert isinstance(rows, list)
            assert symbol in [row["symbol"] for row in rows]
            assert clean(f"US{BEL}D") in [row["currency"] for row in rows]
        else:
            assert symbol in done.stdout.decode()
    for fmt in ("table", "json"):
        done = ibtui("accounts", "--config", config, "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert_no_controls(done.stdout, done.stderr)
        alias = clean(f"Alias{PAYLOAD}{MARKUP}")
        if fmt == "json":
            accounts = strict_json(done.stdout)
            assert isinstance(accounts, list) and alias in [a["alias"] for a in accounts]
        else:
            assert alias in done.stdout.decode()


def test_an_error_from_a_hostile_body_is_one_clean_line(hostile: tuple[SimProcess, str]) -> None:
    sim, config = hostile
    mode(sim, "error")
    done = ibtui("positions", "--config", config, "--account", PAPER)
    assert done.returncode == 1 and done.stdout == b""
    assert_no_controls(done.stderr)
    text = done.stderr.decode()
    assert text.count("\n") == 1 and "Traceback" not in text
    assert clean(ERROR) in text


def test_a_quantity_of_1e400_is_an_error_and_json_output_stays_strict(
    hostile: tuple[SimProcess, str],
) -> None:
    sim, config = hostile
    mode(sim, "infinite")
    done = ibtui("positions", "--config", config, "--account", PAPER, "--format", "json")
    assert done.returncode == 1 and done.stdout == b""
    text = done.stderr.decode()
    assert text.count("\n") == 1 and "'position' is not a finite number" in text
    assert b"Infinity" not in done.stdout

    mode(sim, "off")
    done = ibtui("positions", "--config", config, "--account", PAPER, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = strict_json(done.stdout)
    assert isinstance(rows, list) and rows


def test_a_planted_journal_is_printed_cleaned(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    journal = state / "journal.jsonl"
    record = {"ts": "t", "event": f"intent{PAYLOAD}", "coid": SYMBOL, "note": DESCRIPTION}
    lines = [json.dumps(record), json.dumps(record, ensure_ascii=False), f"damaged {PAYLOAD}", ""]
    journal.write_text("\n".join(lines))
    os.chmod(journal, 0o600)
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nstate_dir = "{state}"\n')
    config.chmod(0o600)
    for fmt in ("table", "csv", "jsonl"):
        done = ibtui("journal", "--config", str(config), "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert_no_controls(done.stdout, done.stderr)
        assert clean(SYMBOL) in done.stdout.decode(), fmt
    assert PAYLOAD in journal.read_text()  # the file keeps what was written to it


# --------------------------------------------------------------------------------------------
# A reader that stops early (`| head -1`): a quiet end with status 141, as `yes | head -1` has


def test_positions_into_a_closed_pipe_end_quietly(hostile: tuple[SimProcess, str]) -> None:
    sim, config = hostile
    mode(sim, "off")
    process = subprocess.Popen(
        [sys.executable, "-m", "ibtui", "positions", "--config", config, "--format", "json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first row is written
    errors = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert errors == b""


def test_a_long_journal_into_head_ends_quietly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    journal = state / "journal.jsonl"
    line = json.dumps({"ts": "t", "event": "intent", "coid": "c" * 200})
    journal.write_text((line + "\n") * 20_000)  # 4 MB: far more than a pipe holds
    journal.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nstate_dir = "{state}"\n')
    config.chmod(0o600)
    command = (
        f"{sys.executable} -m ibtui journal --config {config} --format jsonl | head -1;"
        ' echo "status ${PIPESTATUS[0]}" >&2'
    )
    done = subprocess.run(
        ["bash", "-c", command], cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert done.stdout.decode().count("\n") == 1 and json.loads(done.stdout)["coid"]
    assert done.stderr == b"status 141\n"


# --------------------------------------------------------------------------------------------
# The console in a real terminal


def run_in_pty(args: list[str], timeout: float) -> tuple[int, bytes]:
    """Run ``args`` in a 120x40 pseudo-terminal; its exit status and every byte it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    process = subprocess.Popen(
        args, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env, start_new_session=True
    )
    os.close(slave)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 1 << 16)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                output.extend(data)
            elif process.poll() is not None:
                break
    finally:
        if process.poll() is None:
            process.kill()
        status = process.wait()
        os.close(master)
    return status, bytes(output)


def test_the_console_shows_hostile_answers_without_their_control_codes(tmp_path: Path) -> None:
    result = tmp_path / "steps.json"
    state = tmp_path / "state"  # the order journal's
    state.mkdir(mode=0o700)
    status, output = run_in_pty(
        [sys.executable, "-m", "tests.e2e.hostile_console", str(result), str(state)], timeout=180
    )
    steps = json.loads(result.read_text()) if result.exists() else []
    tail = output[-2000:]
    assert steps == ["positions", "ticket", "question", "orders", "error"], tail
    assert status == 0, tail
    raw = [pattern for pattern in RAW if pattern in output]
    assert raw == [], f"raw control codes reached the terminal: {raw}"
    shown = [pattern for pattern in SHOWN if pattern not in output]
    assert shown == [], f"the hostile text was not shown (cleaned): {shown}"
    assert b"[@click=app.quit]" in output  # the markup shown as text, not run
