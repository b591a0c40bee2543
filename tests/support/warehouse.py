"""Raw rows the way the loader commits them, for dbt tests that start from ``raw`` instead of
a CSV: one ledger row per file, one ``raw.load_batches`` row per COPY batch, ids
``batch_id << 32 | row number``; and the dbt selections those builds use."""

from __future__ import annotations

import re
from datetime import datetime

import psycopg

# The core layers, plus the one analytics aggregate dim_weeks is derived from; the rest of the
# analytics marts are tested in tests/integration/test_analytics.py (kept out of these builds to
# keep them short).
CORE = [
    "path:models/staging",
    "path:models/intermediate",
    "path:models/marts/core",
    "agg_weekly_trips_by_region",
]
OTHERS = [
    "trip_groups",
    "agg_weekly_trips_by_origin_cell",
    "agg_weekly_trips_by_destination_cell",
    "agg_weekly_trips_by_od_cell",
    "agg_weekly_trips_by_region_datasource",
    "path:tests/analytics",
]


def trip_id(name: str, batch_id: int, position: int = 0) -> int:
    """The loader's id, batch_id << 32 | row number. A fixture trip named t<N> takes N as its
    row number, so a test can address it; other names are numbered by position."""
    row = int(name[1:]) if re.fullmatch(r"t\d+", name) else position
    return (batch_id << 32) + row


def trip_name(trip_id: int) -> str:
    return f"t{trip_id & 0xFFFFFFFF}"


def trip_names(batch_id: int, trips: list[tuple]) -> dict[int, str]:
    """trip_id -> fixture name of the trips add_batch committed as ``batch_id``."""
    return {trip_id(t[0], batch_id, i): t[0] for i, t in enumerate(trips)}


def add_batch(conn: psycopg.Connection, file_hash: str, trips: list[tuple], key: str = "0") -> int:
    """Commit one COPY batch of a file's trips, as the loader does; returns the batch id."""
    (batch_id,) = conn.execute(
        "insert into raw.load_batches (file_hash, table_name, batch_key, row_count)"
        " values (%s, 'trips', %s, %s) returning batch_id",
        (file_hash, key, len(trips)),
    ).fetchone()
    conn.cursor().executemany(
        "insert into raw.trips (trip_id, region, origin_lon, origin_lat, destination_lon,"
        " destination_lat, trip_datetime, datasource, batch_id)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [(trip_id(t[0], batch_id, i), *t[1:], batch_id) for i, t in enumerate(trips)],
    )
    return batch_id


def mark_loaded(conn: psycopg.Connection, file_hash: str) -> None:
    """What the loader does once every batch of the file is committed and reconciled."""
    conn.execute(
        "update raw.ingestions set status = 'loaded', loaded_at = clock_timestamp(),"
        " rows_loaded = (select coalesce(sum(row_count), 0) from raw.load_batches"
        "                where file_hash = %s and table_name = 'trips')"
        " where file_hash = %s",
        (file_hash, file_hash),
    )


def add_file(
    conn: psycopg.Connection, file_hash: str, trips: list[tuple], *, status: str = "loaded"
) -> int:
    """One file with one batch of trips, marked loaded unless ``status`` says otherwise (a
    file still 'loading' has committed batches but is not visible); returns the batch id."""
    conn.execute(
        "insert into raw.ingestions (file_hash, file_path, file_size_bytes, status)"
        " values (%s, %s, 100, 'loading')",
        (file_hash, f"/data/{file_hash}.csv"),
    )
    batch_id = add_batch(conn, file_hash, trips)
    if status == "loaded":
        mark_loaded(conn, file_hash)
    else:
        conn.execute(
            "update raw.ingestions set status = %s where file_hash = %s", (status, file_hash)
        )
    return batch_id


FIRST_FILE = [
    # trip_id, region, origin lon/lat, destination lon/lat, datetime, datasource
    ("t1", "Turin", 7.681, 45.071, 7.691, 45.061, datetime(2018, 5, 21, 8, 1), "funny_car"),
    ("t2", "Turin", 7.689, 45.079, 7.699, 45.069, datetime(2018, 5, 22, 8, 29, 59), "funny_car"),
    ("t3", "Prague", -0.005, 50.08, 14.43, 50.09, datetime(2018, 6, 10, 23, 59, 59), "cheap_mob"),
]
SECOND_FILE = [
    ("t4", "Prague", 14.41, 50.07, 14.42, 50.08, datetime(2018, 6, 11, 0, 30), "cheap_mob"),
    ("t5", "Hamburg", 9.99, 53.55, 10.01, 53.56, datetime(2018, 6, 12, 0, 29, 59), "baba_car"),
]
