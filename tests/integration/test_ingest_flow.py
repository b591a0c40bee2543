"""The whole pipeline as users run it: Prefect flow (real server) -> Spark -> COPY -> dbt build."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from flows.dbt_build import dbt_build_flow
from flows.ingest import ingest_flow
from tests.support.csvdata import BAD_ROWS, good_rows, write_csv
from trips_cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline_env(settings, monkeypatch, prefect_server):
    monkeypatch.setenv("TRIPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRIPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("TRIPS_MAX_RECORDS_PER_FILE", "20")
    return settings


def counts(url: str) -> dict[str, int]:
    """Trips committed to raw (the ledger's batch counts: archived batches have left
    raw.trips), rejected rows, fact rows and the trips the groups count."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select (select coalesce(sum(row_count), 0) from raw.load_batches"
            "        where table_name = 'trips'),"
            " (select count(*) from raw.trips_rejected),"
            " (select count(*) from marts.fct_trips),"
            " (select coalesce(sum(trip_count), 0) from marts.trip_groups)"
        ).fetchone()
    return dict(zip(["raw", "rejected", "fct", "grouped"], row, strict=True))


def raw_trips_kept(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from raw.trips").fetchone()[0]


def test_ingest_reconciles_and_reingest_changes_nothing(pipeline_env, tmp_path):
    url = pipeline_env.database_url
    rows = good_rows(50) + good_rows(30, region="Turin", datasource="cheap_mobile", day=9)
    path = write_csv(tmp_path / "in" / "trips.csv", rows + list(BAD_ROWS.values()), crlf=True)

    state = ingest_flow([str(path)], return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary.rows_read, summary.rows_rejected, summary.rows_loaded) == (85, 5, 80)
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected
    assert summary.models_built > 5 and summary.tests_passed > 20 and summary.tests_failed == 0
    assert "rows read 85, rejected 5, loaded 80" in state.message
    assert counts(url) == {"raw": 80, "rejected": 5, "fct": 80, "grouped": 80}
    # the marts have the trips and their tests passed: raw.trips let them go (archive stage)
    assert raw_trips_kept(url) == 0 and summary.stage_seconds.keys() >= {"archive"}
    with psycopg.connect(url) as conn:
        run = conn.execute(
            "select status, rows_read, rows_rejected, rows_loaded, models_built, tests_failed "
            "from raw.ingestion_runs"
        ).fetchall()
        reasons = conn.execute(
            "select rejection_reason, count(*) from raw.trips_rejected group by 1"
        ).fetchall()
        # the marts were vacuumed after the build: index-only scans need the visibility map
        all_visible = conn.execute(
            "select relallvisible > 0 from pg_class where oid = 'marts.fct_trips'::regclass"
        ).fetchone()[0]
    assert run == [("completed", 85, 5, 80, summary.models_built, 0)]
    assert sum(n for _, n in reasons) == 5
    assert all_visible

    # the same content again (under another name too): nothing new anywhere
    again = write_csv(tmp_path / "in" / "copy.csv", rows + list(BAD_ROWS.values()), crlf=True)
    state = ingest_flow([str(tmp_path / "in")], return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert (summary.files, summary.files_skipped, summary.rows_loaded) == (2, 2, 0)
    assert again.exists() and counts(url) == {"raw": 80, "rejected": 5, "fct": 80, "grouped": 80}
    # and no dbt build at all: the run says so
    assert "dbt build skipped: no new rows since the last build" in state.message
    assert summary.models_built == 0 and "dbt_build" not in summary.stage_seconds

    # a new file is added incrementally; loaded without a build, its batches are built by the
    # next run although that run brings nothing new itself
    more = write_csv(tmp_path / "more.csv", good_rows(7, day=20))
    assert ingest_flow([str(more)], run_dbt=False, return_state=True).is_completed()
    state = ingest_flow([str(more)], return_state=True)
    assert state.is_completed(), state.message
    assert state.result().files_skipped == 1 and state.result().models_built > 5
    assert counts(url) == {"raw": 87, "rejected": 5, "fct": 87, "grouped": 87}


def test_refused_file_fails_the_run_but_loads_the_rest(pipeline_env, tmp_path):
    good = write_csv(tmp_path / "good.csv", good_rows(10))
    wrong = write_csv(tmp_path / "wrong.csv", good_rows(3), header=("a", "b", "c", "d", "e"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    state = ingest_flow([str(good), str(wrong), str(empty)], run_dbt=False, return_state=True)
    assert state.is_failed()
    assert "2 file(s) refused" in state.message
    assert "wrong header" in state.message and "file is empty" in state.message
    with psycopg.connect(pipeline_env.database_url) as conn:
        statuses = dict(conn.execute("select file_path, status from raw.ingestions").fetchall())
        loaded = conn.execute("select count(*) from raw.trips").fetchone()[0]
        run_status = conn.execute("select status, error from raw.ingestion_runs").fetchone()
    assert statuses == {str(good): "loaded", str(wrong): "refused", str(empty): "refused"}
    assert loaded == 10
    assert run_status[0] == "failed" and "refused" in run_status[1]


def _add_blank_datasource_trip(url: str, *, new_batch: bool) -> None:
    """A trip with an empty datasource, which no landing lets through (dbt must catch it): in
    an existing batch (an old row, changed behind the pipeline's back) or in a new batch, as a
    faulty loader would commit it."""
    with psycopg.connect(url) as conn:
        file_hash, batch_id = conn.execute(
            "select file_hash, batch_id from raw.load_batches where table_name = 'trips' limit 1"
        ).fetchone()
        if new_batch:
            (batch_id,) = conn.execute(
                "insert into raw.load_batches (file_hash, table_name, batch_key, row_count)"
                " values (%s, 'trips', 'faulty', 1) returning batch_id",
                (file_hash,),
            ).fetchone()
        conn.execute(
            "insert into raw.trips (trip_id, batch_id, region, origin_lon, origin_lat,"
            " destination_lon, destination_lat, trip_datetime, datasource)"
            " select (%s::bigint << 32) + 4294967295, %s, region, origin_lon, origin_lat,"
            " destination_lon, destination_lat, trip_datetime, '' from raw.trips limit 1",
            (batch_id, batch_id),
        )


def _watermarks(url: str) -> list[tuple]:
    """(checks, checked batch id) of each passing build dbt recorded (macros/checks_scope.sql)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select checks, checked_batch_id from dbt_meta.checks_watermark order by recorded_at"
        ).fetchall()


def test_checks_of_new_rows_per_ingestion_and_of_all_rows_nightly(
    pipeline_env, tmp_path, monkeypatch
):
    # old raw rows stay (an archived batch has no raw rows to go bad)
    monkeypatch.setenv("TRIPS_RAW_RETENTION", "keep")
    url = pipeline_env.database_url
    blank_datasource_test = "expression_is_true_stg_trips__trips_datasource"

    first = ingest_flow([str(write_csv(tmp_path / "a.csv", good_rows(5)))], return_state=True)
    assert first.is_completed(), first.message
    # no passing checks yet: every row; dbt records how far they reached
    assert first.result().checks == "new" and "(new rows)" in first.message
    assert _watermarks(url) == [("new", 1)]
    # the nightly build runs the full-table tests the ingestions leave out, passes, records
    nightly = dbt_build_flow()
    assert nightly["tests_passed"] > first.result().tests_passed
    assert _watermarks(url) == [("new", 1), ("all", 1)]

    # an old row goes bad: the next ingestion's checks read only its own rows ...
    _add_blank_datasource_trip(url, new_batch=False)
    second = ingest_flow([str(write_csv(tmp_path / "b.csv", good_rows(5, day=2)))],
                         return_state=True)
    assert second.is_completed(), second.message
    assert second.result().checks == "new" and "(new rows)" in second.message
    assert _watermarks(url)[-1] == ("new", 2)
    # ... and the nightly build, which reads every row, fails naming the test
    nightly = dbt_build_flow(return_state=True)
    assert nightly.is_failed()
    assert blank_datasource_test in nightly.message

    # a bad row in a new batch fails the ingestion that checks it
    _add_blank_datasource_trip(url, new_batch=True)
    third = ingest_flow([str(write_csv(tmp_path / "c.csv", good_rows(5, day=3)))],
                        return_state=True)
    assert third.is_failed()
    assert "DbtBuildFailed" in third.message or "dbt build" in third.message
    assert "stg_trips__trips" in third.message and blank_datasource_test in third.message
    # and the next one too: checks start after the last run whose checks passed
    fourth = ingest_flow([str(write_csv(tmp_path / "d.csv", good_rows(5, day=4)))],
                         return_state=True)
    assert fourth.is_failed() and blank_datasource_test in fourth.message
    assert _watermarks(url)[-1] == ("new", 2)  # failed builds record nothing
    # the files were loaded, but a failing staging test stops dbt before the marts; the
    # ledger counts 21 committed rows, raw.trips holds 22 (one slipped into an old batch)
    assert counts(url) == {"raw": 21, "rejected": 0, "fct": 10, "grouped": 10}
    assert raw_trips_kept(url) == 22


def test_cli_ingest_on_embedded_postgres(tmp_path, monkeypatch, prefect_server):
    from trips_warehouse.config import load_settings
    from trips_warehouse.db import resolve_database_url, stop_embedded_server

    monkeypatch.delenv("TRIPS_DATABASE_URL", raising=False)
    monkeypatch.setenv("TRIPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "local[2]")
    path = write_csv(
        tmp_path / "t.csv.gz", good_rows(12) + [BAD_ROWS["bad timestamp"]], compress=True
    )
    try:
        result = CliRunner().invoke(main, ["ingest", str(path), "--no-server"])
        assert result.exit_code == 0, result.output
        assert "rows read    13" in result.output and "loaded       12" in result.output
        url = resolve_database_url(load_settings())
        assert "host=" in url and str(tmp_path) in url  # the project-local unix socket
        assert counts(url) == {"raw": 12, "rejected": 1, "fct": 12, "grouped": 12}
    finally:
        stop_embedded_server(load_settings())
    # stopped, even though this process still had it open (it used to keep running)
    assert not (load_settings().embedded_pg_dir / "postmaster.pid").exists()


def test_tasks_retry_a_failed_database_connection_only():
    """A refused or broken connection may pass (a restart, a blip); any other error is a bug a
    retry would hide, and a statement timeout is no connection failure."""
    from prefect.states import Completed, Failed

    from flows.ingest import _connection_failed

    def retried(exc) -> bool:
        return _connection_failed(None, None, Failed(data=exc))

    assert retried(psycopg.OperationalError("connection refused"))
    assert not retried(psycopg.errors.QueryCanceled("canceling statement due to timeout"))
    assert not retried(psycopg.errors.UndefinedTable("no such table"))
    assert not retried(ValueError("a bug"))
    assert not _connection_failed(None, None, Completed())
