"""The pipeline's local Prefect server: ``prefect server start``, one per data dir, on demand.

The server is Prefect's own command, ``prefect server start`` (API, UI and services such as the
automations), with ``PREFECT_HOME`` and its SQLite database under ``$TRIPS_DATA_DIR/prefect``,
bound to loopback, analytics off. ``trips server start`` runs it in the background,
``trips server stop`` stops it, and :func:`ensure_server` starts it when it is not running and
returns its API URL (``trips ingest``, ``trips notify``, ``trips watch`` and the tests call it).
The pid file is Prefect's (``$PREFECT_HOME/server.pid``), so ``prefect server stop`` with that
``PREFECT_HOME`` stops it too.

What is ours is what ``prefect server start --background`` (Prefect 3.9) lacks for a server
that commands start on demand and wait for:

* a log: ``--background`` pipes the server's output to the command that started it, which
  exits, so the log (where the server reports failed notifications) is lost; ours goes to
  ``server.log``;
* readiness: ``--background`` returns before the API listens; :func:`start_background` waits
  for ``/api/health`` and reports a server that died on start, pointing at its log;
* where it is: only the pid is recorded; ``server.port`` lets later commands find a server
  started on another port (the tests use free ones);
* a crashed server's pid file (kill -9, reboot) makes ``--background`` refuse to start, and
  ``prefect server stop`` signals without waiting, so a restart can find the port still bound;
  :func:`start_background` and :func:`stop` go by whether the pid is alive, and stop waits;
* its own session (:func:`trips_warehouse.processes.spawn`), so a Ctrl-C to the shell or
  script that started it does not stop it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from trips_warehouse.config import PROJECT_ROOT, Settings
from trips_warehouse.processes import free_port, recorded_port, spawn, stop_recorded

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200


class ServerError(RuntimeError):
    """The server could not be started or reached; the message says why, one line."""


@dataclass(frozen=True)
class ServerPaths:
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "server.pid"  # the name `prefect server start --background` uses

    @property
    def port_file(self) -> Path:
        return self.home / "server.port"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    @property
    def database(self) -> Path:
        return self.home / "prefect.db"


def server_paths(settings: Settings) -> ServerPaths:
    return ServerPaths(settings.data_dir / "prefect")


def api_url_for(port: int, host: str = DEFAULT_HOST) -> str:
    return f"http://{host}:{port}/api"


def ui_url_for(api_url: str) -> str:
    return api_url.removesuffix("/").removesuffix("/api")


def server_env(home: Path, host: str, port: int) -> dict[str, str]:
    """Environment for the server process (and for clients that should use it)."""
    api_url = api_url_for(port, host)
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_API_URL": api_url,
        # Prefect's default under PREFECT_HOME, spelled out: a database URL in the caller's
        # environment (the compose stack's .env) must not redirect the local server
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
    }


def server_command(host: str, port: int) -> list[str]:
    """Prefect's own server command, run with this interpreter (the project's environment).

    ``--no-prompt``: in a terminal, Prefect would otherwise offer to edit the user's profiles.
    """
    return [sys.executable, "-m", "prefect", "--no-prompt", "server", "start", "--host", host,
            "--port", str(port)]


def is_healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        response = httpx.get(f"{api_url}/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def running_api_url(settings: Settings) -> str | None:
    """The API URL of this data dir's server if its pid is alive and /api/health answers."""
    paths = server_paths(settings)
    port = recorded_port(paths.pid_file, paths.port_file)
    if port is None:
        return None
    url = api_url_for(port)
    return url if is_healthy(url) else None


def port_in_use(port: int, host: str = DEFAULT_HOST) -> bool:
    """Whether something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def start_background(
    settings: Settings,
    port: int = DEFAULT_PORT,
    host: str = DEFAULT_HOST,
    timeout_s: float = 120.0,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Start the server detached from this process; wait for /api/health; return the API URL.

    A port already in use is an error: the new server would die on it while /api/health
    answered from whatever holds the port (another data dir's server), so the runs went
    there and ``trips server status`` said "not running".
    """
    if port_in_use(port, host):
        raise ServerError(
            f"port {port} on {host} is in use (another Prefect server?): choose another with "
            "`trips server start --port N`, or point PREFECT_API_URL at that server"
        )
    paths = server_paths(settings)
    paths.home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **server_env(paths.home, host, port), **(extra_env or {})}
    process = spawn(server_command(host, port), log_file=paths.log_file, env=env,
                    cwd=PROJECT_ROOT)
    paths.pid_file.write_text(str(process.pid))
    paths.port_file.write_text(str(port))
    url = api_url_for(port, host)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            paths.pid_file.unlink(missing_ok=True)
            raise ServerError(
                f"Prefect server exited with code {process.returncode}; see {paths.log_file}"
            )
        if is_healthy(url):
            return url
        time.sleep(0.2)
    stop(settings)
    raise ServerError(f"Prefect server not healthy after {timeout_s:.0f}s; see {paths.log_file}")


def run_foreground(settings: Settings, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST):
    """Replace this process by the server (``trips server start --foreground``)."""
    paths = server_paths(settings)
    paths.home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **server_env(paths.home, host, port)}
    command = server_command(host, port)
    os.execve(command[0], command, env)


def ensure_server(settings: Settings, port: int = DEFAULT_PORT) -> str:
    """Return the API URL of the local server, starting it in the background if needed.

    An explicit ``PREFECT_API_URL`` in the environment wins: if it answers /api/health it is
    used as is (a shared or remote server), otherwise it is an error.
    """
    explicit = os.environ.get("PREFECT_API_URL")
    if explicit:
        if not is_healthy(explicit, timeout=3.0):
            raise ServerError(f"PREFECT_API_URL={explicit} does not answer /health")
        return explicit
    running = running_api_url(settings)
    if running:
        return running
    # the default port taken (by another data dir's server, say): any free one will do
    return start_background(settings, port=free_port() if port_in_use(port) else port)


@contextlib.contextmanager
def use_server(settings: Settings, port: int = DEFAULT_PORT) -> Iterator[str]:
    """Ensure the server runs and point this process's Prefect client at it while in the block."""
    from prefect.context import refresh_global_settings_context

    api_url = ensure_server(settings, port=port)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url
    refresh_global_settings_context()
    try:
        yield api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        refresh_global_settings_context()


def stop(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop the background server of this data dir; return whether one was running."""
    paths = server_paths(settings)
    return stop_recorded(paths.pid_file, timeout_s)
