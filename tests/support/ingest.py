"""One file through ``extract_load.ingest_file`` as the flow's tasks take it: check, land, load."""

from __future__ import annotations

from pathlib import Path

import psycopg

from extract_load import ingest_file
from extract_load.landing import Lake, LandingResult
from extract_load.sources import SourceFile
from trips_warehouse.config import Settings


def land_new_file(conn: psycopg.Connection, spark, path: Path, settings: Settings,
                  run_id: str) -> LandingResult:
    """Check a file that must be new (asserted) and land it."""
    source = ingest_file.check(conn, path, raw=settings.raw_schema, run_id=run_id)
    assert isinstance(source, SourceFile), source
    landing = ingest_file.land(conn, spark, source, raw=settings.raw_schema,
                               lake=Lake.of(settings), run_id=run_id)
    assert isinstance(landing, LandingResult), landing
    return landing


def load_landed(conn: psycopg.Connection, landing: LandingResult, settings: Settings,
                run_id: str) -> ingest_file.FileOutcome:
    return ingest_file.load(conn, landing, raw=settings.raw_schema,
                            batch_rows=settings.load_batch_rows, run_id=run_id)


def ingest_new_file(conn: psycopg.Connection, spark, path: Path, settings: Settings,
                    run_id: str) -> ingest_file.FileOutcome:
    """Check, land and load a file that must be new; the load's outcome."""
    return load_landed(conn, land_new_file(conn, spark, path, settings, run_id), settings, run_id)
