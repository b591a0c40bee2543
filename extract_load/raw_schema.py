"""The raw schema's layout, versioned: ``extract_load/migrations/NNNN_name.sql``, applied in order.

:func:`ensure_raw_schema` brings a warehouse to the latest version: in one transaction, under an
advisory lock (concurrent first runs wait for each other instead of racing the DDL), it runs the
files whose version ``{raw}.schema_migrations`` does not list yet and records each. A warehouse
that is current runs no DDL at all. ``{raw}`` in a file is the raw schema's name.

A new layout change is a new file with the next number; a file once released is never edited
(a warehouse that recorded its version will not run it again). The runner refuses a warehouse
that recorded a version this code does not have, or under another name: it is newer than the
code, or two branches numbered different changes alike.

Warehouses created before the versions were recorded (the DDL then ran in full on every start,
columns added later by ``add column if not exists``) are adopted: ``0001`` is the layout they all
share (the lean one of 0.2; an older ``raw.trips`` is refused, as before), written with
``if not exists`` so it changes nothing there, and the later files add their columns with
``if not exists`` too, since such a warehouse may have them already. Such a warehouse may also
still have ``ingestion_runs.checked_loaded_at`` / ``checked_batch_id``, the checks watermark
before dbt owned it: left alone, for dbt's one-off ``migrate_checks_watermark_from_ledger``,
which moves the watermark and drops them.

Our own runner, not a library's. Alembic (installed with Prefect's server) works through a
SQLAlchemy engine of its own, an ``env.py`` and a revision graph, and brings no lock: the
callers here hold a psycopg connection and need a handful of linear SQL files.
yoyo-migrations (on PyPI, 9.0) opens its own connection from a URL, locks with a row in a
``yoyo_lock`` table (a killed process leaves it behind until ``yoyo break-lock``) and keeps four
bookkeeping tables in the connection's default schema; its SQL files cannot take the
configurable schema name. This is one table, one advisory lock and a loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
# the lock the unversioned DDL took too: an older process and this one still exclude each other
_LOCK = "trips.raw_ddl"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self, raw_schema: str) -> str:
        return self.path.read_text().replace("{raw}", raw_schema)


@cache
def migrations() -> tuple[Migration, ...]:
    """The migration files in version order; their numbers must run 1, 2, 3... without gaps."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: a migration file is named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ValueError(f"migration versions must be 1..{len(found)} in order, not {versions}")
    return tuple(found)


def applied(conn: psycopg.Connection, raw_schema: str = "raw") -> dict[int, str] | None:
    """Version -> name of the migrations recorded in the warehouse; None before versioning."""
    if conn.execute("select to_regclass(%s)", (f"{raw_schema}.schema_migrations",)).fetchone()[0]:
        rows = conn.execute(f"select version, name from {raw_schema}.schema_migrations")
        return dict(rows.fetchall())
    return None


def ensure_raw_schema(conn: psycopg.Connection, raw_schema: str = "raw") -> list[int]:
    """Bring the raw schema to the latest version; return the versions applied now ([]: current)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK,))
        recorded = applied(conn, raw_schema)
        if recorded is None:
            _refuse_pre_02_layout(conn, raw_schema)
            recorded = {}
        known = {m.version: m.name for m in migrations()}
        foreign = {v: n for v, n in recorded.items() if known.get(v) != n}
        if foreign:
            raise RuntimeError(
                f"{raw_schema}.schema_migrations records {foreign}, which this code does not"
                f" have (its migrations: {known}); run the code that made them"
            )
        pending = [m for m in migrations() if m.version not in recorded]
        if not pending:
            return []
        conn.execute(f"create schema if not exists {raw_schema}")
        conn.execute(
            f"create table if not exists {raw_schema}.schema_migrations ("
            " version integer primary key, name text not null,"
            " applied_at timestamptz not null default now())"
        )
        for migration in pending:
            conn.execute(migration.sql(raw_schema))
            conn.execute(
                f"insert into {raw_schema}.schema_migrations (version, name) values (%s, %s)",
                (migration.version, migration.name),
            )
    return [m.version for m in pending]


def _refuse_pre_02_layout(conn: psycopg.Connection, raw_schema: str) -> None:
    old_layout = conn.execute(
        "select 1 from information_schema.columns where table_schema = %s"
        " and table_name = 'trips' and column_name = 'source_file_hash'",
        (raw_schema,),
    ).fetchone()
    if old_layout:
        raise RuntimeError(
            f"{raw_schema}.trips has the pre-0.2 layout (text trip ids, a file hash per row);"
            " ingest into a new database (docs/scalability.md#upgrading)"
        )
