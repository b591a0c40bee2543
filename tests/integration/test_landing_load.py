"""Landing (real local Spark) and COPY load (real Postgres): reconciliation and idempotency."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extract_load import ingest_file, ledger
from extract_load.landing import Lake, count_duplicates, count_rows, land_file, parquet_files
from extract_load.sources import describe
from tests.support.csvdata import BAD_ROWS, good_rows, write_csv
from tests.support.ingest import land_new_file, load_landed


def read_folder(folder) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in parquet_files(folder))


def raw_counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select (select count(*) from raw.trips), (select count(distinct trip_id) from "
            "raw.trips), (select count(*) from raw.trips_rejected)"
        ).fetchone()


@pytest.mark.parametrize(
    "variant",
    [{}, {"crlf": True, "bom": True}, {"quote": True}, {"compress": True}],
    ids=["plain", "crlf-bom", "quoted", "gzip"],
)
def test_land_file_variants_reconcile(spark, tmp_path, variant):
    rows = good_rows(30) + list(BAD_ROWS.values())
    suffix = ".csv.gz" if variant.get("compress") else ".csv"
    src = describe(write_csv(tmp_path / f"trips{suffix}", rows, **variant))
    result = land_file(spark, src, tmp_path / "landing", tmp_path / "quarantine", 10)

    assert (result.rows_accepted, result.rows_rejected) == (30, len(BAD_ROWS))
    assert result.rows_read == len(rows)  # read = accepted + rejected
    landed = read_folder(result.landed_dir)
    assert landed.num_rows == 30
    assert sorted(set(landed.column("region").to_pylist())) == ["Prague"]
    assert "trip_id" not in landed.column_names  # the loader numbers each batch's rows
    # partitioned by trip date, at most 10 rows per file
    assert all(p.parent.name.startswith("trip_date=") for p in parquet_files(result.landed_dir))
    assert all(pq.ParquetFile(p).metadata.num_rows <= 10 for p in parquet_files(result.landed_dir))
    reasons = sorted(read_folder(result.quarantine_dir).column("rejection_reason").to_pylist())
    assert reasons == sorted(
        [
            "origin_coord is not a WKT POINT (lon lat)",
            "origin_coord out of range",
            "datetime is not YYYY-MM-DD HH:MM:SS",
            "malformed record: expected 5 comma-separated columns",
            "missing region",
        ]
    )


def test_duplicates_are_counted_exactly(spark, tmp_path):
    """Rows equal in every column, beyond the first of each group, against a brute-force count;
    rows differing in one column only (names, a coordinate, the second) are not duplicates."""
    base = good_rows(40)
    near = [
        ("Turin", *base[0][1:]),
        (*base[1][:4], "cheap_mobile"),
        (base[2][0], base[2][1].replace("14.4002", "14.4003"), *base[2][2:]),
        (*base[3][:3], base[3][3].replace(":00", ":01"), base[3][4]),
    ]
    rows = base + [base[0]] * 3 + [base[5]] * 2 + [base[7]] + near
    src = describe(write_csv(tmp_path / "dups.csv", rows))
    result = land_file(spark, src, tmp_path / "landing", tmp_path / "quarantine", 7)

    landed = read_folder(result.landed_dir)  # trip_date is the folder, not a column
    brute = sum(n - 1 for n in landed.group_by(landed.column_names).aggregate(
        [([], "count_all")]).column("count_all").to_pylist())
    assert brute == 6
    assert result.rows_duplicate == 6
    assert count_duplicates(spark, result.landed_dir) == 6


def test_relanding_replaces_previous_output(spark, tmp_path):
    src = describe(write_csv(tmp_path / "t.csv", good_rows(12) + [BAD_ROWS["bad wkt"]]))
    first = land_file(spark, src, tmp_path / "l", tmp_path / "q", 5)
    landed = read_folder(first.landed_dir).sort_by("trip_datetime")
    # what an earlier landing of the same file may have left (killed half-way, or another
    # partitioning): files this landing would not write itself
    stale = [first.landed_dir / "trip_date=1999-01-01" / "part-stale.parquet",
             first.quarantine_dir / "part-stale.parquet"]
    stale[0].parent.mkdir()
    shutil.copy(parquet_files(first.landed_dir)[0], stale[0])
    shutil.copy(parquet_files(first.quarantine_dir)[0], stale[1])

    second = land_file(spark, src, tmp_path / "l", tmp_path / "q", 5)
    assert (second.landed_dir, second.quarantine_dir) == (first.landed_dir, first.quarantine_dir)
    assert not any(path.exists() for path in stale)
    assert (second.rows_accepted, second.rows_rejected) == (12, 1)
    assert (count_rows(second.landed_dir), count_rows(second.quarantine_dir)) == (12, 1)
    assert read_folder(second.landed_dir).sort_by("trip_datetime").equals(landed)
    # and no scratch output of either run is left next to the landing
    assert not any((tmp_path / "_scratch").iterdir())


def test_ingest_then_reingest_changes_nothing(spark, settings, tmp_path):
    path = write_csv(tmp_path / "in" / "t.csv", good_rows(40) + [BAD_ROWS["bad wkt"]])
    copy = write_csv(tmp_path / "in" / "same-content.csv", good_rows(40) + [BAD_ROWS["bad wkt"]])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        landing = land_new_file(conn, spark, path, settings, "run-1")
        source = landing.source
        result = load_landed(conn, landing, settings, "run-1")
        assert (result.rows_read, result.rows_rejected, result.rows_loaded) == (41, 1, 40)
        assert raw_counts(settings.database_url) == (40, 40, 1)
        # trip_id = batch_id << 32 | the row's number in its batch, 0 .. rows - 1
        numbering = conn.execute(
            "select bool_and(trip_id >> 32 = batch_id),"
            " bool_and(row_numbers = array(select generate_series(0, rows - 1)))"
            " from (select batch_id, count(*)::int as rows,"
            "       array_agg((trip_id & 4294967295)::int order by trip_id) as row_numbers"
            "       from raw.trips group by batch_id) as batches"
            " join raw.trips using (batch_id)"
        ).fetchone()
        assert numbering == (True, True)

        for again in (path, copy):
            outcome = ingest_file.check(conn, again, raw="raw", run_id="run-2")
            assert outcome is not None and outcome.status == "skipped"
        # even a forced reload of the landed files adds nothing: batches are committed once
        ingest_file.load(
            conn, landing, raw=settings.raw_schema, batch_rows=settings.load_batch_rows,
            run_id="run-3",
        )
        assert raw_counts(settings.database_url) == (40, 40, 1)
        status = ledger.get_ingestion(conn, source.sha256)
        assert status["status"] == "loaded" and status["rows_loaded"] == 40


def test_the_lake_dir_setting_is_where_the_landing_writes_and_the_loader_reads(
    spark, settings, tmp_path
):
    from dataclasses import replace

    lake = tmp_path / "shared" / "lake"
    settings = replace(settings, lake_dir=lake)
    path = write_csv(tmp_path / "in" / "t.csv", good_rows(25) + [BAD_ROWS["bad wkt"]])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        source = ingest_file.check(conn, path, raw="raw", run_id="run-1")
        landing = ingest_file.land(
            conn, spark, source, raw=settings.raw_schema, lake=Lake.of(settings),
            run_id="run-1",
        )
        assert landing.landed_dir.is_relative_to(lake / "landing" / "trips")
        assert landing.quarantine_dir.is_relative_to(lake / "quarantine" / "trips")
        assert count_rows(landing.landed_dir) == 25
        # nothing landed in the data dir, and the loader read the lake
        assert not (settings.data_dir / "landing").exists()
        ingest_file.load(
            conn, landing, raw=settings.raw_schema, batch_rows=settings.load_batch_rows,
            run_id="run-1",
        )
    assert raw_counts(settings.database_url) == (25, 25, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"region,origin,destination,datetime,datasource\nPrague,a,b,c,d\n", "wrong header"),
    ],
)
def test_refused_files_are_recorded(settings, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        outcome = ingest_file.check(conn, path, raw="raw", run_id="run-1")
        assert outcome.status == "refused" and message in outcome.message
        row = ledger.get_ingestion(conn, outcome.file_hash)
        assert row["status"] == "refused" and message in row["error"]


KILLABLE_LOAD = """
import sys, psycopg
from dataclasses import replace
from extract_load import ingest_file
from extract_load.landing import LandingResult
from extract_load.sources import describe
from trips_warehouse.config import load_settings
from pathlib import Path
settings = replace(load_settings(), database_url=sys.argv[1], data_dir=Path(sys.argv[2]))
landing = LandingResult(describe(Path(sys.argv[3])), Path(sys.argv[4]), Path(sys.argv[5]),
                        int(sys.argv[6]), int(sys.argv[7]))
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    ingest_file.load(conn, landing, raw=settings.raw_schema,
                     batch_rows=settings.load_batch_rows, run_id="killed-run")
"""


def test_load_killed_midway_then_rerun_is_exact(spark, settings, tmp_path):
    from dataclasses import replace

    settings = replace(settings, max_records_per_parquet_file=5)
    rows = [r for day in range(1, 29) for r in good_rows(30, day=day)]  # 840 rows, 168+ files
    path = write_csv(tmp_path / "big.csv", rows)
    url = settings.database_url
    with psycopg.connect(url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        source = ingest_file.check(conn, path, raw="raw", run_id="run-1")
        landing = ingest_file.land(
            conn, spark, source, raw=settings.raw_schema, lake=Lake.of(settings),
            run_id="run-1",
        )
        assert len(parquet_files(landing.landed_dir)) >= 168

        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLABLE_LOAD, url, str(settings.data_dir), str(path),
             str(landing.landed_dir), str(landing.quarantine_dir),
             str(landing.rows_accepted), str(landing.rows_rejected)],
            env=env,
        )
        deadline = time.monotonic() + 60
        committed = 0
        while time.monotonic() < deadline and proc.poll() is None:
            committed = conn.execute("select count(*) from raw.load_batches").fetchone()[0]
            if committed >= 3:
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = raw_counts(url)[0]
        assert committed >= 3 and 0 < partial < 840, "the load was not killed mid-way"
        assert ledger.get_ingestion(conn, source.sha256)["status"] == "loading"

        # the re-run reuses the landed parquet and loads exactly the missing batches
        landing = land_new_file(conn, spark, path, settings, "run-2")
        result = load_landed(conn, landing, settings, "run-2")
        assert result.rows_loaded == 840
        assert raw_counts(url) == (840, 840, 0)


# the edges of Spark's timestamp range and of the warehouse's (1900..2100), and the 1677..2262
# span of Arrow nanoseconds that INT96 used to be read through
EDGE_DATETIMES = ["0001-01-01 00:00:00", "1677-09-21 00:12:43", "1899-12-31 23:59:59",
                  "1900-01-01 00:00:00", "1969-12-31 23:59:59", "2100-12-31 23:59:59",
                  "2262-04-11 23:47:17", "9999-12-31 23:59:59"]


@pytest.mark.parametrize("parquet_type", ["TIMESTAMP_MICROS", "INT96"])
def test_timestamps_reach_postgres_exactly_from_either_parquet_type(
    spark, settings, tmp_path, parquet_type
):
    """The loader is exact for any year Spark holds, from the parquet landings write now
    (TIMESTAMP_MICROS) and from INT96 ones landed before (Arrow read those as nanoseconds:
    0001-01-01 arrived as 1754-08-30 22:43:41.128655)."""
    from pyspark.sql import functions as F

    from extract_load.loader import TRIPS_MAPPING, copy_parquet_file

    frame = spark.createDataFrame([(d,) for d in EDGE_DATETIMES], "d string").select(
        F.lit("Prague").alias("region"), F.lit(14.4).alias("origin_lon"),
        F.lit(50.0).alias("origin_lat"), F.lit(14.5).alias("destination_lon"),
        F.lit(50.1).alias("destination_lat"),
        F.to_timestamp("d", "yyyy-MM-dd HH:mm:ss").alias("trip_datetime"),
        F.lit("x").alias("datasource"),
    )
    previous = spark.conf.get("spark.sql.parquet.outputTimestampType")
    spark.conf.set("spark.sql.parquet.outputTimestampType", parquet_type)
    try:
        frame.coalesce(1).write.parquet(str(tmp_path / "p"))
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", previous)
    (path,) = parquet_files(tmp_path / "p")
    physical = pq.ParquetFile(path).schema.column(5).physical_type
    assert physical == ("INT96" if parquet_type == "INT96" else "INT64")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        ledger.upsert_ingestion(conn, "h", file_path="x", file_size_bytes=0, status="landed")
        copy_parquet_file(conn, path, raw="raw", table="trips", mapping=TRIPS_MAPPING,
                          source_hash="h", batch_key="p", chunk_rows=3)
        stored = [r[0] for r in conn.execute(
            "select to_char(trip_datetime, 'YYYY-MM-DD HH24:MI:SS.US') from raw.trips order by 1")]
    assert stored == [f"{d}.000000" for d in EDGE_DATETIMES]


def test_landing_writes_microsecond_timestamps(spark, tmp_path):
    src = describe(write_csv(tmp_path / "t.csv", good_rows(3)))
    result = land_file(spark, src, tmp_path / "l", tmp_path / "q")
    for path in parquet_files(result.landed_dir):
        assert pq.ParquetFile(path).schema_arrow.field("trip_datetime").type == pa.timestamp(
            "us", tz="UTC")
