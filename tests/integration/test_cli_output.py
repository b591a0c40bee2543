"""What `trips` writes where, run as a user runs it: a subprocess with stdout and stderr piped.
(Its pure parts: tests/unit/test_cli_output.py.)

stdout carries only the result (with --json only the JSON document), logs go to stderr, and
neither has an escape code when it is not a terminal. Bad input and an unreachable database
are one line each, at once: a missing path does not wait for the pipeline lock.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import psycopg
import pytest

from extract_load.generate import generate_file
from tests.integration.prefect_fixtures import closed_port
from trips_cli.main import main
from trips_warehouse.config import PROJECT_ROOT
from trips_warehouse.db import masked_url, with_database
from trips_warehouse.lock import pipeline_lock, pipeline_lock_free

ESC = "\x1b"


def trips(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trips_cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    done = trips(*args, env=env, timeout=timeout)
    assert done.returncode == 0, f"trips {' '.join(args)}:\n{done.stderr[-4000:]}{done.stdout}"
    assert ESC not in done.stdout and ESC not in done.stderr, f"escape codes: trips {args}"
    return done


def json_of(*args: str, env: dict[str, str], timeout: float = 600):
    done = ok(*args, "--json", env=env, timeout=timeout)
    try:
        return json.loads(done.stdout), done
    except json.JSONDecodeError:
        pytest.fail(f"trips {' '.join(args)} --json: stdout is not only JSON:\n{done.stdout}")


def base_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {**os.environ, "TRIPS_DATABASE_URL": database_url,
           "TRIPS_DATA_DIR": str(tmp_path / "data"), "TRIPS_SPARK_MASTER": "local[2]",
           "TRIPS_SPARK_DRIVER_MEMORY": "512m", "TRIPS_DBT_THREADS": "2",
           # a colour terminal's TERM: what turns colours off is the pipe
           "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    return env


def json_commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> set[tuple]:
    """Every command path of `trips` that has a --json option."""
    found = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= json_commands(command, (*prefix, name))
        elif any("--json" in p.opts for p in command.params):
            found.add((*prefix, name))
    return found


@pytest.mark.slow
def test_every_json_command_prints_only_json_and_logs_to_stderr(tmp_path, pg_url, prefect_server):
    env = base_env(tmp_path, pg_url)
    source = tmp_path / "in" / "trips.csv"
    generate_file(source, 1500, seed=3, bad_fraction=0.01)
    tested = set()

    # -v: the whole run's log (dbt's parse lines were printed on stdout before the JSON)
    summary, done = json_of("-v", "ingest", str(source), env=env)
    tested.add(("ingest",))
    assert summary["rows_read"] == 1500 and summary["tests_failed"] == 0
    for logged in ("Running with dbt=", "landing completed in", "dbt_build completed in",
                   "flow run     http://"):
        assert logged in done.stderr, logged

    # without --json: the summary on stdout, one line per stage start and end on stderr (a
    # new file, so that every stage runs: a file loaded before builds nothing)
    second = tmp_path / "in" / "more-trips.csv"
    generate_file(second, 300, seed=4)
    again = ok("ingest", str(second), env=env)
    assert again.stdout.startswith("files        1 (1 loaded, 0 skipped")
    lines = again.stderr.splitlines()
    for stage in ("landing", "load", "dbt_build", "archive"):
        assert any(re.match(rf"{stage} +started", line) for line in lines), stage
        assert any(re.match(rf"{stage} +done in \d+\.\ds", line) for line in lines), stage
    assert "Running with dbt=" not in again.stderr  # the full log is in the UI, or with -v
    # the same file again: nothing to land or build, and the summary says so
    skipped = ok("ingest", str(second), env=env)
    assert skipped.stdout.startswith("files        1 (0 loaded, 1 skipped")
    assert "dbt          build skipped: no new rows since the last build" in skipped.stdout

    # Prefect's ephemeral API server is a child process writing to its stdout: not ours
    alone = {**env, "PREFECT_HOME": str(tmp_path / "prefect-ephemeral")}
    alone.pop("PREFECT_API_URL", None)
    ephemeral, _ = json_of("ingest", "--no-server", "--no-dbt", str(source), env=alone)
    assert ephemeral["files_skipped"] == 1

    for args in (("groups",), ("weekly-average", "--region", "Prague"), ("answer",),
                 ("raw", "archive"), ("raw", "replay")):
        json_of(*args, env=env)
        tested.add(args[:2] if args[0] == "raw" else args[:1])

    try:
        cluster, _ = json_of("cluster", "up", "--workers", "1", "--port", "0",
                             "--webui-port", "0", env=env, timeout=240)
        status, _ = json_of("cluster", "status", env=env)
        assert status["master_url"] == cluster["master_url"]
        tested |= {("cluster", "up"), ("cluster", "status")}
    finally:
        trips("cluster", "down", env=env, timeout=120)
    assert tested == json_commands(), "a --json command without an output test"


def test_a_missing_path_fails_at_once_while_the_pipeline_lock_is_held(tmp_path, pg_url):
    env = base_env(tmp_path, pg_url)
    (tmp_path / "empty").mkdir()
    with psycopg.connect(pg_url, autocommit=True) as holder, pipeline_lock(holder):
        with psycopg.connect(pg_url, autocommit=True) as other:
            assert not pipeline_lock_free(other)
        glob, empty = str(tmp_path / "*.csv"), str(tmp_path / "empty")
        for arg, says in (("missing.csv", "no such file, folder or matching glob"),
                          (glob, "no such file, folder or matching glob"),
                          (empty, "folder contains no .csv or .csv.gz files")):
            started = time.monotonic()
            done = trips("ingest", arg, env=env, timeout=60)
            took = time.monotonic() - started
            assert done.returncode == 2, done.stderr
            assert took < 15, f"{took:.1f}s: waited for the lock?"
            assert done.stdout == ""
            assert done.stderr.splitlines() == [f"Error: {arg}: {says}"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert pipeline_lock_free(conn)


def test_an_unreachable_or_missing_database_is_one_line_naming_it(tmp_path, admin_url):
    source = tmp_path / "t.csv"
    generate_file(source, 10, seed=1)
    port = closed_port()
    url = f"postgresql://trips:s3cret@127.0.0.1:{port}/trips"
    env = base_env(tmp_path, url)
    for args in (("ingest", str(source)), ("ingest", "--json", str(source)), ("groups",),
                 ("answer", "--json"), ("raw", "archive", "--json")):
        done = trips(*args, env=env, timeout=120)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stdout == ""
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith(f"Error: database postgresql://trips:***@127.0.0.1:{port}/trips: ")
        assert "s3cret" not in line and "refused" in line.lower(), line

    missing = with_database(admin_url, "trips_no_such_database")
    done = trips("weekly-average", "--region", "Prague", env=base_env(tmp_path, missing))
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert f"database {masked_url(missing)}: " in line
    assert 'database "trips_no_such_database" does not exist' in line


def test_a_prefect_server_port_in_use_is_one_line(tmp_path, pg_url, prefect_server):
    port = prefect_server.rsplit(":", 1)[1].split("/")[0]
    env = base_env(tmp_path, pg_url)
    done = trips("server", "start", "--port", port, env=env, timeout=60)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Error: Prefect server: port {port} on 127.0.0.1 is in use")


def test_a_server_on_the_default_port_is_not_taken_for_ours(tmp_path, prefect_server,
                                                            monkeypatch):
    # `trips ingest` with another data dir's server on the port: the runs went to that one
    # and `trips server status` said "not running" (scripts/demo.sh's empty "Prefect UI:")
    from flows import server
    from trips_warehouse.config import load_settings

    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("PREFECT_UI_ENABLED", "false")  # no UI bundle to copy on a first start
    settings = replace(load_settings(), data_dir=tmp_path / "other")
    taken = int(prefect_server.rsplit(":", 1)[1].split("/")[0])
    try:
        url = server.ensure_server(settings, port=taken)
        assert url != prefect_server
        assert server.running_api_url(settings) == url
    finally:
        server.stop(settings)


def test_dbt_outside_a_flow_logs_to_stderr_without_colours(settings, capfd, tmp_path):
    from flows.dbt_build import run_dbt

    result = run_dbt(["parse"], settings=settings, database_url=settings.database_url,
                     target_path=tmp_path / "target")
    out, err = capfd.readouterr()
    assert result.success
    assert out == ""
    assert "Running with dbt=" in err and ESC not in err
