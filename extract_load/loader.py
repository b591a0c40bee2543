"""Bulk load of landed parquet into Postgres ``raw`` with COPY, one transaction per batch.

A batch is one landed parquet file. Its rows are streamed to ``COPY ... FROM STDIN`` in record
batches of ``chunk_rows`` (memory stays bounded whatever the file size) in PostgreSQL's binary
format: pgpq encodes the Arrow columns, so doubles and timestamps are neither rendered as text
here nor parsed by the server (docs/scalability.md has the figures). The batch's row in
``raw.load_batches`` is inserted in the same transaction. The unique key on that row makes a
batch load at most once: a re-run after a crash skips committed batches and loads the rest, and
two concurrent loaders of the same file serialise on it instead of duplicating rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pgpq
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from extract_load.input_csv import CSV_COLUMNS
from extract_load.landing import LandingResult, parquet_files
from extract_load.transforms import LANDED_COLUMNS

log = logging.getLogger(__name__)

TRIPS_TABLE = "trips"
REJECTED_TABLE = "trips_rejected"

# parquet column -> raw table column, per target table
TRIPS_MAPPING = {c: c for c in LANDED_COLUMNS}
# trip_id = batch_id << TRIP_ID_ROW_BITS | row number in the batch: unique, stable (a landed
# file's rows never change order) and 8 bytes, instead of a string built per row in Spark
TRIP_ID_ROW_BITS = 32
_REJECTED_MAPPING = {
    **{f"raw_{c}": c for c in CSV_COLUMNS},
    "raw_record": "raw_record",
    "rejection_reason": "rejection_reason",
}


@dataclass(frozen=True)
class LoadResult:
    rows_loaded: int
    rows_rejected_loaded: int
    batches_loaded: int
    batches_skipped: int


def _batch_table(
    record_batch: pa.RecordBatch,
    mapping: dict[str, str],
    *,
    batch_id: int,
    first_trip_id: int | None,
    source_hash: str,
) -> pa.Table:
    """One chunk as the target table's columns, in COPY order, with the types COPY expects.

    ``first_trip_id`` set: a trips chunk, ids numbered from it; None: a quarantine chunk, which
    carries its source file's hash. Timestamps go as microseconds, Postgres's own unit.
    """
    n = record_batch.num_rows
    columns, names = [], []
    if first_trip_id is not None:
        columns.append(pa.array(np.arange(first_trip_id, first_trip_id + n, dtype=np.int64)))
        names.append("trip_id")
    for source_name, target_name in mapping.items():
        column = record_batch.column(source_name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us"))
        columns.append(column)
        names.append(target_name)
    columns.append(pa.array(np.full(n, batch_id, dtype=np.int64)))
    names.append("batch_id")
    if first_trip_id is None:
        columns.append(pa.array([source_hash] * n, pa.string()))
        names.append("source_file_hash")
    return pa.Table.from_arrays(columns, names=names)


def copy_parquet_file(
    conn: psycopg.Connection,
    path: Path,
    *,
    raw: str,
    table: str,
    mapping: dict[str, str],
    source_hash: str,
    batch_key: str,
    chunk_rows: int,
) -> int | None:
    """Load one parquet file as one committed batch. Returns rows loaded, None if already loaded."""
    rows = pq.ParquetFile(path).metadata.num_rows
    with conn.transaction():
        batch = conn.execute(
            f"insert into {raw}.load_batches (file_hash, table_name, batch_key, row_count) "
            "values (%s, %s, %s, %s) on conflict do nothing returning batch_id",
            (source_hash, table, batch_key, rows),
        ).fetchone()
        if batch is None:
            return None
        copy_batch_rows(conn, path, raw=raw, table=table, mapping=mapping, batch_id=batch[0],
                        source_hash=source_hash, chunk_rows=chunk_rows)
    return rows


def copy_batch_rows(
    conn: psycopg.Connection,
    path: Path,
    *,
    raw: str,
    table: str,
    mapping: dict[str, str],
    batch_id: int,
    source_hash: str,
    chunk_rows: int,
) -> None:
    """COPY one landed parquet file's rows as batch ``batch_id`` (in the caller's transaction).

    Trips get ``trip_id = batch_id << TRIP_ID_ROW_BITS | row number``: the same ids whenever
    the same file is copied as the same batch (a replay of archived batches relies on it).
    """
    parquet = pq.ParquetFile(path, coerce_int96_timestamp_unit="us")
    if parquet.metadata.num_rows >= 1 << TRIP_ID_ROW_BITS:
        raise ValueError(f"{path}: {parquet.metadata.num_rows} rows do not fit a batch's ids")
    keyed = table == TRIPS_TABLE
    first_id = batch_id << TRIP_ID_ROW_BITS

    def chunk(record_batch: pa.RecordBatch, offset: int) -> pa.Table:
        return _batch_table(record_batch, mapping, batch_id=batch_id, source_hash=source_hash,
                            first_trip_id=first_id + offset if keyed else None)

    # the encoder is built from the file's (empty) schema, so an empty file is a valid COPY too
    empty = chunk(pa.RecordBatch.from_pylist([], parquet.schema_arrow), 0)
    encoder = pgpq.ArrowToPostgresBinaryEncoder(empty.schema)
    copy_sql = f"copy {raw}.{table} ({', '.join(empty.column_names)}) from stdin (format binary)"
    offset = 0
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.write(encoder.write_header())
        for record_batch in parquet.iter_batches(batch_size=chunk_rows, columns=list(mapping)):
            for encoded in chunk(record_batch, offset).to_batches():
                copy.write(encoder.write_batch(encoded))
            offset += record_batch.num_rows
        copy.write(encoder.finish())


def load_landed(
    conn: psycopg.Connection,
    landing: LandingResult,
    *,
    raw: str = "raw",
    chunk_rows: int = 200_000,
    on_batch: Callable[[int], None] | None = None,
) -> LoadResult:
    """Load every landed and quarantined parquet file of one source that is not loaded yet."""
    loaded = {TRIPS_TABLE: 0, REJECTED_TABLE: 0}
    done = skipped = 0
    targets = (
        (TRIPS_TABLE, TRIPS_MAPPING, landing.landed_dir),
        (REJECTED_TABLE, _REJECTED_MAPPING, landing.quarantine_dir),
    )
    for table, mapping, folder in targets:
        for path in parquet_files(folder):
            rows = copy_parquet_file(
                conn,
                path,
                raw=raw,
                table=table,
                mapping=mapping,
                source_hash=landing.source.sha256,
                batch_key=str(path.relative_to(folder)),
                chunk_rows=chunk_rows,
            )
            if rows is None:
                skipped += 1
                continue
            done += 1
            loaded[table] += rows
            if on_batch:
                on_batch(rows)
    log.info("loaded %s: %s batches (%s skipped)", landing.source.path, done, skipped)
    return LoadResult(loaded[TRIPS_TABLE], loaded[REJECTED_TABLE], done, skipped)


def analyze_raw(conn: psycopg.Connection, raw: str = "raw") -> None:
    """Fresh planner statistics for the raw tables after a load (autovacuum may come later)."""
    for table in (TRIPS_TABLE, REJECTED_TABLE):
        conn.execute(f"analyze {raw}.{table}")


def loaded_row_count(
    conn: psycopg.Connection, source_hash: str, table: str, raw: str = "raw"
) -> int:
    """Rows of one source in one raw table, according to the committed batches."""
    row = conn.execute(
        f"select coalesce(sum(row_count), 0) from {raw}.load_batches "
        "where file_hash = %s and table_name = %s",
        (source_hash, table),
    ).fetchone()
    return int(row[0])
