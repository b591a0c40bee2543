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

The tables' layout is versioned in :mod:`extract_load.raw_schema` (``extract_load/migrations``);
:func:`ensure_raw_schema`, which every entry point calls first, is that module's.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from extract_load.raw_schema import ensure_raw_schema as ensure_raw_schema


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

