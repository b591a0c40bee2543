"""A local Prefect server for the pipeline: SQLite under ``$TRIPS_DATA_DIR/prefect``, loopback only.

``trips server start`` runs it in the background (pid file + log file next to the database),
``trips server stop`` stops it, and :func:`ensure_server` starts it when it is not running and
returns its API URL (``trips ingest`` calls it). The child process is ``python -m flows.server``,
which imports :mod:`flows.notifications` before building the app, so the automations service can
load the project's notification blocks (no Docker, no separate worker).
"""

from __future__ import annotations

import argparse
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
from trips_warehouse.processes import recorded_port, spawn, stop_recorded

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4200
TRUTHY = {"1", "true", "yes"}


class ServerError(RuntimeError):
    """The server could not be started or reached; the message says why, one line."""


@dataclass(frozen=True)
class ServerPaths:
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "server.pid"

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
    """Environment for the server child process (and for clients that should use it)."""
    api_url = api_url_for(port, host)
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_UI_URL": ui_url_for(api_url),
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
    }


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


def _free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


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
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    process = spawn(
        [sys.executable, "-m", "flows.server", "--host", host, "--port", str(port)],
        log_file=paths.log_file, env=env, cwd=PROJECT_ROOT,
    )
    paths.pid_file.write_text(str(process.pid))
    paths.port_file.write_text(str(port))
    url = api_url_for(port, host)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"Prefect server exited with code {process.returncode}; see {paths.log_file}"
            )
        if is_healthy(url):
            return url
        time.sleep(0.2)
    stop(settings)
    raise ServerError(f"Prefect server not healthy after {timeout_s:.0f}s; see {paths.log_file}")


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
    return start_background(settings, port=_free_port() if port_in_use(port) else port)


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


def prepare_server_process() -> None:
    """Make this process a server that can deliver the project's notifications.

    The automations service loads each notification block by its type slug; only classes
    imported in the server process resolve, so a server without this import (the stock Prefect
    image) fails every action with "The notification block was invalid".
    """
    from prefect._internal.plugins import collections

    import flows.notifications  # noqa: F401  (registers the block classes in this process)

    if os.environ.get("TRIPS_PREFECT_SERVER_LOAD_COLLECTIONS", "false").lower() not in TRUTHY:
        # Installed integrations (prefect-dbt pulls in all of dbt) are imported by the server at
        # startup and on the first block load, ~15 s on a busy laptop; this server only needs
        # Prefect's own blocks and ours. Internal API: mark the collections as already loaded.
        collections._collections = {}


def serve(host: str, port: int) -> None:
    """Run the server in the foreground (API, UI and services such as automations).

    The compose stack's prefect-server runs this too (``python -m flows.server``, in the
    pipeline image), so that its automations can deliver through the project's blocks.
    """
    import uvicorn
    from prefect.server.api.server import create_app

    prepare_server_process()
    uvicorn.run(create_app(final=True), host=host, port=port, log_level="warning")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.server", description=serve.__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
