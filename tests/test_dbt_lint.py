"""The dbt project parses, and its SQL follows the house style (sqlfluff, templater dbt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flows.dbt_build import run_dbt
from trips_warehouse.config import PROJECT_ROOT, Settings
from trips_warehouse.dbt_cli import dbt_env

# All the project's SQL: every model, singular test and analysis. (dbt_project/functions is
# not linted: sqlfluff's dbt templater does not know dbt 1.11 functions and skips them.)
LINTED = [
    "dbt_project/models",
    "dbt_project/tests",
    "dbt_project/analyses",
]


def test_dbt_parse(settings: Settings, pg_url: str, tmp_path: Path) -> None:
    result = run_dbt(
        ["parse"], settings=settings, database_url=pg_url, target_path=tmp_path / "target"
    )
    assert result.success and result.failures == []
    assert (tmp_path / "target" / "manifest.json").exists()


def test_sqlfluff_lint(pg_url: str) -> None:
    env = dbt_env(pg_url)
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    proc = subprocess.run(
        [str(sqlfluff), "lint", *LINTED, "--disable-progress-bar"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
