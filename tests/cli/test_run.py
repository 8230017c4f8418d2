"""``ibtui run``: the console from a config file (token from the config or a stored login), and
the last account remembered across restarts."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

from ibtui.adapters.broker import backend_from_settings
from ibtui.config import load_settings
from ibtui.local.state import StateStore
from ibtui.sim import LIVE_ACCOUNT, ShiftedClock, SimConfig, SystemClock
from ibtui.sim.demo import DemoEnvironment, build_demo, trading_offset
from ibtui.sim.provision import write_state_dir
from ibtui.tui.app import IbtuiApp
from ibtui.tui.poller import PollSettings
from ibtui.tui.screens.accounts import AccountsScreen
from ibtui.tui.screens.positions import PositionsScreen
from tests.tui.test_tui_demo_flow import wait_for

REPO = Path(__file__).resolve().parents[2]


def configured(tmp_path: Path, demo: DemoEnvironment) -> Path:
    setup = write_state_dir(tmp_path / "consumer", demo.base_url, demo.server, key_bits=1024)
    with setup.config_path.open("a") as f:
        f.write(f'[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    return setup.config_path


def app_for(config: Path, demo: DemoEnvironment) -> tuple[IbtuiApp, StateStore]:
    settings = load_settings(config, require_credentials=True)
    backend = backend_from_settings(settings, transport=demo.transport)
    assert not backend.needs_login  # the first-party token comes from the config
    store = StateStore(settings.state_dir)
    app = IbtuiApp(
        backend,
        poll=PollSettings(interval=0.2),
        last_account=store.last_account,
        remember_account=store.remember_account,
        cursor_blink=False,
    )
    return app, store


async def test_the_chosen_account_is_remembered_across_restarts(tmp_path: Path) -> None:
    clock = ShiftedClock(SystemClock(), trading_offset(time.time()))
    demo = build_demo(key_bits=1024, config=SimConfig(seed=6, clock=clock, pacing_enabled=False))
    config = configured(tmp_path, demo)

    app, store = app_for(config, demo)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AccountsScreen))
        await pilot.press("j", "enter")  # the second row: the live account
        await wait_for(pilot, lambda: isinstance(app.screen, PositionsScreen))
        await wait_for(pilot, lambda: store.last_account == LIVE_ACCOUNT)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600

    again, _ = app_for(config, demo)  # a new start: straight to the remembered account
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, PositionsScreen))
        screen = again.screen
        assert isinstance(screen, PositionsScreen)
        assert screen.account.account_id == LIVE_ACCOUNT


def test_a_damaged_state_file_is_an_empty_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.path.write_text("{not json")
    assert store.last_account is None
    store.remember_account("DU1")
    assert json.loads(store.path.read_text()) == {"last_account": "DU1"}


def test_run_without_a_usable_config_says_so_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ibtui", "--config", str(tmp_path / "missing.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "missing.toml" in done.stderr
    assert "Traceback" not in done.stderr
