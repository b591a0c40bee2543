"""The `trips` db and dbt commands on real services: dbt passthrough (real Postgres, real dbt)
and `db stop` of the embedded server."""

from __future__ import annotations

import subprocess
import sys

from trips_warehouse.processes import is_alive


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
        [sys.executable, "-m", "trips_cli", "dbt", "debug"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert debug.returncode == 0, debug.stdout  # connects with the TRIPS_DATABASE_URL values
    # dbt colours its "OK" lines even into a pipe, unless told not to
    assert "All checks passed!" in debug.stdout and "\x1b" not in debug.stdout


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
