"""raw.trips lets modelled batches go, and the landing gives them back (extract_load/archive.py).

Real Prefect flow, Spark, COPY and dbt: two files ingested (each run archives its batches),
then a replay from the landed parquet and ``dbt build --full-refresh`` must give exactly the
marts the incremental runs built, and a full build without the replay must be refused.
"""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from flows.dbt_build import DbtBuildFailed, dbt_build
from flows.ingest import ingest_flow
from tests.support.csvdata import BAD_ROWS, good_rows, write_csv
from trips_cli.main import main
from trips_warehouse.config import load_settings

pytestmark = pytest.mark.slow

MARTS = (
    "fct_trips", "dim_regions", "dim_datasources", "dim_weeks", "trip_groups",
    "agg_weekly_trips_by_region", "agg_weekly_trips_by_origin_cell",
    "agg_weekly_trips_by_destination_cell", "agg_weekly_trips_by_od_cell",
    "agg_weekly_trips_by_origin_cell_l1", "agg_weekly_trips_by_destination_cell_l1",
)


def marts_snapshot(url: str) -> dict[str, list[str]]:
    """Every row of every mart table, as text, sorted."""
    with psycopg.connect(url) as conn:
        return {
            table: sorted(r[0] for r in conn.execute(f"select t::text from marts.{table} as t"))
            for table in MARTS
        }


def raw_state(url: str) -> tuple[int, int, int]:
    """(rows in raw.trips, archived trip batches, trip batches)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select (select count(*) from raw.trips),"
            " (select count(*) from raw.load_batches"
            "  where table_name = 'trips' and archived_at is not null),"
            " (select count(*) from raw.load_batches where table_name = 'trips')"
        ).fetchone()


@pytest.fixture
def pipeline_env(settings, monkeypatch, prefect_server):
    monkeypatch.setenv("TRIPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRIPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("TRIPS_MAX_RECORDS_PER_FILE", "20")  # several batches per file
    return settings


def test_archived_raw_replays_into_the_same_marts(pipeline_env, tmp_path):
    url = pipeline_env.database_url
    first = write_csv(tmp_path / "a.csv", good_rows(50) + [BAD_ROWS["bad wkt"]])
    second = write_csv(
        tmp_path / "b.csv",
        good_rows(30, region="Turin", datasource="cheap_mobile", day=9) + good_rows(15, day=12),
    )
    for path in (first, second):
        state = ingest_flow([str(path)], return_state=True)
        assert state.is_completed(), state.message
        kept, archived, batches = raw_state(url)
        assert kept == 0 and archived == batches > 1  # every batch left raw.trips
    incremental = marts_snapshot(url)
    assert len(incremental["fct_trips"]) == 95

    # without the raw rows a full build would empty the marts: dbt refuses it
    target = tmp_path / "target"
    with pytest.raises(DbtBuildFailed) as refused:
        dbt_build(load_settings(), url, select="fct_trips", full_refresh=True, target_path=target)
    assert "trips raw replay" in str(refused.value)
    assert marts_snapshot(url) == incremental

    replayed = CliRunner().invoke(main, ["raw", "replay", "--json"])
    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.strip() == '{"rows": 95}'
    assert raw_state(url)[:2] == (95, 0)
    with psycopg.connect(url) as conn:  # the same ids as the first load: batch << 32 | row
        ids = conn.execute(
            "select bool_and(trip_id >> 32 = batch_id) and count(distinct trip_id) = 95"
            " from raw.trips"
        ).fetchone()[0]
    assert ids

    rebuilt = dbt_build(load_settings(), url, full_refresh=True, target_path=target)
    assert rebuilt.success and rebuilt.tests_failed == 0
    assert marts_snapshot(url) == incremental

    archived = CliRunner().invoke(main, ["raw", "archive", "--json"])
    assert archived.exit_code == 0, archived.output
    assert '"rows": 95' in archived.output and '"truncated": true' in archived.output
    assert raw_state(url)[0] == 0


def test_a_file_still_loading_keeps_its_raw_rows(pipeline_env, tmp_path):
    """Only batches the marts have leave: a half-loaded file's committed batches stay."""
    url = pipeline_env.database_url
    state = ingest_flow([str(write_csv(tmp_path / "a.csv", good_rows(10)))], return_state=True)
    assert state.is_completed(), state.message
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw.ingestions (file_hash, file_path, file_size_bytes, status)"
            " values ('half', '/data/half.csv', 1, 'loading')"
        )
        (batch_id,) = conn.execute(
            "insert into raw.load_batches (file_hash, table_name, batch_key, row_count)"
            " values ('half', 'trips', 'x', 1) returning batch_id"
        ).fetchone()
        conn.execute(
            "insert into raw.trips (trip_id, batch_id, region, origin_lon, origin_lat,"
            " destination_lon, destination_lat, trip_datetime, datasource)"
            " values (%s, %s, 'Prague', 14.4, 50.0, 14.5, 50.1, '2018-05-21 08:00', 'x')",
            (batch_id << 32, batch_id),
        )
    state = ingest_flow([str(write_csv(tmp_path / "b.csv", good_rows(5, day=2)))],
                        return_state=True)
    assert state.is_completed(), state.message
    kept, archived, batches = raw_state(url)
    assert (kept, archived, batches) == (1, batches - 1, batches)
