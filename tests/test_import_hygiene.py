"""The layers' one-way imports (see ARCHITECTURE.md), checked two ways: statically, on every
import statement of every module of a layer (those under ``TYPE_CHECKING`` and inside functions
too), and at run time, in a fresh interpreter (imports are process-wide), on what a command
really loads.

- The real console (``ibtui run``, up to building the app) loads no simulator, no Starlette, no
  uvicorn: those are ``ibtui demo``'s and ``ibtui sim``'s.
- ``ibtui.ibkr`` (the client) and ``ibtui.trading`` (orders) import no Textual; the client
  imports nothing of ibtui above it.
- ``ibtui.sim`` imports no Textual and nothing of the client but its pure OAuth functions.
- ``ibtui.alerts`` (the alerts' rules and file) imports no Textual, and of ibtui only the local
  files (and ``text``).
- ``ibtui.local`` (files, paths, state) imports nothing of ibtui above it; ``ibtui.config``
  imports no Textual, nothing above it, and of the client and the trading core only the OAuth
  functions and the order settings (which the trading core owns: it imports no config).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibtui.sim.oauth_server import OAuthServer
from ibtui.sim.provision import write_state_dir

PACKAGE = Path(__file__).resolve().parents[1] / "ibtui"

SIMULATOR_ONLY = ("ibtui.sim", "starlette", "uvicorn")


def loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    return set(out.split())


def within(modules: set[str], *roots: str) -> set[str]:
    return {m for m in modules if any(m == r or m.startswith(r + ".") for r in roots)}


def modules_of(layer: str) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of ``ibtui.<layer>``."""
    root = PACKAGE / layer
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports_of(name: str, path: Path) -> set[str]:
    """Every module ``path`` names in an import statement, absolute (relative ones resolved;
    ``from a import b`` counts as ``a.b`` too, since ``b`` may be a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def offending_imports(
    layer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """{module: the forbidden modules it imports} for every module of ``ibtui.<layer>``; an
    ``allowed`` module (and the packages it is in, which importing it imports) is not counted."""
    parents = {a.rsplit(".", n)[0] for a in allowed for n in range(1, a.count(".") + 1)}
    bad: dict[str, list[str]] = {}
    for name, path in modules_of(layer):
        imported = imports_of(name, path)
        hits = within(imported, *forbidden) - within(imported, *allowed) - parents
        if hits:
            bad[name] = sorted(hits)
    return bad


@pytest.fixture
def run_config(tmp_path: Path) -> Path:
    """A consumer folder with a first-party token and a state dir of its own, as ``ibtui sim``
    writes them (nothing listens at the URL: the app is built, not started)."""
    setup = write_state_dir(
        tmp_path / "consumer", "http://127.0.0.1:9/v1/api/", OAuthServer(), key_bits=1024
    )
    with setup.config_path.open("a") as f:
        f.write(f'[paths]\nstate_dir = "{tmp_path / "state"}"\n')
    return setup.config_path


def test_the_real_console_loads_no_simulator_up_to_building_the_app(run_config: Path) -> None:
    code = (
        "from ibtui.tui import app\n"
        "built = []\n"
        "app.IbtuiApp.run = lambda self, *a, **k: built.append(self)\n"
        "from ibtui.cli import main\n"
        f"assert main(['run', '--config', {str(run_config)!r}]) == 0\n"
        "assert len(built) == 1, built  # the app was built\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBTUI_")}
    loaded = loaded_after(code, env)
    # the probe saw the console's path: the command, the adapters, the positions screen
    assert {"ibtui.cli.run", "ibtui.adapters.broker", "ibtui.tui.screens.positions"} <= loaded
    assert sorted(within(loaded, *SIMULATOR_ONLY)) == []


def test_the_demo_does_load_the_simulator() -> None:
    # The other side of the rule above: the check names modules the demo really loads.
    loaded = loaded_after("import ibtui.cli.demo")
    assert {"ibtui.sim.demo", "starlette"} <= within(loaded, *SIMULATOR_ONLY)


def test_the_client_and_the_trading_core_import_no_textual_statically() -> None:
    assert offending_imports("ibkr", ("textual",)) == {}
    assert offending_imports("trading", ("textual",)) == {}


def test_the_client_imports_nothing_of_ibtui_above_it() -> None:
    above = ("ibtui.tui", "ibtui.trading", "ibtui.sim", "ibtui.adapters", "ibtui.cli")
    above += ("ibtui.config", "ibtui.local")
    assert offending_imports("ibkr", above) == {}


def test_the_trading_core_imports_neither_the_tui_nor_the_composition_root() -> None:
    above = ("ibtui.tui", "ibtui.adapters", "ibtui.cli", "ibtui.sim")
    assert offending_imports("trading", above) == {}


def test_the_simulator_imports_no_textual_and_of_the_client_only_its_oauth_functions() -> None:
    client = ("ibtui.ibkr",)
    oauth = ("ibtui.ibkr.oauth",)
    assert offending_imports("sim", client, allowed=oauth) == {}
    above = ("textual", "ibtui.tui", "ibtui.trading", "ibtui.adapters", "ibtui.cli")
    assert offending_imports("sim", above) == {}


def test_the_alert_rules_import_no_textual_and_of_ibtui_only_the_local_files() -> None:
    above = ("textual", "ibtui.tui", "ibtui.trading", "ibtui.adapters", "ibtui.cli")
    above += ("ibtui.sim", "ibtui.ibkr", "ibtui.config")
    assert offending_imports("alerts", above) == {}


def test_the_local_files_import_nothing_of_ibtui_above_them() -> None:
    above = ("ibtui.config", "ibtui.ibkr", "ibtui.trading", "ibtui.tui", "ibtui.adapters")
    above += ("ibtui.cli", "ibtui.sim")
    assert offending_imports("local", above) == {}


def test_the_settings_import_of_the_client_and_the_trading_core_only_what_they_name() -> None:
    above = ("textual", "ibtui.tui", "ibtui.adapters", "ibtui.cli", "ibtui.sim")
    assert offending_imports("config", above) == {}
    assert offending_imports("config", ("ibtui.ibkr",), allowed=("ibtui.ibkr.oauth",)) == {}
    allowed = ("ibtui.trading.settings",)
    assert offending_imports("config", ("ibtui.trading",), allowed=allowed) == {}
    assert offending_imports("trading", ("ibtui.config",)) == {}  # config fills in its settings


def test_every_module_of_the_client_the_trading_core_and_the_simulator_loads_no_textual() -> None:
    names = [name for layer in ("ibkr", "trading", "sim") for name, _ in modules_of(layer)]
    loaded = loaded_after(
        "import importlib\n" + "".join(f"importlib.import_module({name!r})\n" for name in names)
    )
    assert set(names) <= loaded
    assert sorted(within(loaded, "textual", "ibtui.tui", "ibtui.adapters", "ibtui.cli")) == []


def test_every_module_of_the_simulator_loads_of_the_client_only_its_oauth_functions() -> None:
    names = [name for name, _ in modules_of("sim")]
    loaded = loaded_after(
        "import importlib\n" + "".join(f"importlib.import_module({name!r})\n" for name in names)
    )
    assert set(names) <= loaded
    assert within(loaded, "ibtui.ibkr") <= {"ibtui.ibkr", "ibtui.ibkr.oauth"}
