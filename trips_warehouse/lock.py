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


def pipeline_lock_free(conn: psycopg.Connection) -> bool:
    """Whether nobody holds the pipeline lock at this moment (takes and gives it back at once):
    for saying that a command will wait, never for exclusion (use :func:`pipeline_lock`)."""
    free = conn.execute("select pg_try_advisory_lock(hashtext(%s))", (PIPELINE_LOCK,)).fetchone()
    if free and free[0]:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", (PIPELINE_LOCK,))
        return True
    return False
