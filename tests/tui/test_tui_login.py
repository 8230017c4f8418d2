"""The out-of-band login screen against a LoginFlow implemented here (the adapter is the lead's)."""

from __future__ import annotations

import asyncio

from textual.app import App
from textual.widgets import Input, Static

from ibtui.tui.protocols import LinkUsedUp, LoginPrompt, LoginStep, Progress
from ibtui.tui.screens.login import LoginScreen, clean_verifier
from ibtui.tui.widgets.qr import QrCode, qr_lines
from tests.tui.drawn import brightness, style_of

URL = "https://www.interactivebrokers.com/authorize?oauth_token=0123456789abcdef0123"


class Flow:
    """Accepts one verifier; records what the screen asked for."""

    def __init__(self, good: str = "a1b2c3d4", hint: str | None = None) -> None:
        self.good = good
        self.hint = hint
        self.starts = 0
        self.tried: list[str] = []
        self.fail_start = False
        self.fail_at: LoginStep | None = None
        self.gate: asyncio.Event | None = None

    async def start(self) -> LoginPrompt:
        self.starts += 1
        if self.fail_start:
            raise ConnectionError("Cannot reach IBKR: connection refused")
        return LoginPrompt(f"{URL}{self.starts}", self.hint)

    async def complete(self, verifier: str, progress: Progress) -> None:
        self.tried.append(verifier)
        progress(LoginStep.ACCESS_TOKEN)
        if verifier != self.good:
            raise LinkUsedUp("IBKR did not accept the verifier (wrong, used or expired).")
        for step in (LoginStep.LIVE_SESSION_TOKEN, LoginStep.BROKERAGE_SESSION):
            if self.gate is not None:
                await self.gate.wait()
            progress(step)
            if step == self.fail_at:
                raise RuntimeError("IBKR answered 503 on /iserver/auth/ssodh/init")


class LoginApp(App[None]):
    def __init__(self, flow: Flow) -> None:
        super().__init__()
        self.flow = flow
        self.results: list[bool | None] = []

    def on_mount(self) -> None:
        self.push_screen(LoginScreen(self.flow, cursor_blink=False), self.results.append)


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_shows_url_qr_and_hint() -> None:
    flow = Flow(hint="Demo: the simulator's verifier is a1b2c3d4")
    app = LoginApp(flow)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert text_of(app, "#url") == URL + "1"
        assert "a1b2c3d4" in text_of(app, "#hint")
        qr = app.screen.query_one(QrCode)
        assert qr.data == URL + "1"
        assert qr.size.height == len(qr_lines(URL + "1"))
        assert app.focused is app.screen.query_one("#verifier", Input)


async def test_a_step_still_to_come_has_its_mark_drawn_dimmer_than_its_name() -> None:
    """The pending steps' mark is the theme's muted text ($text-muted, "auto 60%": the text's
    colour at 60% over the background); the colour named in the text's markup drew it pure
    white, brighter than the step's name."""
    app = LoginApp(Flow())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        steps = app.screen.query_one("#steps", Static)
        for y in range(3):
            line = steps.render_line(y)
            assert line.text.startswith("· "), line.text
            mark, name = style_of(line, "·").color, style_of(line, line.text[2:].strip()).color
            assert brightness(mark) < 0.8 * brightness(name), (line.text, mark, name)


async def test_successful_login_walks_the_steps_and_dismisses() -> None:
    flow = Flow()
    app = LoginApp(flow)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        flow.gate = asyncio.Event()
        await pilot.press(*"  a1b2c3d4 ", "enter")  # surrounding spaces are trimmed
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LoginScreen)
        assert screen.steps[LoginStep.ACCESS_TOKEN] == "running"
        assert "… access token" in text_of(app, "#steps")
        flow.gate.set()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert flow.tried == ["a1b2c3d4"]
        assert app.results == [True]


async def test_wrong_verifier_shows_the_error_and_keeps_the_text() -> None:
    flow = Flow()
    app = LoginApp(flow)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press(*"wrong123", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        box = app.screen.query_one("#verifier", Input)
        assert "did not accept the verifier" in text_of(app, "#error")
        assert box.value == "wrong123"
        assert not box.disabled and app.focused is box
        assert "✗ access token" in text_of(app, "#steps")
        assert "ctrl+n" in text_of(app, "#error")  # the link is used up: how to get a new one
        assert app.results == []
        # the right verifier for the used-up link is not sent (IBKR would refuse it)
        await pilot.press("ctrl+a", "ctrl+k", *"a1b2c3d4", "enter")
        await pilot.pause()
        assert flow.tried == ["wrong123"]
        assert "used up" in text_of(app, "#error") and "ctrl+n" in text_of(app, "#error")
        # ctrl+n: a new link and an empty box (the old verifier belongs to the old link)
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#url") == URL + "2"
        assert box.value == ""
        await pilot.press(*"a1b2c3d4", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert flow.tried == ["wrong123", "a1b2c3d4"]
        assert app.results == [True]


async def test_malformed_verifier_is_refused_before_sending() -> None:
    flow = Flow()
    app = LoginApp(flow)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert "Type the verifier" in text_of(app, "#error")
        await pilot.press(*"a b", "enter")
        await pilot.pause()
        assert "does not look like a verifier" in text_of(app, "#error")
        assert app.screen.query_one("#verifier", Input).value == "a b"
        assert flow.tried == []


async def test_server_error_in_a_later_step_is_shown_on_that_step() -> None:
    flow = Flow()
    flow.fail_at = LoginStep.BROKERAGE_SESSION
    app = LoginApp(flow)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"a1b2c3d4", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        steps = text_of(app, "#steps")
        assert "✓ access token" in steps and "✓ live session token" in steps
        assert "✗ brokerage session" in steps
        assert "503" in text_of(app, "#error")
        assert app.screen.query_one("#verifier", Input).value == "a1b2c3d4"


async def test_failed_start_can_be_retried_with_a_new_link() -> None:
    flow = Flow()
    flow.fail_start = True
    app = LoginApp(flow)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "connection refused" in text_of(app, "#error")
        await pilot.press(*"keepme")
        flow.fail_start = False
        await pilot.press("ctrl+n")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert text_of(app, "#url") == URL + "2"
        assert not app.screen.query_one("#error", Static).display
        assert app.screen.query_one("#verifier", Input).value == "keepme"


def test_clean_verifier_accepts_pasted_callback_urls() -> None:
    assert clean_verifier("  abc123XY \n") == "abc123XY"
    assert clean_verifier("https://x/cb?oauth_token=t&oauth_verifier=v3r1f&x=1") == "v3r1f"
    assert clean_verifier("ab") is None
    assert clean_verifier("has space") is None
