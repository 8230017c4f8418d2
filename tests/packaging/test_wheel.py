"""The wheel holds the ibtui package and nothing else: no tests, no benchmarks, no soak harness
(a development tool in tools/), no screenshots. Built for real, by the project's build backend."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_package_and_no_development_tool(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("ibtui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"ibtui"}
    # what the console needs at run time is there (the check sees the package's files)
    assert {
        "ibtui/cli/__init__.py",
        "ibtui/cli/run.py",
        "ibtui/adapters/broker.py",
        "ibtui/sim/demo.py",
        "ibtui/tui/screens/positions.tcss",
        "ibtui/py.typed",
    } <= set(names)
    unwanted = [
        name
        for name in names
        if "soak" in name
        or any(part.startswith(("test", "bench", "screenshot")) for part in name.split("/"))
    ]
    assert unwanted == []
