"""``ibtui demo``: a state folder of its own that persists between runs (apart from the real
console's), and the user's ``[ui]``, ``[orders]`` and ``[keymap]`` applied to it.

The console itself is not run: ``run_app`` is replaced by a recorder of what the command hands
it. Every test runs with its own ``XDG_STATE_HOME``, ``XDG_CONFIG_HOME`` and temporary folder,
so nothing is written to the real home."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ibtui.cli import demo as demo_cli
from ibtui.logfile import stop_logging
from ibtui.sim import demo as sim_demo
from ibtui.tui import app as tui_app
from ibtui.tui.market import WatchItem


class Home:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self.config = root / "config"
        self.tmp = root / "tmp"
        self.runs: list[dict[str, Any]] = []

    @property
    def demo_dir(self) -> Path:
        return self.state / "ibtui" / "demo"

    def run(self, *argv: str) -> dict[str, Any]:
        assert demo_cli.main(list(argv)) == 0
        return self.runs[-1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    home = Home(tmp_path)
    home.tmp.mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home.state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home.config))
    for name in [n for n in os.environ if n.startswith("IBTUI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(tempfile, "tempdir", str(home.tmp))
    # Small keys: generating two 2048-bit ones would be most of the test's time.
    monkeypatch.setattr(
        demo_cli, "build_demo", functools.partial(sim_demo.build_demo, key_bits=1024)
    )

    def run_app(broker: object, **kwargs: Any) -> int:
        home.runs.append({"broker": broker, **kwargs})
        return 0

    monkeypatch.setattr(tui_app, "run_app", run_app)
    yield home
    stop_logging()


def test_the_demo_keeps_its_state_in_a_folder_of_its_own_between_runs(home: Home) -> None:
    first = home.run("--skip-login")
    assert first["trader"].journal.path.parent == home.demo_dir
    assert (home.demo_dir / "ibtui.log").is_file()
    watchlist = first["watchlist"]
    assert watchlist.add(WatchItem(4815747, "NVDA"))
    watchlist.save()  # as the watchlist screen does after a change

    second = home.run("--skip-login")
    assert [i.symbol for i in second["watchlist"].items] == ["NVDA"]  # the watchlist carried over
    assert list(home.tmp.iterdir()) == []  # no folder left behind in the temporary folder
    # apart from the real console's state: nothing but the demo folder in the state dir
    assert [p.name for p in (home.state / "ibtui").iterdir()] == ["demo"]


def test_state_dir_still_overrides_the_demo_folder(home: Home, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    run = home.run("--skip-login", "--state-dir", str(chosen))
    assert run["trader"].journal.path.parent == chosen
    assert (chosen / "ibtui.log").is_file()
    assert not (home.demo_dir / "ibtui.log").exists()


USER_CONFIG = """\
[ibkr]
base_url = "https://example.invalid/v1/api/"
consumer_key = "MYKEY0001"
signature_key = "missing_signature.pem"
encryption_key = "missing_encryption.pem"
dh_params = "missing_dhparam.pem"
access_token = "token-of-mine"
access_token_secret = "c2VjcmV0"

[ui]
poll_interval = 0.5
theme = "nord"
bell = false
idle_lock_minutes = 15

[orders]
max_quantity = 7
precaution_action = "block"

[keymap]
buy = "ctrl+b"
"""


def _write_config(path: Path, text: str = USER_CONFIG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def _check_user_settings(run: dict[str, Any]) -> None:
    assert run["keymap"] == {"buy": "ctrl+b"}
    assert (run["poll_interval"], run["theme"], run["bell"]) == (0.5, "nord", False)
    assert run["idle_lock_minutes"] == 15
    orders = run["trader"].settings
    assert orders.max_quantity == 7 and orders.precaution_action == "block"
    # never the [ibkr] credentials: the demo still logs in to its own simulator
    assert run["login"] is run["broker"] and run["broker"].needs_login


def test_the_demo_uses_the_ui_orders_and_keymap_of_the_usual_config(home: Home) -> None:
    _write_config(home.config / "ibtui" / "config.toml")
    _check_user_settings(home.run())


def test_config_names_the_file_and_poll_interval_still_wins(home: Home, tmp_path: Path) -> None:
    config = _write_config(tmp_path / "elsewhere" / "mine.toml")
    run = home.run("--config", str(config))
    _check_user_settings(run)
    assert home.run("--config", str(config), "--poll-interval", "3")["poll_interval"] == 3.0


def test_without_a_config_the_demo_runs_on_defaults(home: Home) -> None:
    run = home.run()
    assert run["keymap"] == {} and run["poll_interval"] == 2.0 and run["bell"] is True
    assert run["trader"].settings.precaution_action == "warn"


def test_a_config_error_is_one_line_and_nothing_starts(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(tmp_path / "bad.toml", "[ui]\npoll_intervall = 1\n")
    assert demo_cli.main(["--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.toml" in err and "ui.poll_interval" in err
    assert home.runs == []
    assert demo_cli.main(["--config", str(tmp_path / "missing.toml")]) == 1
    assert "missing.toml: no such config file" in capsys.readouterr().err


def test_the_demo_says_which_clock_each_time_on_screen_is(home: Home) -> None:
    """The demo's market replays a past weekday when the US market is closed: the console is
    told so, with what is on the replayed clock and what on the real one."""
    notice = home.run("--skip-login")["start_notice"]
    assert notice.startswith("Demo: the market ")
    assert "local time" in notice and "chart's axis is the exchange's time" in notice
    saturday_noon = datetime(2026, 12, 5, 12, 0, tzinfo=sim_demo.NEW_YORK).timestamp()
    offset = sim_demo.trading_offset(saturday_noon)
    replay = demo_cli.clocks_notice(offset, saturday_noon)
    assert replay.startswith("Demo: the market replays Fri Dec 04 from 10:45 New York time.")
    assert "Orders and trades carry the replayed time" in replay
    assert "'as of' and quote ages are the real clock" in replay
    assert "replays" not in demo_cli.clocks_notice(0.0, saturday_noon)


def test_the_demo_uses_the_alerts_section_and_keeps_the_alerts_and_its_help_says_so(
    home: Home, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write_config(
        tmp_path / "cfg" / "config.toml", '[alerts]\ndesktop = "both"\nrearm_pct = 0.5\n'
    )
    chosen = tmp_path / "chosen"
    alerts = home.run("--config", str(config), "--state-dir", str(chosen))["alerts"]
    assert (alerts.desktop, str(alerts.rearm_pct)) == ("both", "0.5")
    assert alerts.store.path == chosen / "alerts.json"
    with pytest.raises(SystemExit):
        demo_cli.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "[keymap], [stream] and [alerts] the demo uses" in help_text
    assert "order journal, watchlist, alerts and log" in help_text
