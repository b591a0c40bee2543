"""The dbt project against a real, per-test Postgres database.

Each test creates the raw schema, writes a handful of hand-made rows and runs ``dbt build``
in-process through :func:`flows.dbt_build.dbt_build` (outside a Prefect flow), then reads the
marts back.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time
from pathlib import Path

import psycopg
import pytest

from extract_load.ledger import ensure_raw_schema
from flows.dbt_build import DbtBuildFailed, dbt_build
from tests.support.warehouse import (
    CORE,
    FIRST_FILE,
    OTHERS,
    SECOND_FILE,
    add_file,
    mark_loaded,
    trip_id,
    trip_name,
)
from trips_warehouse.config import Settings


def group_key(text: str) -> int:
    """hash_key(): the first 64 bits of the md5 of the key text, as a signed bigint."""
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big", signed=True)


def query(url: str, sql: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql)
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture
def raw_db(pg_url: str) -> str:
    with psycopg.connect(pg_url) as conn:
        ensure_raw_schema(conn)
        add_file(conn, "h1", FIRST_FILE)
    return pg_url


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A dbt target folder per test, so concurrent runs never share artifacts."""
    return tmp_path / "dbt_target"


def test_build_then_incremental(settings: Settings, raw_db: str, target: Path) -> None:
    result = dbt_build(settings, raw_db, select=CORE, exclude=OTHERS, target_path=target)

    assert result.success and not result.failures
    assert result.models_built >= 10
    assert result.tests_passed > 40 and result.tests_failed == 0

    trips = {trip_name(r["trip_id"]): r
             for r in query(raw_db, "select * from marts.fct_trips_gridded")}
    assert set(trips) == {"t1", "t2", "t3"}
    t1, t2, t3 = trips["t1"], trips["t2"], trips["t3"]
    assert (t1["origin_cell_x"], t1["origin_cell_y"]) == (768, 4507)
    assert (t1["destination_cell_x"], t1["destination_cell_y"]) == (769, 4506)
    assert t3["origin_cell_x"] == -1  # floor, not truncation
    assert (t1["time_bucket"], t2["time_bucket"], t3["time_bucket"]) == (16, 16, 47)
    # same region, cells and bucket on different days: same trip group
    assert t1["trip_group_id"] == t2["trip_group_id"] == group_key("Turin-768-4507-769-4506-16")
    assert t3["trip_group_id"] != t1["trip_group_id"]
    # dictionary keys in name order: Prague 1, Turin 2; cheap_mob 1, funny_car 2
    assert (t1["region_id"], t1["datasource_id"], t1["region"]) == (2, 2, "Turin")
    assert t3["iso_week_start"] == date(2018, 6, 4) and t3["trip_date"] == date(2018, 6, 10)
    assert t1["batch_id"] == 1

    weeks = query(raw_db, "select * from marts.dim_weeks order by iso_week_start")
    assert [(w["week_label"], w["trip_count"]) for w in weeks] == [
        ("2018-W21", 2),
        ("2018-W22", 0),  # a week without trips is still there
        ("2018-W23", 1),
    ]
    assert weeks[1]["iso_week_start"] == date(2018, 5, 28)
    assert weeks[1]["week_end_date"] == date(2018, 6, 3)

    regions = {r["region_name"]: r for r in query(raw_db, "select * from marts.dim_regions")}
    assert set(regions) == {"Turin", "Prague", "unknown"}
    assert regions["unknown"]["region_id"] == -1 and regions["unknown"]["trip_count"] == 0
    assert regions["Turin"]["trip_count"] == 2
    assert (regions["Turin"]["min_lon"], regions["Turin"]["max_lat"]) == (7.681, 45.079)

    datasources = query(raw_db, "select datasource_id from marts.dim_datasources")
    assert -1 in {d["datasource_id"] for d in datasources}

    tod = query(raw_db, "select * from marts.dim_time_of_day order by time_bucket")
    assert len(tod) == 48
    assert (tod[0]["bucket_start"], tod[0]["bucket_end"]) == (time(0, 0), time(0, 29, 59))
    assert tod[47]["time_bucket_label"] == "23:30-23:59" and tod[47]["day_part"] == "evening"

    indexes = {
        r["indexname"]: r["indexdef"]
        for r in query(raw_db, "select indexname, indexdef from pg_indexes "
                               "where tablename = 'fct_trips'")
    }
    assert set(indexes) == {"fct_trips__loaded_at_brin", "fct_trips__origin_cell_l1_idx",
                            "fct_trips__destination_cell_l1_idx"}
    # the cells are not stored: the indexes hold them as expressions, covering the columns
    # the bbox probes read (index-only scans), both ends' coordinates for --match both
    origin = indexes["fct_trips__origin_cell_l1_idx"]
    assert "USING btree (((floor((floor((origin_lon / (0.0001)::double precision))" in origin
    assert origin.endswith("INCLUDE (origin_lon, origin_lat, destination_lon, destination_lat,"
                           " trip_at) WITH (fillfactor='100')")
    assert "USING brin (loaded_at)" in indexes["fct_trips__loaded_at_brin"]

    # a second batch: the incremental run adds exactly its rows and does not reprocess the old
    # ones (an edit to an already loaded raw row is not picked up without --full-refresh)
    with psycopg.connect(raw_db) as conn:
        conn.execute(f"update raw.trips set origin_lon = 7.0 where trip_id = {trip_id('t1', 1)}")
        batch_2 = add_file(conn, "h2", SECOND_FILE)

    second = dbt_build(settings, raw_db, select=CORE, exclude=OTHERS, target_path=target)
    assert second.success and second.tests_failed == 0

    rows = query(raw_db, "select * from marts.fct_trips_gridded")
    by_id = {trip_name(r["trip_id"]): r for r in rows}
    assert len(rows) == 5 and set(by_id) == {"t1", "t2", "t3", "t4", "t5"}
    assert by_id["t1"]["origin_lon"] == 7.681 and by_id["t1"]["batch_id"] == 1
    assert by_id["t4"]["batch_id"] == by_id["t5"]["batch_id"] == batch_2 > 1
    assert (by_id["t4"]["time_bucket"], by_id["t5"]["time_bucket"]) == (1, 0)
    # a new region gets the next dictionary key; the old keys stay
    assert (by_id["t5"]["region_id"], by_id["t1"]["region_id"]) == (3, 2)
    weeks = query(raw_db, "select week_label from marts.dim_weeks order by 1")
    assert [w["week_label"] for w in weeks] == ["2018-W21", "2018-W22", "2018-W23", "2018-W24"]
    # the dimensions folded the new file into their rows (what a full aggregate gives)
    regions = {r["region_name"]: r for r in query(raw_db, "select * from marts.dim_regions")}
    assert {name: r["trip_count"] for name, r in regions.items()} == {
        "Turin": 2, "Prague": 2, "Hamburg": 1, "unknown": 0}
    prague = regions["Prague"]
    assert (prague["min_lon"], prague["min_lat"], prague["max_lon"], prague["max_lat"]) == (
        -0.005, 50.07, 14.43, 50.09)
    assert (prague["first_trip_at"], prague["last_trip_at"]) == (
        datetime(2018, 6, 10, 23, 59, 59), datetime(2018, 6, 11, 0, 30))
    assert regions["Turin"]["min_lon"] == 7.681  # t1's edit is not picked up (as in the fact)
    assert prague["max_loaded_at"] == by_id["t4"]["loaded_at"]
    sources = query(raw_db, "select datasource_name, trip_count from marts.dim_datasources")
    assert {r["datasource_name"]: r["trip_count"] for r in sources} == {
        "funny_car": 2, "cheap_mob": 2, "baba_car": 1, "unknown": 0}

    files = query(raw_db, "select * from marts.fct_ingestions order by file_hash")
    assert [(f["file_hash"], f["trip_rows_committed"], f["batch_count"]) for f in files] == [
        ("h1", 3, 1),
        ("h2", 2, 1),
    ]

    # --full-refresh rebuilds from raw and picks the edit up (with the view on the fact:
    # Postgres drops it with the old table)
    dbt_build(settings, raw_db, select=["fct_trips", "fct_trips_gridded"], exclude=OTHERS,
              full_refresh=True, target_path=target)
    (t1,) = query(
        raw_db, f"select * from marts.fct_trips_gridded where trip_id = {trip_id('t1', 1)}")
    assert (t1["origin_lon"], t1["origin_cell_x"]) == (7.0, 700)
    indexes = query(raw_db, "select count(*) as n from pg_indexes where tablename = 'fct_trips'")
    assert indexes[0]["n"] == 3  # the three post_hook indexes, recreated


def test_failing_data_test_raises(settings: Settings, raw_db: str, target: Path) -> None:
    with psycopg.connect(raw_db) as conn:
        add_file(conn, "h_bad", [
            ("t9", "", 7.6, 45.0, 7.7, 45.1, datetime(2018, 5, 23, 10, 0), "funny_car"),
        ])

    with pytest.raises(DbtBuildFailed) as info:
        dbt_build(settings, raw_db, select=CORE, exclude=OTHERS, target_path=target)

    result = info.value.result
    assert not result.success and result.tests_failed == 1
    assert len(result.failures) == 1
    (failed,) = result.failures
    assert failed.startswith("expression_is_true_stg_trips__trips_region")
    assert failed in str(info.value)
    # the fact table downstream of the failing test is skipped, not built from bad data
    assert result.skipped > 0
    tables = query(raw_db, "select 1 from pg_tables where schemaname = 'marts' "
                           "and tablename = 'fct_trips'")
    assert tables == []


def test_duplicate_trip_id_raises(settings: Settings, raw_db: str, target: Path) -> None:
    with psycopg.connect(raw_db) as conn:
        batch_id = add_file(conn, "h_dup", [FIRST_FILE[1]])
        # a faulty loader: the new batch's row carries an id the first file already used
        conn.execute("update raw.trips set trip_id = %s where batch_id = %s",
                     (trip_id("t1", 1), batch_id))

    with pytest.raises(DbtBuildFailed) as info:
        dbt_build(settings, raw_db, select=CORE, exclude=OTHERS, target_path=target)

    assert "unique_by_sort_fct_trips_trip_id" in info.value.result.failures


def test_file_still_loading_is_invisible(settings: Settings, raw_db: str, target: Path) -> None:
    # a killed load: one batch of h3 committed, the ledger still says 'loading'
    partial = [
        ("t6", "Lisbon", -9.14, 38.72, -9.13, 38.71, datetime(2018, 6, 13, 9, 0), "baba_car"),
    ]
    with psycopg.connect(raw_db) as conn:
        add_file(conn, "h3", partial, status="loading")

    dbt_build(settings, raw_db, select=CORE, exclude=OTHERS, target_path=target)

    trip_ids = query(raw_db, "select trip_id from marts.fct_trips")
    assert {trip_name(r["trip_id"]) for r in trip_ids} == {"t1", "t2", "t3"}
    regions = {r["region_name"] for r in query(raw_db, "select region_name from marts.dim_regions")}
    assert "Lisbon" not in regions  # the dimensions read the same gate
    (h1,) = query(raw_db, "select loaded_at from raw.ingestions where file_hash = 'h1'")
    loaded_at = {r["loaded_at"] for r in query(raw_db, "select loaded_at from marts.fct_trips")}
    assert loaded_at == {h1["loaded_at"]}  # the file's loaded_at, not the batch commit time

    with psycopg.connect(raw_db) as conn:
        mark_loaded(conn, "h3")
    dbt_build(settings, raw_db, select=CORE, exclude=OTHERS, target_path=target)

    (t6,) = query(
        raw_db, f"select * from marts.fct_trips_gridded where trip_id = {trip_id('t6', 2)}")
    assert t6["batch_id"] == 2 and t6["region"] == "Lisbon"
    assert query(raw_db, "select count(*) as n from marts.fct_trips")[0]["n"] == 4
