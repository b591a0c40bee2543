"""The `trips` db, dbt and server commands on real services: dbt passthrough (real Postgres, real
dbt), `db stop` of the embedded server, `server start|status|stop` of the Prefect server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_server_start_status_stop_in_separate_processes(tmp_path):
    """`trips server start|status|stop`, each a new process, as a user runs them: Prefect's own
    server behind them, and what `prefect server start --background` would not do (see
    flows/server.py): start over a crashed server's pid file, keep a log, wait for the API, and
    free the port by the time stop returns."""
    import os
    import socket

    from tests.integration.prefect_fixtures import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"TRIPS_DATA_DIR": str(tmp_path), "PREFECT_SERVER_UI_ENABLED": "false"})
    home = tmp_path / "prefect"

    def trips_server(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "trips_cli", "server", *args],
                              env=env, capture_output=True, text=True, check=False, timeout=300)

    gone = subprocess.Popen(["true"])
    gone.wait()
    home.mkdir()
    (home / "server.pid").write_text(str(gone.pid))  # a server that died without cleaning up
    try:
        assert trips_server("status").stdout.strip() == "not running"
        started = trips_server("start", "--port", str(port))
        assert started.returncode == 0, started.stderr + started.stdout
        url = f"http://127.0.0.1:{port}/api"
        assert f"API {url}" in started.stdout  # returned once /api/health answered
        pid = int((home / "server.pid").read_text())
        assert pid != gone.pid and is_alive(pid)
        command = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
        assert command[1:6] == ["-m", "prefect", "--no-prompt", "server", "start"]
        assert "prefect config set PREFECT_API_URL" in (home / "server.log").read_text()
        status = trips_server("status")
        assert status.returncode == 0 and f"running: API {url}" in status.stdout
        assert trips_server("start", "--port", str(port)).stdout.startswith("already running")
        assert trips_server("stop").stdout.strip() == "stopped"
        assert not is_alive(pid)
        with socket.socket() as sock:  # the port is free as soon as stop returns
            sock.bind(("127.0.0.1", port))
        status = trips_server("status")
        assert status.returncode == 1 and status.stdout.strip() == "not running"
    finally:
        pid_file = home / "server.pid"
        if pid_file.exists() and is_alive(pid := int(pid_file.read_text())):
            os.kill(pid, 15)  # never leave a server behind, whatever failed
