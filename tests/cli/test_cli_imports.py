"""Start-up imports: what the console's first screens do not need is imported when it is used.

Each check runs in a fresh interpreter (imports are process-wide); nothing here times anything.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Modules the first painted positions never need: opened screens import them.
LATER = (
    "plotext",
    "textual_plotext",
    "segno",
    "ibtui.tui.screens.chart",
    "ibtui.tui.screens.search",
    "ibtui.tui.screens.watchlist",
    "ibtui.tui.screens.orders",
    "ibtui.tui.screens.modify",
    "ibtui.tui.widgets.blotter",
    "ibtui.trading.modify_input",
    "ibtui.tui.screens.ticket",
    "ibtui.tui.screens.help",
    "ibtui.tui.screens.login",
    "ibtui.tui.screens.lock",
    "ibtui.tui.screens.question",
    "ibtui.tui.screens.competing",
    "ibtui.tui.screens.quit",
    "ibtui.tui.widgets.qr",
    "ibtui.tui.widgets.watchlist",
    "ibtui.adapters.trader",  # the order service: on the first order read, after the prices
    "ibtui.trading.service",
    "ibtui.tui.trading",
    "ibtui.config.credentials",
    "ibtui.ibkr.login",
    "ibtui.ibkr.models.orders",  # the order models: on the first order call
    "ibtui.ibkr.models.order_views",
    "ibtui.ibkr.models.balances",  # summary, ledger, PnL: the first positions need none of them
    "ibtui.ibkr.models.contract",  # search and contract details
    "ibtui.ibkr.models.history",  # bars, for a chart
    "ibtui.sim.history",  # the demo's simulator answers bars when a chart asks
    "ibtui.sim.orders",  # ... and its order book's tickets when the first order comes
    "ibtui.sim.order_endpoints",
    "ibtui.sim.views_orders",
    "ibtui.sim.whatif",
    "ibtui.tui.market_views",  # the chart's and the search's view-models
    # pycryptodome's PEM and PKCS#8 readers (their ciphers and key derivations, for encrypted
    # files): the demo reads its kept keys without them
    "Crypto.IO.PEM",
    "Crypto.IO.PKCS8",
    "Crypto.Cipher.AES",
)


def imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_the_console_and_the_app_import_no_screen_the_start_does_not_show() -> None:
    loaded = imported_after("import ibtui.cli.run, ibtui.tui.app")
    assert "ibtui.tui.screens.positions" in loaded  # the probe sees the start's imports
    assert sorted(loaded & set(LATER)) == []


def test_the_consoles_trader_is_made_at_start_without_the_order_service(tmp_path: Path) -> None:
    # ibtui run and ibtui demo make their trader before the first positions: the order service,
    # the order models and the trading screens' view-models wait for the first order call.
    loaded = imported_after(
        "import ibtui.cli.run, ibtui.tui.app\nfrom pathlib import Path\n"
        "from ibtui.adapters.broker import ClientBackend\n"
        "from ibtui.trading.settings import OrderSettings\n"
        "backend = ClientBackend.__new__(ClientBackend)\n"
        f"trader = ClientBackend.trader(backend, OrderSettings(), Path({str(tmp_path)!r}))\n"
        "assert trader.settings == OrderSettings()\n"
    )
    assert "ibtui.adapters.trader" in loaded
    assert sorted(loaded & (set(LATER) - {"ibtui.adapters.trader"})) == []


def test_the_demo_reads_its_kept_keys_without_pycryptodomes_pem_and_pkcs8(tmp_path: Path) -> None:
    make = (
        "from pathlib import Path\nfrom ibtui.sim.demo import build_demo\n"
        f"keys = Path({str(tmp_path)!r})\n"
    )
    imported_after(make + "build_demo(key_bits=1024, key_dir=keys)")  # a first start keeps them
    loaded = imported_after(
        make + "demo = build_demo(key_bits=1024, key_dir=keys)\n"
        "assert demo.consumer.signature_key.has_private()\n"
        "assert demo.consumer.signature_key.size_in_bits() == 1024\n"
        "assert demo.consumer.encryption_key.has_private()\n"
    )
    assert "ibtui.sim.demo" in loaded
    assert not loaded & {"Crypto.IO.PEM", "Crypto.IO.PKCS8", "Crypto.Cipher.AES"}


def test_the_market_view_models_resolve_on_first_use() -> None:
    code = (
        "import sys\nimport ibtui.tui.market as market\n"
        "assert 'ibtui.tui.market_views' not in sys.modules\n"
        "from ibtui.tui.market import PRESETS, BarView, HistoryView\n"
        "from ibtui.tui import market_views\n"
        "assert (PRESETS, BarView, HistoryView) == "
        "(market_views.PRESETS, market_views.BarView, market_views.HistoryView)\n"
        "missing = [n for n in market.__all__ if not hasattr(market, n)]\n"
        "assert not missing, missing\n"
        "assert not hasattr(market, 'NoSuchView')\n"
    )
    assert "ibtui.tui.market_views" in imported_after(code)


def test_a_commands_imports_run_without_the_collector_and_are_frozen() -> None:
    # Each object an import makes counts towards the next collection, and a full collection
    # walks every one again; the modules live as long as the process, so they are frozen.
    code = (
        "import contextlib, gc, io, sys\nfrom ibtui import cli\n"
        "assert gc.isenabled() and gc.get_freeze_count() == 0\n"
        "seen = []\n"
        "real = cli.importlib.import_module\n"
        "def probe(name):\n"
        "    seen.append(gc.isenabled())\n"
        "    return real(name)\n"
        "cli.importlib.import_module = probe\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli.main(['journal', '--help'])\n"
        "assert seen == [False], seen\n"
        "assert gc.isenabled()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "gc.disable()\n"
        "with cli.permanent_imports():\n"
        "    pass\n"
        "assert not gc.isenabled()  # a caller that turned the collector off keeps it off\n"
    )
    assert "ibtui.cli.journal" in imported_after(code)


def test_help_imports_neither_textual_nor_httpx() -> None:
    loaded = imported_after(
        "import contextlib, io\nfrom ibtui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])"
    )
    assert "ibtui.cli" in loaded
    assert not {m.split(".")[0] for m in loaded} & {"textual", "httpx", "Crypto", "starlette"}


def test_the_command_line_leaves_out_httpxs_own_command_line_and_httpx_still_works() -> None:
    code = (
        "from ibtui.cli import skip_httpx_cli\nskip_httpx_cli()\nimport httpx\n"
        "def app(request):\n    return httpx.Response(200, json={'ok': True})\n"
        "with httpx.Client(transport=httpx.MockTransport(app)) as client:\n"
        "    assert client.get('https://example.invalid/').json() == {'ok': True}\n"
    )
    loaded = imported_after(code)
    assert "httpx" in loaded
    assert not loaded & {"click", "pygments.lexers", "rich.progress", "rich.syntax"}


def test_every_model_name_resolves_the_order_models_on_first_use() -> None:
    code = (
        "import sys\nimport ibtui.ibkr.models as models\n"
        "lazy = ('orders', 'order_views', 'balances', 'contract', 'history')\n"
        "assert not [m for m in lazy if f'ibtui.ibkr.models.{m}' in sys.modules]\n"
        "from ibtui.ibkr.models import LiveOrder, make_coid\n"
        "from ibtui.ibkr.models.order_views import LiveOrder as Direct\n"
        "assert LiveOrder is Direct and callable(make_coid)\n"
        "from ibtui.ibkr.models import History, LedgerEntry, ContractInfo, parse_pnl\n"
        "from ibtui.ibkr.models.history import History as DirectHistory\n"
        "from ibtui.ibkr.models.balances import LedgerEntry as DirectLedger, parse_pnl as pp\n"
        "from ibtui.ibkr.models.contract import ContractInfo as DirectInfo\n"
        "assert (History, LedgerEntry, ContractInfo, parse_pnl) == "
        "(DirectHistory, DirectLedger, DirectInfo, pp)\n"
        "missing = [n for n in models.__all__ if not hasattr(models, n)]\n"
        "assert not missing, missing\n"
        "assert not hasattr(models, 'NoSuchModel')\n"
    )
    loaded = imported_after(code)
    assert {
        f"ibtui.ibkr.models.{m}" for m in ("orders", "balances", "contract", "history")
    } <= loaded
