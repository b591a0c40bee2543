"""Superset on the dbt marts, on the embedded defaults: ``trips superset up|down|status``.

Superset runs from its own virtualenv (``$TRIPS_DATA_DIR/superset/venv`` unless
``TRIPS_SUPERSET_VENV`` says otherwise: its SQLAlchemy pin conflicts with Prefect's), keeps its
metadata in SQLite next to it, listens on 127.0.0.1 only, and queries the warehouse as a
read-only role that can read the ``marts`` schema and nothing else. Every ``up`` re-imports the
dashboard bundle kept in the repository (``docker/superset/assets``, the same files and import
script the compose stack's ``superset-init`` uses), so the dashboard always matches the repo.

The Superset side (migrations, admin, roles, the import) runs as subprocesses of that
virtualenv; this module only prepares the environment, the role and the process.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from psycopg import sql

from trips_warehouse.config import MARTS_SCHEMA, PROJECT_ROOT, Settings
from trips_warehouse.db import ConnectionParams, resolve_database_url
from trips_warehouse.processes import recorded_port, spawn, stop_recorded

#: What Superset's virtualenv holds; a change here reinstalls it on the next ``up``.
REQUIREMENTS = (
    "apache-superset==6.1.0",
    "psycopg2-binary",
    "rich",
    "cachetools",
    "flask-caching==2.3.1",
)
#: Superset-side code and the dashboard bundle, shared with the compose image.
SUPERSET_DIR = PROJECT_ROOT / "docker" / "superset"
ASSETS_DIR = SUPERSET_DIR / "assets"
DASHBOARD_SLUG = "trips"
HOST = "127.0.0.1"
# the reader's guard rails: dashboards read small aggregates, anything slower is a mistake
READER_STATEMENT_TIMEOUT = "60s"


@dataclass(frozen=True)
class SupersetPaths:
    home: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def stamp(self) -> Path:
        """The requirements the virtualenv was installed with (reinstall when they change)."""
        return self.venv / ".trips-requirements"

    @property
    def metadata_db(self) -> Path:
        return self.home / "superset.db"

    @property
    def initialized(self) -> Path:
        """Written after migrations + admin + roles: later ``up``s skip those (~1 min)."""
        return self.home / "initialized"

    @property
    def pid_file(self) -> Path:
        return self.home / "superset.pid"

    @property
    def port_file(self) -> Path:
        return self.home / "superset.port"

    @property
    def log_file(self) -> Path:
        return self.home / "superset.log"

    def secret(self, name: str) -> Path:
        return self.home / "secrets" / name


def superset_paths(settings: Settings) -> SupersetPaths:
    return SupersetPaths(home=settings.superset_home, venv=settings.superset_venv_dir)


def base_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def dashboard_url(port: int) -> str:
    return f"{base_url(port)}/superset/dashboard/{DASHBOARD_SLUG}/"


# ------------------------------------------------------------------------------ virtualenv


def venv_ready(paths: SupersetPaths) -> bool:
    try:
        return paths.python.exists() and paths.stamp.read_text() == "\n".join(REQUIREMENTS)
    except OSError:
        return False


def install_venv(paths: SupersetPaths, echo=print) -> None:
    """Create the virtualenv and install :data:`REQUIREMENTS` (minutes; once per machine)."""
    paths.venv.parent.mkdir(parents=True, exist_ok=True)
    if not paths.python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(paths.venv)], check=True)
    echo(f"installing Superset into {paths.venv} (a few minutes, once)")
    subprocess.run(
        [str(paths.python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True
    )
    paths.stamp.write_text("\n".join(REQUIREMENTS))


def ensure_venv(paths: SupersetPaths, echo=print) -> None:
    if not venv_ready(paths):
        install_venv(paths, echo)


# ------------------------------------------------------------------------------ secrets


def stored_secret(path: Path, nbytes: int = 24) -> str:
    """A random value generated once and kept in ``path`` (mode 0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value)
    return value


def admin_password(settings: Settings) -> str:
    return settings.superset_admin_password or stored_secret(
        superset_paths(settings).secret("admin-password")
    )


# ------------------------------------------------------------------------------ reader role


def reader_uri(owner_url: str, role: str, password: str) -> str:
    """SQLAlchemy URI (psycopg2) of the warehouse for ``role``: TCP or the embedded socket."""
    params = ConnectionParams.from_url(owner_url)
    auth = f"{quote(role, safe='')}:{quote(password, safe='')}"
    db = quote(params.dbname, safe="")
    if params.host.startswith("/"):  # unix socket (the embedded server)
        return (
            f"postgresql+psycopg2://{auth}@/{db}"
            f"?host={quote(params.host, safe='/')}&port={params.port}"
        )
    return f"postgresql+psycopg2://{auth}@{params.host}:{params.port}/{db}"


def ensure_reader_role(
    owner_url: str, role: str, password: str, schema: str = MARTS_SCHEMA
) -> None:
    """Create or refresh a login role that can read ``schema`` only, read-only, time-limited.

    Run as the role dbt builds with (the marts' owner): its default privileges make every
    table a later ``dbt build`` creates in ``schema`` readable by ``role`` too.
    """
    ident = sql.Identifier(role)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        verb = sql.SQL("alter") if exists else sql.SQL("create")
        conn.execute(
            sql.SQL("{} role {} login password {}").format(verb, ident, sql.Literal(password))
        )
        owner, dbname = conn.execute("select current_user, current_database()").fetchone()
        statements = [
            "alter role {role} set default_transaction_read_only = on",
            f"alter role {{role}} set statement_timeout = '{READER_STATEMENT_TIMEOUT}'",
            "grant connect on database {db} to {role}",
            "create schema if not exists {schema}",
            "grant usage on schema {schema} to {role}",
            "grant select on all tables in schema {schema} to {role}",
            "alter default privileges for role {owner} in schema {schema}"
            " grant select on tables to {role}",
        ]
        names = {
            "role": ident,
            "db": sql.Identifier(dbname),
            "schema": sql.Identifier(schema),
            "owner": sql.Identifier(owner),
        }
        for statement in statements:
            conn.execute(sql.SQL(statement).format(**names))


# ------------------------------------------------------------------------------ process


def superset_env(settings: Settings, warehouse_uri: str) -> dict[str, str]:
    """Environment of every Superset subprocess (config, metadata, admin, warehouse)."""
    paths = superset_paths(settings)
    venv_bin = str(paths.venv / "bin")
    return {
        **os.environ,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": str(paths.venv),
        "FLASK_APP": "superset",
        "SUPERSET_HOME": str(paths.home),
        "SUPERSET_CONFIG_PATH": str(SUPERSET_DIR / "superset_config.py"),
        "SUPERSET_SECRET_KEY": stored_secret(paths.secret("secret-key"), 42),
        "SUPERSET_METADATA_URI": f"sqlite:///{paths.metadata_db}",
        "SUPERSET_ADMIN_USERNAME": settings.superset_admin_user,
        "SUPERSET_ADMIN_PASSWORD": admin_password(settings),
        "SUPERSET_ADMIN_EMAIL": f"{settings.superset_admin_user}@localhost",
        "TRIPS_SUPERSET_WAREHOUSE_URI": warehouse_uri,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _run(paths: SupersetPaths, env: dict[str, str], *args: str) -> None:
    """Run a Superset-side command, its output appended to the log; raise with its tail."""
    with paths.log_file.open("ab") as log:
        log.write(f"\n$ {' '.join(args)}\n".encode())
        log.flush()
        result = subprocess.run(
            args, env=env, cwd=paths.home, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = paths.log_file.read_text(errors="replace").splitlines()[-25:]
        raise RuntimeError(
            f"`{' '.join(args)}` failed with exit code {result.returncode}:\n" + "\n".join(tail)
        )


def bootstrap(settings: Settings, env: dict[str, str]) -> None:
    """Migrations, admin user, default roles: once per data dir (then only on a new version)."""
    paths = superset_paths(settings)
    marker = "\n".join(REQUIREMENTS)
    if paths.initialized.exists() and paths.initialized.read_text() == marker:
        return
    superset = str(paths.venv / "bin" / "superset")
    _run(paths, env, superset, "db", "upgrade")
    _run(paths, env, str(paths.python), str(SUPERSET_DIR / "create_admin.py"))
    _run(paths, env, superset, "init")
    paths.initialized.write_text(marker)


def import_assets(settings: Settings, env: dict[str, str]) -> None:
    """Import the dashboard bundle (database, datasets, charts, dashboard); idempotent."""
    paths = superset_paths(settings)
    _run(paths, env, str(paths.python), str(SUPERSET_DIR / "import_assets.py"))


def is_healthy(port: int, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{base_url(port)}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def running_url(settings: Settings) -> str | None:
    """Base URL of this data dir's Superset if its process is alive and /health answers."""
    paths = superset_paths(settings)
    port = recorded_port(paths.pid_file, paths.port_file)
    return base_url(port) if port is not None and is_healthy(port) else None


def start_background(settings: Settings, env: dict[str, str], timeout_s: float = 180.0) -> str:
    """Start gunicorn on 127.0.0.1 detached from this process; wait for /health."""
    paths = superset_paths(settings)
    port = settings.superset_port
    command = [
        str(paths.venv / "bin" / "gunicorn"),
        "--bind", f"{HOST}:{port}",
        "--workers", "1",
        "--worker-class", "gthread",
        "--threads", "8",
        "--timeout", "120",
        # gunicorn's control socket defaults to one path per user: two instances would clash
        "--no-control-socket",
        "superset.app:create_app()",
    ]
    process = spawn(command, log_file=paths.log_file, env=env, cwd=paths.home)
    paths.pid_file.write_text(str(process.pid))
    paths.port_file.write_text(str(port))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Superset exited with code {process.returncode}; see {paths.log_file}"
            )
        if is_healthy(port):
            return base_url(port)
        time.sleep(0.5)
    stop(settings)
    raise TimeoutError(f"Superset not healthy after {timeout_s:.0f}s; see {paths.log_file}")


@dataclass(frozen=True)
class UpResult:
    url: str
    dashboard_url: str
    admin_user: str
    started: bool


def up(settings: Settings, echo=print) -> UpResult:
    """Install (once), prepare the reader role, bootstrap, import the dashboard, start."""
    paths = superset_paths(settings)
    paths.home.mkdir(parents=True, exist_ok=True)
    ensure_venv(paths, echo)
    owner_url = resolve_database_url(settings)
    reader_password = stored_secret(paths.secret("reader-password"))
    try:
        ensure_reader_role(owner_url, settings.superset_reader_role, reader_password)
    except psycopg.Error as exc:
        raise RuntimeError(
            f"cannot prepare the read-only role {settings.superset_reader_role!r} for Superset "
            f"({type(exc).__name__}: {exc}): the warehouse user needs CREATEROLE and must own "
            "the marts"
        ) from exc
    env = superset_env(
        settings, reader_uri(owner_url, settings.superset_reader_role, reader_password)
    )
    bootstrap(settings, env)
    import_assets(settings, env)
    url = running_url(settings)
    started = url is None
    if started:
        url = start_background(settings, env)
    port = int(paths.port_file.read_text().strip())
    return UpResult(url, dashboard_url(port), settings.superset_admin_user, started)


def stop(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop this data dir's Superset (its whole process group); whether one was running."""
    paths = superset_paths(settings)
    return stop_recorded(paths.pid_file, timeout_s)

