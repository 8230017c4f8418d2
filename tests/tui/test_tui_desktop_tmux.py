"""Desktop notifications inside tmux: tmux 3.3 and later drop the passthrough they travel in
unless ``allow-passthrough`` is on. With ``[alerts] desktop`` on, inside tmux, the console asks
tmux once at start (in a thread, with a short timeout) and, when it is off, says once what to run;
an old tmux without the option, a tmux that does not answer, or no tmux at all says nothing."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

import pytest

from ibtui.tui.desktop_notify import tmux_passthrough
from tests.tui.conftest import told
from tests.tui.test_tui_alerts import SIZE, console, start

TMUX = {"TMUX": "/tmp/tmux-1000/default,4242,0", "TMUX_PANE": "%3"}


class FakeTmux:
    """``subprocess.run`` for ``tmux display``: answers ``stdout`` (or raises ``error``)."""

    def __init__(self, stdout: str = "0\n", returncode: int = 0, error: Exception | None = None):
        self.stdout, self.returncode, self.error = stdout, returncode, error
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((command, kwargs))
        if self.error is not None:
            raise self.error
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, "")


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ("0\n", False),  # tmux 3.3: a flag
        ("off\n", False),  # tmux 3.4 and later: off, on or all
        ("1\n", True),
        ("on\n", True),
        ("all\n", True),
        ("\n", None),  # a tmux older than 3.3 has no such option (and passes everything on)
    ],
)
def test_tmux_is_asked_for_the_panes_passthrough(stdout: str, expected: bool | None) -> None:
    run = FakeTmux(stdout)
    assert tmux_passthrough(TMUX, run=run, timeout=1.5) is expected
    [(command, kwargs)] = run.calls
    assert command == ["tmux", "display", "-p", "-t", "%3", "#{allow-passthrough}"]
    assert kwargs["timeout"] == 1.5 and kwargs["check"] is False


@pytest.mark.parametrize(
    "run",
    [
        FakeTmux(error=FileNotFoundError("tmux")),
        FakeTmux(error=subprocess.TimeoutExpired(["tmux"], 2.0)),
        FakeTmux("0\n", returncode=1),  # no server on that socket
    ],
    ids=["no-tmux", "no-answer", "fails"],
)
def test_a_tmux_that_cannot_tell_is_not_an_answer(run: FakeTmux) -> None:
    assert tmux_passthrough(TMUX, run=run) is None


def test_outside_tmux_nothing_is_asked() -> None:
    run = FakeTmux()
    assert tmux_passthrough({"TERM": "xterm"}, run=run) is None
    assert run.calls == []


def alerts_notes(app: Any) -> list[str]:
    return [n.message for n in told(app) if n.title == "Alerts"]


@pytest.mark.parametrize(("bell", "answer"), [(True, False), (False, False), (True, None)])
async def test_passthrough_off_is_said_once_at_start_with_what_to_run(
    monkeypatch: pytest.MonkeyPatch, bell: bool, answer: bool | None
) -> None:
    monkeypatch.setenv("TMUX", TMUX["TMUX"])
    asked: list[str] = []

    def passthrough() -> bool | None:
        asked.append(threading.current_thread().name)
        return answer

    app, _, rounds = console(desktop="osc9", passthrough=passthrough)
    app.ring_bell = app.alerts.bell = bell
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        for _ in range(50):  # the check's thread done, its notice posted
            if asked and (answer is None or alerts_notes(app)):
                break
            await pilot.pause(0.02)
        await pilot.pause(0.05)
        assert len(asked) == 1 and asked[0] != threading.main_thread().name  # in a thread
        notes = alerts_notes(app)
        if answer is None:
            assert notes == []  # tmux could not tell: nothing said
            return
        assert notes == [
            "Desktop notifications cannot leave tmux: its passthrough is off. Run "
            "`tmux set -g allow-passthrough on` to have them; alerts are still shown here"
            + (" and ring the terminal bell." if bell else ".")
        ]
        [note] = [n for n in told(app) if n.title == "Alerts"]
        assert note.severity == "warning"


@pytest.mark.parametrize(("desktop", "tmux"), [("off", True), ("osc9", False)])
async def test_tmux_is_not_asked_without_desktop_notifications_or_outside_it(
    monkeypatch: pytest.MonkeyPatch, desktop: str, tmux: bool
) -> None:
    if tmux:
        monkeypatch.setenv("TMUX", TMUX["TMUX"])
    else:
        monkeypatch.delenv("TMUX", raising=False)
    asked: list[bool] = []
    app, _, rounds = console(desktop=desktop, passthrough=lambda: asked.append(True) or False)
    async with app.run_test(size=SIZE) as pilot:
        await start(pilot, app, rounds)
        await pilot.pause()
        assert asked == [] and alerts_notes(app) == []
