"""The `trips` command group without services: help, version, settings errors, `db url` with an
explicit URL."""

from __future__ import annotations

from click.testing import CliRunner

from trips_cli.main import main
from trips_warehouse import __version__
from trips_warehouse.db import path_with_sbin

COMMANDS = {"generate", "ingest", "groups", "weekly-average", "answer", "server", "notify",
            "watch", "db", "dbt", "superset", "cluster", "serve"}


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


def test_db_url_prefers_explicit_url(monkeypatch):
    # printed as given, no embedded server started (the unit tier refuses one)
    url = "postgresql://someone@db.example:5433/warehouse"
    monkeypatch.setenv("TRIPS_DATABASE_URL", url)
    result = CliRunner().invoke(main, ["db", "url"])
    assert result.exit_code == 0 and result.output.strip() == url


def test_path_with_sbin_appends_only_what_is_missing():
    assert path_with_sbin("/usr/bin:/bin") == "/usr/bin:/bin:/usr/sbin:/sbin"
    assert path_with_sbin("/usr/sbin:/usr/bin:/sbin") == "/usr/sbin:/usr/bin:/sbin"
    assert path_with_sbin("") == "/usr/sbin:/sbin"
