"""The ``raw`` schema: landed trips, quarantined rows and the ingestion ledger.

The ledger is what makes ingestion idempotent and restartable:

* ``raw.ingestions`` — one row per source file, keyed by the SHA-256 of its bytes. A file whose
  status is ``loaded`` is never loaded again, whatever its path.
* ``raw.load_batches`` — one row per committed COPY batch (a parquet row group). The batch row
  and the batch's data are written in the same transaction, so after a crash a re-run skips
  exactly the batches that committed and loads exactly the ones that did not.
* ``raw.ingestion_runs`` — one row per pipeline run (a Prefect flow run) with its counts.

Runs (ingestions, and the nightly dbt build) are serialised by
:func:`trips_warehouse.lock.pipeline_lock`.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

RAW_DDL = """
create schema if not exists {raw};

create table if not exists {raw}.ingestions (
    file_hash        text primary key,
    file_path        text not null,
    file_size_bytes  bigint not null,
    status           text not null
        check (status in ('landing', 'landed', 'loading', 'loaded', 'refused', 'failed')),
    rows_read        bigint,
    rows_rejected    bigint,
    rows_accepted    bigint,
    rows_loaded      bigint,
    error            text,
    flow_run_id      text,
    first_seen_at    timestamptz not null default now(),
    landed_at        timestamptz,
    loaded_at        timestamptz,
    updated_at       timestamptz not null default now()
);

create table if not exists {raw}.load_batches (
    batch_id    bigserial primary key,
    file_hash   text not null references {raw}.ingestions (file_hash),
    table_name  text not null,
    batch_key   text not null,
    row_count   bigint not null,
    loaded_at   timestamptz not null default now(),
    unique (file_hash, table_name, batch_key)
);

-- lean: the batch says which file and when (raw.load_batches); trip_id is
-- batch_id << 32 | row number in the batch (loader.TRIP_ID_ROW_BITS)
create table if not exists {raw}.trips (
    trip_id           bigint not null,
    batch_id          bigint not null,
    origin_lon        double precision not null,
    origin_lat        double precision not null,
    destination_lon   double precision not null,
    destination_lat   double precision not null,
    trip_datetime     timestamp not null,
    region            text not null,
    datasource        text not null
);
create index if not exists trips_batch_id_brin on {raw}.trips using brin (batch_id);

create table if not exists {raw}.trips_rejected (
    source_file_hash   text not null,
    region             text,
    origin_coord       text,
    destination_coord  text,
    datetime           text,
    datasource         text,
    raw_record         text,
    rejection_reason   text not null,
    batch_id           bigint not null,
    loaded_at          timestamptz not null default now()
);

create table if not exists {raw}.ingestion_runs (
    run_id          text primary key,
    flow_run_id     text,
    status          text not null,
    paths           text,
    files_total     integer,
    files_loaded    integer,
    files_skipped   integer,
    files_refused   integer,
    rows_read       bigint,
    rows_rejected   bigint,
    rows_loaded     bigint,
    models_built    integer,
    tests_passed    integer,
    tests_failed    integer,
    duration_s      double precision,
    error           text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);
-- set when the batch's rows left raw.trips, the marts having them (extract_load/archive.py);
-- its landed parquet file replays it
alter table {raw}.load_batches add column if not exists archived_at timestamptz;
-- accepted rows identical to another accepted row of the same file (all loaded)
alter table {raw}.ingestions add column if not exists rows_duplicate bigint;
alter table {raw}.ingestion_runs add column if not exists rows_duplicate bigint;
"""


def ensure_raw_schema(conn: psycopg.Connection, raw_schema: str = "raw") -> None:
    """Create the raw schema and ledger tables if missing (idempotent)."""
    with conn.transaction():
        # serialise concurrent first-time creation
        conn.execute("select pg_advisory_xact_lock(hashtext('trips.raw_ddl'))")
        conn.execute(RAW_DDL.format(raw=raw_schema))
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


def get_ingestion(conn: psycopg.Connection, file_hash: str, raw: str = "raw") -> dict | None:
    cur = conn.execute(f"select * from {raw}.ingestions where file_hash = %s", (file_hash,))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def upsert_ingestion(
    conn: psycopg.Connection,
    file_hash: str,
    *,
    raw: str = "raw",
    **fields,
) -> None:
    """Insert or update one ledger row; ``updated_at`` is always refreshed."""
    cols = ["file_hash", *fields]
    placeholders = ", ".join(["%s"] * len(cols))
    updates = ", ".join(f"{c} = excluded.{c}" for c in fields) or "file_hash = excluded.file_hash"
    conn.execute(
        f"insert into {raw}.ingestions ({', '.join(cols)}) values ({placeholders}) "
        f"on conflict (file_hash) do update set {updates}, updated_at = now()",
        (file_hash, *fields.values()),
    )


def update_ingestion(
    conn: psycopg.Connection, file_hash: str, *, raw: str = "raw", **fields
) -> None:
    """Update fields of an existing ledger row; ``updated_at`` is always refreshed."""
    sets = ", ".join(f"{c} = %s" for c in fields)
    cur = conn.execute(
        f"update {raw}.ingestions set {sets}, updated_at = now() where file_hash = %s",
        (*fields.values(), file_hash),
    )
    if cur.rowcount != 1:
        raise LookupError(f"no ingestion ledger row for {file_hash}")


def start_run(conn: psycopg.Connection, run_id: str, *, raw: str = "raw", **fields) -> None:
    cols = ["run_id", "status", *fields]
    conn.execute(
        f"insert into {raw}.ingestion_runs ({', '.join(cols)}) "
        f"values ({', '.join(['%s'] * len(cols))}) on conflict (run_id) do nothing",
        (run_id, "running", *fields.values()),
    )


def mark_crashed_runs(conn: psycopg.Connection, run_id: str, raw: str = "raw") -> list[str]:
    """Mark every run still ``running`` as ``crashed``; returns their ids.

    Call with the pipeline lock held: runs are serialised by it, so a run that says
    ``running`` while another holds the lock died without finishing (SIGKILL, power loss).
    """
    rows = conn.execute(
        f"update {raw}.ingestion_runs set status = 'crashed', finished_at = now(),"
        " error = coalesce(error, %s) where status = 'running' and run_id <> %s"
        " returning run_id",
        (f"ended without finishing (process killed?); found by run {run_id}", run_id),
    ).fetchall()
    return [r[0] for r in rows]


def finish_run(
    conn: psycopg.Connection, run_id: str, status: str, *, raw: str = "raw", **fields
) -> None:
    sets = ", ".join(f"{c} = %s" for c in fields)
    conn.execute(
        f"update {raw}.ingestion_runs set status = %s, finished_at = %s"
        + (f", {sets}" if sets else "")
        + " where run_id = %s",
        (status, datetime.now().astimezone(), *fields.values(), run_id),
    )

