"""The `trips` command group: help, version, db and dbt passthrough (real Postgres, real dbt)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from trips_cli.main import main
from trips_warehouse import __version__
from trips_warehouse.db import path_with_sbin
from trips_warehouse.processes import is_alive

COMMANDS = {"generate", "ingest", "groups", "weekly-average", "answer", "server", "notify",
            "watch", "db", "dbt", "superset", "cluster"}


def test_help_lists_every_command_and_version():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()}
    assert listed >= COMMANDS
    assert __version__ in CliRunner().invoke(main, ["--version"]).output
    for command in COMMANDS:
        assert CliRunner().invoke(main, [command, "--help"]).exit_code == 0, command


def test_a_bad_setting_is_a_usage_error_naming_the_variable(monkeypatch):
    for name, value, says in (("TRIPS_DBT_CHECKS", "some", "must be 'new' or 'all'"),
                              ("TRIPS_DBT_THREADS", "four", "must be an integer"),
                              ("TRIPS_LAKE_DIR", "s3://bucket/lake",
                               "must be a filesystem path (on a cluster a shared or mounted "
                               "one)")):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            result = CliRunner().invoke(main, ["db", "url"])
        assert result.exit_code == 2, result.output
        assert f"configuration: {name} {says}, not '{value}'" in result.output


def test_db_url_prefers_explicit_url(pg_url, monkeypatch):
    monkeypatch.setenv("TRIPS_DATABASE_URL", pg_url)
    result = CliRunner().invoke(main, ["db", "url"])
    assert result.exit_code == 0 and result.output.strip() == pg_url


def test_dbt_passthrough_uses_the_warehouse_connection(pg_url, tmp_path):
    env = {"TRIPS_DATABASE_URL": pg_url, "TRIPS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ls = subprocess.run(
        [sys.executable, "-m", "trips_cli", "dbt", "ls", "--select", "fct_trips",
         "--resource-type", "model", "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert ls.returncode == 0, ls.stderr + ls.stdout
    assert "trips_warehouse.marts.core.fct_trips" in ls.stdout
    debug = subprocess.run(
        [sys.executable, "-m", "trips_cli", "dbt", "debug", "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert debug.returncode == 0, debug.stdout  # connects with the TRIPS_DATABASE_URL values


def test_db_stop_stops_a_server_another_process_started(tmp_path):
    # `trips db url` starts the embedded server and exits; `trips db stop` is a new process.
    # PATH as cron sets it: on a new machine (as root) the first start creates the server's
    # system user with useradd, which is not on it (see path_with_sbin).
    env = {"TRIPS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def trips_db(command: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "trips_cli", "db", command],
            env=env, capture_output=True, text=True, check=False,
        )
        assert done.returncode == 0, f"trips db {command}: {done.stderr}{done.stdout}"
        return done.stdout.strip()

    pid_file = tmp_path / "pg" / "postmaster.pid"
    try:
        assert f"host={tmp_path}/pg" in trips_db("url")
        postmaster = int(pid_file.read_text().split()[0])
        assert is_alive(postmaster)
        assert trips_db("stop") == "stopped"
        assert not pid_file.exists() and not is_alive(postmaster)
        assert trips_db("stop") == "no embedded server running"
    finally:
        if pid_file.exists():  # never leave a server behind, whatever failed
            subprocess.run(["kill", pid_file.read_text().split()[0]], check=False)


def test_path_with_sbin_appends_only_what_is_missing():
    assert path_with_sbin("/usr/bin:/bin") == "/usr/bin:/bin:/usr/sbin:/sbin"
    assert path_with_sbin("/usr/sbin:/usr/bin:/sbin") == "/usr/sbin:/usr/bin:/sbin"
    assert path_with_sbin("") == "/usr/sbin:/sbin"
