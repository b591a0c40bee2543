"""The pipeline lock: one ingestion, nightly build or raw archive/replay at a time.

A PostgreSQL session-level advisory lock, so it holds across processes and machines that share
the warehouse, and is released by the server if the holder dies. The marts' watermarks and the
raw archive rely on runs never interleaving.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PIPELINE_LOCK = "trips.ingest"


@contextmanager
def pipeline_lock(conn: psycopg.Connection) -> Iterator[None]:
    """Hold the pipeline's advisory lock (session level, on an autocommit connection)."""
    conn.execute("select pg_advisory_lock(hashtext(%s))", (PIPELINE_LOCK,))
    try:
        yield
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", (PIPELINE_LOCK,))
