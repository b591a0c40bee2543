"""The `trips` command group: help, version, db and dbt passthrough (real Postgres, real dbt)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from trips_warehouse import __version__
from trips_warehouse.cli import main

COMMANDS = {"generate", "ingest", "groups", "weekly-average", "answer", "server", "notify",
            "watch", "db", "dbt"}


def test_help_lists_every_command_and_version():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()}
    assert listed >= COMMANDS
    assert __version__ in CliRunner().invoke(main, ["--version"]).output
    for command in COMMANDS:
        assert CliRunner().invoke(main, [command, "--help"]).exit_code == 0, command


def test_db_url_prefers_explicit_url(pg_url, monkeypatch):
    monkeypatch.setenv("TRIPS_DATABASE_URL", pg_url)
    result = CliRunner().invoke(main, ["db", "url"])
    assert result.exit_code == 0 and result.output.strip() == pg_url


def test_dbt_passthrough_uses_the_warehouse_connection(pg_url, tmp_path):
    env = {"TRIPS_DATABASE_URL": pg_url, "TRIPS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ls = subprocess.run(
        [sys.executable, "-m", "trips_warehouse.cli", "dbt", "ls", "--select", "fct_trips",
         "--resource-type", "model", "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert ls.returncode == 0, ls.stderr + ls.stdout
    assert "trips_warehouse.marts.core.fct_trips" in ls.stdout
    debug = subprocess.run(
        [sys.executable, "-m", "trips_warehouse.cli", "dbt", "debug", "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert debug.returncode == 0, debug.stdout  # connects with the TRIPS_DATABASE_URL values
