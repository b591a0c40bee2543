"""The packages import downward only: trips_cli -> flows -> extract_load -> trips_warehouse.

The contracts live in pyproject.toml (``[tool.importlinter]``); ``lint-imports`` checks every
import, function-level ones included.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_is_in_the_layers():
    config = _pyproject()
    shipped = {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    linter = config["tool"]["importlinter"]
    assert set(linter["contracts"][0]["layers"]) == shipped == set(linter["root_packages"])


def test_layers_import_downward_only():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_is_caught():
    """The checker sees a lower package importing an upper one (a function-level import)."""
    config = (ROOT / "pyproject.toml").read_text()
    probe = ROOT / "trips_warehouse" / "_layer_probe.py"
    probe.write_text("def f():\n    from trips_cli.main import main\n\n    return main\n")
    try:
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run(
            [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
            check=False,
        )
    finally:
        probe.unlink()
    assert (ROOT / "pyproject.toml").read_text() == config
    assert result.returncode != 0
    assert "trips_warehouse._layer_probe -> trips_cli.main" in result.stdout
