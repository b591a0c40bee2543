"""Raw trips are kept only until the marts have them: archive, and replay from the landing.

``raw.trips`` is the load's landing table, not the record: every batch's rows are also in the
landed parquet (``TRIPS_DATA_DIR/landing``), which never changes once written. Keeping a
second copy of every trip in Postgres after ``fct_trips`` has it costs about as much as the
fact itself (docs/scalability.md#the-lean-warehouse). So, after a build whose tests passed,
the ingest flow *archives* the batches the marts have folded in: their rows leave
``raw.trips`` and ``raw.load_batches.archived_at`` records it (the ledger keeps every batch's
row count, so the reconciliation still holds). ``TRIPS_RAW_RETENTION=keep`` turns this off.

A full rebuild of the marts needs the raw rows back: :func:`replay_archived` COPYs every
archived batch again from its landed parquet file, as the same batch with the same trip ids
(``trip_id = batch_id << 32 | row number``), and clears ``archived_at``; then
``dbt build --full-refresh`` reproduces the same marts. dbt refuses a full refresh while
batches are archived (macro ``newly_loaded_trips``), so a forgotten replay cannot empty them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from extract_load.loader import TRIPS_MAPPING, TRIPS_TABLE, copy_batch_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveResult:
    batches: int
    rows: int
    truncated: bool


def archive_modelled_batches(
    conn: psycopg.Connection, *, raw: str = "raw", marts: str = "marts"
) -> ArchiveResult:
    """Remove from ``raw.trips`` the batches of loaded files that every model reading raw
    trips (``fct_trips`` and the two dictionary dimensions) has folded in.

    Call it under the pipeline lock, after a build whose tests passed. When nothing else is
    left in ``raw.trips`` (the usual case: no file half-loaded by a killed run) the table is
    truncated, which returns its space at once; otherwise the batches are deleted.
    """
    with conn.transaction():
        batches = conn.execute(
            f"""
            select batches.batch_id, batches.row_count
            from {raw}.load_batches as batches
            inner join {raw}.ingestions as files using (file_hash)
            where
                batches.table_name = %s
                and batches.archived_at is null
                and files.status = 'loaded'
                and coalesce(files.loaded_at, files.updated_at) <= (
                    select least(
                        (select max(loaded_at) from {marts}.fct_trips),
                        (select max(max_loaded_at) from {marts}.dim_regions),
                        (select max(max_loaded_at) from {marts}.dim_datasources)
                    )
                )
            """,
            (TRIPS_TABLE,),
        ).fetchall()
        if not batches:
            return ArchiveResult(0, 0, truncated=False)
        ids = [batch_id for batch_id, _ in batches]
        (others,) = conn.execute(
            f"select exists (select 1 from {raw}.load_batches where table_name = %s"
            " and archived_at is null and not (batch_id = any(%s)))",
            (TRIPS_TABLE, ids),
        ).fetchone()
        if others:
            conn.execute(f"delete from {raw}.{TRIPS_TABLE} where batch_id = any(%s)", (ids,))
        else:
            conn.execute(f"truncate {raw}.{TRIPS_TABLE}")
        conn.execute(
            f"update {raw}.load_batches set archived_at = clock_timestamp()"
            " where batch_id = any(%s)",
            (ids,),
        )
    result = ArchiveResult(len(ids), sum(rows for _, rows in batches), truncated=not others)
    log.info("archived %s raw trip rows of %s batches", f"{result.rows:,}", result.batches)
    return result


def replay_archived(
    conn: psycopg.Connection, landing_dir: Path, *, raw: str = "raw", chunk_rows: int = 200_000
) -> int:
    """COPY every archived batch back into ``raw.trips`` from its landed parquet file, as the
    same batch (same ``batch_id``, same trip ids), one transaction per batch; returns the rows.

    A landed file that is gone cannot be replayed: that raises, naming the file, before
    anything of that batch is written.
    """
    batches = conn.execute(
        f"select batch_id, file_hash, batch_key, row_count from {raw}.load_batches"
        " where table_name = %s and archived_at is not null order by batch_id",
        (TRIPS_TABLE,),
    ).fetchall()
    rows = 0
    for batch_id, file_hash, batch_key, row_count in batches:
        path = landing_dir / f"source_hash={file_hash}" / batch_key
        if not path.exists():
            raise FileNotFoundError(f"batch {batch_id}: landed file {path} is gone")
        with conn.transaction():
            copy_batch_rows(conn, path, raw=raw, table=TRIPS_TABLE, mapping=TRIPS_MAPPING,
                            batch_id=batch_id, source_hash=file_hash, chunk_rows=chunk_rows)
            (copied,) = conn.execute(
                f"select count(*) from {raw}.{TRIPS_TABLE} where batch_id = %s", (batch_id,)
            ).fetchone()
            if copied != row_count:
                raise RuntimeError(
                    f"batch {batch_id}: replayed {copied} rows, the ledger says {row_count}"
                )
            conn.execute(
                f"update {raw}.load_batches set archived_at = null where batch_id = %s",
                (batch_id,),
            )
        rows += row_count
    log.info("replayed %s raw trip rows of %s batches", f"{rows:,}", len(batches))
    return rows
