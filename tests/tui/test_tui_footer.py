"""ibtui's footer: its keys start in the footer's compact state, so mounting them restyles none
of them (Textual's keys start compact and the binding to the footer then undoes it: two
stylesheet passes a key), and they end exactly as Textual's would; a footer whose screen is no
longer current does not recompose (the account picker's, once an account is chosen), and a burst
of bindings changes recomposes it once."""

from __future__ import annotations

from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter

from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.positions import PositionsScreen
from ibtui.tui.widgets.footer import Footer
from tests.tui.conftest import LIVE, PAPER, Clock, ViewBroker, position

# Textual does not export its footer's key widget (it lives in ``textual.widgets._footer``): the
# tests find the keys by their CSS type name, as a stylesheet does.
KEY = "FooterKey"


class FooterApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "noop('a')", "Accounts"),
        Binding("o", "noop('o')", "Orders"),
        Binding("question_mark", "noop('?')", "Help"),
    ]

    def __init__(self, compact: bool) -> None:
        super().__init__()
        self.compact = compact

    def compose(self) -> ComposeResult:
        yield Footer(compact=self.compact)

    def action_noop(self, key: str) -> None:
        pass


@pytest.mark.parametrize("compact", [False, True])
async def test_footer_keys_mount_without_restyling_and_take_the_footers_compact_state(
    compact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    restyled: list[str] = []
    original = DOMNode.update_node_styles

    def counting(self: DOMNode, animate: bool = True) -> None:
        if type(self).__name__ == KEY:
            restyled.append(self.key)  # type: ignore[attr-defined]
        original(self, animate)

    monkeypatch.setattr(DOMNode, "update_node_styles", counting)
    app = FooterApp(compact)
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        keys = {key.key: key for key in app.screen.query(KEY)}
        assert {"a", "o", "question_mark"} <= set(keys)
        for name in ("a", "o", "question_mark"):
            assert keys[name].compact is compact
            assert keys[name].has_class("-compact") is compact
        footer_text = " ".join(str(key.render()) for key in keys.values())
        assert "Accounts" in footer_text and "Help" in footer_text
        bound = [k for k in restyled if k in ("a", "o", "question_mark")]
        assert bound == []


class Over(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Footer()


async def test_a_footer_whose_screen_is_not_current_recomposes_when_it_resumes() -> None:
    # A recompose asked for while its screen was current can run after another screen came over
    # it (the account picker's footer, as the positions open): it waits for the screen to resume.
    app = FooterApp(compact=False)
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        base = app.screen
        footer = base.query_one(Footer)
        keys = list(footer.query(KEY))
        assert keys
        await app.push_screen(Over())
        await pilot.pause()
        await footer.recompose()
        assert list(footer.query(KEY)) == keys  # the same widgets: nothing recomposed
        app.pop_screen()
        await pilot.pause()
        await pilot.pause()
        assert app.screen is base
        again = list(base.query_one(Footer).query(KEY))
        assert again and again != keys  # recomposed once its screen was current again
        assert "Accounts" in " ".join(str(key.render()) for key in again)


async def test_choosing_an_account_recomposes_only_current_footers(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    recomposed: list[tuple[str, bool]] = []  # (the footer's screen, current then)
    original = TextualFooter.recompose

    async def recording(self: TextualFooter) -> None:
        recomposed.append((type(self.screen).__name__, self.screen is self.app.screen))
        await original(self)

    monkeypatch.setattr(TextualFooter, "recompose", recording)
    broker = ViewBroker([position(1, "AAA", "10", "50", "40")], clock, accounts=[PAPER, LIVE])
    app = IbtuiApp(broker, clock=clock, poll=PollSettings(interval=60), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(50):
            await pilot.pause()
            if isinstance(app.screen, AccountsScreen):
                break
        await pilot.press("enter")
        for _ in range(20):
            await pilot.pause()
        assert isinstance(app.screen, PositionsScreen)
        keys = " ".join(str(key.render()) for key in app.screen.query(KEY))
        assert "Accounts" in keys and "Help" in keys  # the positions' footer shows its keys
    assert ("AccountsScreen", True) in recomposed and ("PositionsScreen", True) in recomposed
    assert [screen for screen, current in recomposed if not current] == []


async def test_a_burst_of_bindings_changes_recomposes_the_footer_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recomposes: list[int] = []
    original = TextualFooter.recompose

    async def counting(self: TextualFooter) -> None:
        recomposes.append(1)
        await original(self)

    app = FooterApp(compact=False)
    async with app.run_test(size=(100, 10)) as pilot:
        await pilot.pause()
        footer = app.screen.query_one(Footer)
        monkeypatch.setattr(TextualFooter, "recompose", counting)
        app.bind("w", "noop('w')", description="Watch")  # a new key, then two more signals
        for _ in range(3):
            app.screen.bindings_updated_signal.publish(app.screen)
        await pilot.pause()
        await pilot.pause()
        assert len(recomposes) == 1
        keys = " ".join(str(key.render()) for key in footer.query(KEY))
        assert "Watch" in keys and "Accounts" in keys  # composed with the latest bindings
        app.bind("x", "noop('x')", description="Extra")
        app.screen.bindings_updated_signal.publish(app.screen)  # a later change: composed again
        await pilot.pause()
        await pilot.pause()
        assert len(recomposes) == 2
        assert "Extra" in " ".join(str(key.render()) for key in footer.query(KEY))
