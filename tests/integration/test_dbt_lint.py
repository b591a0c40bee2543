"""The dbt project parses, and its SQL follows the house style (sqlfluff, templater dbt)."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from flows.dbt_build import run_dbt
from trips_warehouse.config import PROJECT_ROOT, Settings
from trips_warehouse.db import dbt_env

# All the project's SQL: every model, singular test and analysis. The functions are linted
# compiled (test_sqlfluff_lint_functions): sqlfluff's dbt templater skips dbt 1.11 functions.
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


# Rules that cannot hold for a compiled function body, on top of the project's .sqlfluff: its
# arguments look like unqualified columns (RF02, RF03), dbt quotes the relations it renders
# (RF06) and ends the file its own way (LT12).
FUNCTION_EXCLUDED_RULES = ["RF02", "RF03", "RF06", "LT12"]


def sqlfluff(args: list[str], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sqlfluff"), "lint", *args, "--disable-progress-bar"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def test_sqlfluff_lint(pg_url: str) -> None:
    sqlfluff(LINTED, env={**os.environ, **dbt_env(pg_url)})


def test_sqlfluff_lint_functions(settings: Settings, pg_url: str, tmp_path: Path) -> None:
    """The functions' SQL (mostly macros) as dbt compiles it, under the models' rules."""
    target = tmp_path / "target"
    run_dbt(["compile", "--select", "resource_type:function"], settings=settings,
            database_url=pg_url, target_path=target)
    compiled = sorted((target / "compiled").rglob("functions/*.sql"))
    assert len(compiled) == len(list((PROJECT_ROOT / "dbt_project/functions").glob("*.sql")))
    # --exclude-rules replaces .sqlfluff's list: pass that list and these
    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / ".sqlfluff")
    project_excluded = [r.strip() for r in config["sqlfluff"]["exclude_rules"].split(",")]
    excluded = ",".join([*project_excluded, *FUNCTION_EXCLUDED_RULES])
    sqlfluff(["--config", str(PROJECT_ROOT / ".sqlfluff"), "--templater", "raw",
              "--exclude-rules", excluded, *map(str, compiled)])
