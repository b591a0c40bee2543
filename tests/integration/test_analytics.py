"""Analytics marts, functions, service and commands on small hand-computed data.

One database for the whole module: raw rows in two batches, ``dbt build`` after each (so
``trip_groups`` and the weekly aggregates go through their incremental path once), then every
test reads the result. Expected numbers are worked out by hand in the comments and, for the
random boxes, by brute force in Python from the same rows.

Box used throughout (Turin): 7.60,45.00,7.70,45.10 (closed). ISO weeks 2018-W21 (Mon
2018-05-21), 2018-W22 (05-28, no trip at all in the box: the zero week inside the period),
2018-W23 (06-04); 2019-W21 (2019-05-20) has the same week number in another year.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from extract_load.ledger import ensure_raw_schema
from flows.dbt_build import dbt_build
from tests.support.postgres import fresh_database
from tests.support.warehouse import add_batch, add_file, mark_loaded, trip_names
from trips_cli.main import main
from trips_warehouse import analytics
from trips_warehouse.config import Settings, load_settings

SELECT = None  # the whole project: the analytics marts and functions need all their parents
BOX = analytics.BBox(7.60, 45.00, 7.70, 45.10)
W21, W22, W23 = date(2018, 5, 21), date(2018, 5, 28), date(2018, 6, 4)
W21_2019 = date(2019, 5, 20)

# trip_id, region, origin lon/lat, destination lon/lat, datetime, datasource
FIRST_BATCH = [
    # origin and destination inside, cell (765, 4505), bucket 16 (08:00-08:30)
    ("A", "Turin", 7.655, 45.055, 7.655, 45.055, datetime(2018, 5, 21, 8, 5), "funny_car"),
    # origin exactly on the west edge; destination outside
    ("B", "Turin", 7.60, 45.055, 7.80, 45.055, datetime(2018, 5, 22, 9, 0), "funny_car"),
    # origin just west of the box but in the boundary cell; destination inside
    ("D", "Turin", 7.5999999, 45.055, 7.655, 45.055, datetime(2018, 5, 23, 11, 0), "funny_car"),
    # origin exactly on the south edge; destination outside
    ("H", "Turin", 7.655, 45.00, 8.0, 46.0, datetime(2018, 5, 24, 14, 0), "funny_car"),
    ("P1", "Prague", 14.42, 50.08, 14.43, 50.09, datetime(2018, 5, 21, 7, 0), "cheap_mobile"),
]
SECOND_BATCH = [
    # same group as A (same cells, same bucket, other day), another datasource
    ("A2", "Turin", 7.656, 45.056, 7.656, 45.056, datetime(2018, 6, 6, 8, 20), "cheap_mobile"),
    # origin exactly on the north-east corner; destination inside
    ("C", "Turin", 7.70, 45.10, 7.655, 45.055, datetime(2018, 6, 5, 10, 0), "funny_car"),
    # origin just east of the box in the boundary cell; destination on the south-west corner
    ("E", "Turin", 7.705, 45.055, 7.60, 45.00, datetime(2018, 6, 7, 12, 0), "funny_car"),
    # origin inside; destination exactly on the north edge
    ("F", "Turin", 7.655, 45.055, 7.655, 45.10, datetime(2018, 6, 8, 13, 0), "baba_car"),
    # just north of the box (boundary row), destination outside
    ("I", "Turin", 7.655, 45.1000001, 8.0, 46.0, datetime(2018, 6, 9, 15, 0), "funny_car"),
    # same group as A again, one year later: ISO 2019-W21 (same number as 2018-W21)
    ("G", "Turin", 7.655, 45.055, 7.655, 45.055, datetime(2019, 5, 22, 8, 10), "funny_car"),
    ("P2", "Prague", 14.42, 50.08, 14.43, 50.09, datetime(2018, 6, 20, 7, 10), "funny_car"),
    ("P3", "Prague", 14.42, 50.08, 14.43, 50.09, datetime(2018, 6, 21, 7, 20), "baba_car"),
    ("Q1", "Hamburg", 9.99, 53.55, 10.01, 53.56, datetime(2018, 6, 22, 18, 0), "cheap_mobile"),
]
ALL_TRIPS = FIRST_BATCH + SECOND_BATCH


def _rows(url: str, sql: str, params=None) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cur.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def warehouse(admin_url: str, tmp_path_factory: pytest.TempPathFactory):
    """A module database built in two batches; yields (url, groups after the first build,
    fixture name of every trip_id)."""
    tmp = tmp_path_factory.mktemp("analytics")
    with fresh_database(admin_url) as url:
        settings = replace(load_settings(), data_dir=tmp / "data", database_url=url, dbt_threads=2)
        with psycopg.connect(url) as conn:
            ensure_raw_schema(conn)
            names = trip_names(add_file(conn, "h1", FIRST_BATCH), FIRST_BATCH)
        dbt_build(settings, url, select=SELECT, target_path=tmp / "target")
        first_groups = _rows(url, "select * from marts.trip_groups")
        with psycopg.connect(url) as conn:
            names |= trip_names(add_file(conn, "h2", SECOND_BATCH), SECOND_BATCH)
        dbt_build(settings, url, select=SELECT, target_path=tmp / "target")
        yield url, first_groups, names


@pytest.fixture(scope="module")
def url(warehouse) -> str:
    return warehouse[0]


@pytest.fixture
def conn(url: str):
    with psycopg.connect(url) as connection:
        yield connection


# --- similar trips ----------------------------------------------------------------------------


def test_trip_groups_cover_every_trip_once(url: str) -> None:
    fact = _rows(url, "select trip_id, trip_group_id from marts.fct_trips_gridded")
    groups = {g["trip_group_id"]: g for g in _rows(url, "select * from marts.trip_groups")}
    assert len(fact) == len(ALL_TRIPS)
    assert all(t["trip_group_id"] in groups for t in fact)
    assert sum(g["trip_count"] for g in groups.values()) == len(fact)
    per_group: dict[str, int] = {}
    for t in fact:
        per_group[t["trip_group_id"]] = per_group.get(t["trip_group_id"], 0) + 1
    assert per_group == {k: g["trip_count"] for k, g in groups.items()}


def test_trip_group_folds_second_batch_into_existing_row(warehouse) -> None:
    url, first_groups, names = warehouse
    group_of = {
        names[r["trip_id"]]: r["trip_group_id"]
        for r in _rows(url, "select trip_id, trip_group_id from marts.fct_trips_gridded")
    }
    # A, A2 (other day, same bucket) and G (a year later) are one group; P1..P3 another.
    assert group_of["A"] == group_of["A2"] == group_of["G"]
    assert group_of["P1"] == group_of["P2"] == group_of["P3"]
    assert group_of["A"] != group_of["F"]  # same origin cell, other destination cell/bucket

    before = {g["trip_group_id"]: g for g in first_groups}[group_of["A"]]
    assert before["trip_count"] == 1 and before["datasources"] == ["funny_car"]
    (after,) = _rows(url, "select * from marts.trip_groups where trip_group_id = %s",
                     (group_of["A"],))
    assert after["trip_count"] == 3
    assert after["datasources"] == ["cheap_mobile", "funny_car"]
    assert after["first_seen_at"] == datetime(2018, 5, 21, 8, 5)
    assert after["last_seen_at"] == datetime(2019, 5, 22, 8, 10)
    assert after["max_loaded_at"] > before["max_loaded_at"]
    assert after["time_bucket"] == 16
    assert str(after["bucket_start"]) == "08:00:00" and str(after["bucket_end"]) == "08:30:00"
    assert (after["origin_cell_x"], after["origin_cell_y"]) == (765, 4505)
    assert after["origin_min_lon"] <= 7.655 < after["origin_max_lon"]
    assert after["origin_center_lat"] == pytest.approx(45.055)

    # a group the second batch did not touch keeps its first-batch row
    (untouched,) = _rows(url, "select * from marts.trip_groups where trip_group_id = %s",
                         (group_of["B"],))
    assert untouched["max_loaded_at"] == before["max_loaded_at"]
    assert untouched["trip_count"] == 1


def test_trip_groups_service_filters(conn) -> None:
    rows = analytics.trip_groups(conn, min_trips=2)
    assert [(r["region"], r["trip_count"]) for r in rows] == [("Turin", 3), ("Prague", 3)]
    assert [r["region"] for r in analytics.trip_groups(conn, region="turin", limit=2)] == [
        "Turin", "Turin"
    ]
    assert analytics.trip_groups(conn, region="Hamburg")[0]["datasources"] == ["cheap_mobile"]


# --- weekly average: bbox ---------------------------------------------------------------------

PERIOD = {"date_from": date(2018, 5, 23), "date_to": date(2018, 6, 5)}  # Wed W21 .. Tue W23


@pytest.mark.parametrize(
    ("match", "weeks"),
    [
        # W21: A inside, B on the west edge, H on the south edge (D is outside); W23: A2, F
        # inside, C on the corner (E, I outside)
        ("origin", [3, 0, 3]),
        # W21: A, D; W23: A2, C, E (south-west corner), F (north edge)
        ("destination", [2, 0, 4]),
        # W21: A; W23: A2 (both cells interior), C (origin boundary), F (destination boundary)
        ("both", [1, 0, 3]),
    ],
)
def test_weekly_average_bbox_match_variants(conn, match: str, weeks: list[int]) -> None:
    result = analytics.weekly_average(conn, bbox=BOX, match=match, **PERIOD)
    assert result.weeks == list(zip([W21, W22, W23], weeks, strict=True))
    assert result.weekly_average == Decimal(sum(weeks)) / 3
    (scalar,) = conn.execute(
        "select marts.weekly_average_trips_bbox(%s, %s, %s, %s, %s, %s, %s)",
        (BOX.min_lon, BOX.min_lat, BOX.max_lon, BOX.max_lat, PERIOD["date_from"],
         PERIOD["date_to"], match),
    ).fetchone()
    # same definition in SQL (numeric division, 16-20 significant digits)
    assert float(scalar) == pytest.approx(float(result.weekly_average), rel=1e-15)


def test_weekly_average_box_cutting_a_cell(conn) -> None:
    # both corners in cell (765, 4505): A (7.655) is west of the box, A2 (7.656) inside, F/G
    # at 7.655 outside; only the row-by-row boundary path answers
    result = analytics.weekly_average(conn, bbox=analytics.BBox(7.6555, 45.0555, 7.6565, 45.0565))
    assert result.total_trips == 1
    assert dict(result.weeks)[W23] == 1


def test_weekly_average_default_period_is_whole_data_span(conn) -> None:
    result = analytics.weekly_average(conn, bbox=BOX)
    # first trip 2018-05-21 (W21) .. last 2019-05-22 (2019-W21): 53 ISO weeks
    assert (result.first_week, result.last_week, result.week_count) == (W21, W21_2019, 53)
    assert result.total_trips == 7  # A, B, H, A2, C, F, G
    assert dict(result.weeks)[W21_2019] == 1


def _brute_force(box: analytics.BBox, match: str, first: date, last: date) -> dict[date, int]:
    def inside(lon: float, lat: float) -> bool:
        return box.min_lon <= lon <= box.max_lon and box.min_lat <= lat <= box.max_lat

    counts = {first + timedelta(weeks=i): 0 for i in range((last - first).days // 7 + 1)}
    for _, _, olon, olat, dlon, dlat, at, _ in ALL_TRIPS:
        week = analytics.iso_week_start(at.date())
        o, d = inside(olon, olat), inside(dlon, dlat)
        hit = {"origin": o, "destination": d, "both": o and d}[match]
        if hit and week in counts:
            counts[week] += 1
    return counts


def test_weekly_counts_match_brute_force_on_random_boxes(conn) -> None:
    rng = random.Random(7)
    coords = sorted({c for t in ALL_TRIPS for c in (t[2], t[4])})
    lats = sorted({c for t in ALL_TRIPS for c in (t[3], t[5])})
    for _ in range(60):
        # edges drawn from the trips' own coordinates (so points land on edges) or at random
        def pick(values, lo, hi):
            return rng.choice(values) if rng.random() < 0.5 else rng.uniform(lo, hi)

        lon = sorted([pick(coords, 7.5, 15.0), pick(coords, 7.5, 15.0)])
        lat = sorted([pick(lats, 44.9, 54.0), pick(lats, 44.9, 54.0)])
        box = analytics.BBox(lon[0], lat[0], lon[1], lat[1])
        match = rng.choice(analytics.MATCH_CHOICES)
        result = analytics.weekly_average(conn, bbox=box, match=match)
        expected = _brute_force(box, match, W21, W21_2019)
        assert dict(result.weeks) == expected, (box, match)


# --- weekly average: region -------------------------------------------------------------------


def test_weekly_average_region_and_same_iso_week_number_in_two_years(conn) -> None:
    result = analytics.weekly_average(conn, region="Turin", **PERIOD)
    # W21: A, B, D, H; W23: A2, C, E, F, I
    assert result.weeks == [(W21, 4), (W22, 0), (W23, 5)]
    assert result.weekly_average == 3
    # 2019-W21 alone: only G, not the 2018-W21 trips
    only_2019 = analytics.weekly_average(
        conn, region="Turin", date_from=date(2019, 5, 20), date_to=date(2019, 5, 26)
    )
    assert only_2019.weeks == [(W21_2019, 1)]
    default = analytics.weekly_average(conn, region="Prague")
    assert (default.week_count, default.total_trips) == (53, 3)
    (scalar,) = conn.execute("select marts.weekly_average_trips_region('Prague')").fetchone()
    assert float(scalar) == pytest.approx(3 / 53, rel=1e-15)


# --- bad input --------------------------------------------------------------------------------


def test_unknown_region_suggests_close_names(conn) -> None:
    with pytest.raises(analytics.AnalyticsInputError, match="did you mean 'Turin'"):
        analytics.weekly_average(conn, region="Turn")


# --- commands ---------------------------------------------------------------------------------


def _invoke(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"TRIPS_DATABASE_URL": url})


def test_cli_weekly_average_json(url: str) -> None:
    result = _invoke(url, "weekly-average", "--bbox", "7.6,45,7.7,45.1", "--from", "2018-05-23",
                     "--to", "2018-06-05", "--match", "both", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["week_count"] == 3 and payload["total_trips"] == 4
    assert [w["trip_count"] for w in payload["weeks"]] == [1, 0, 3]
    assert payload["weekly_average"] == pytest.approx(4 / 3)


def test_cli_weekly_average_text(url: str) -> None:
    result = _invoke(url, "weekly-average", "--region", "Turin", "--from", "2018-05-23",
                     "--to", "2018-06-05")
    assert result.exit_code == 0, result.output
    assert "3.0000 trips/week = 9 trips / 3 ISO weeks" in result.output
    assert "2018-05-28      2018-W22  0" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "Prag"], "did you mean 'Prague'"),
        (["--bbox", "7.7,45,7.6,45.1"], "min_lon 7.7 is greater than max_lon 7.6"),
        (["--bbox", "7.6,45,7.7,95"], "out of range"),
        (["--region", "Turin", "--from", "2018-06-05", "--to", "2018-05-23"], "is after --to"),
        (["--region", "Turin", "--bbox", "7.6,45,7.7,45.1"], "exactly one of"),
        ([], "exactly one of"),
    ],
)
def test_cli_bad_input_exits_2(url: str, args: list[str], message: str) -> None:
    result = _invoke(url, "weekly-average", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_on_a_warehouse_without_marts_or_functions_says_build_it(pg_url: str) -> None:
    # nothing built at all; then the marts schema without the functions (what `dbt run` leaves)
    for setup in (None, "create schema marts"):
        if setup:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(setup)
        result = _invoke(pg_url, "weekly-average", "--bbox", "7.6,45,7.7,45.1")
        assert result.exit_code == 1, result.output
        assert "analytics marts are not built in this database" in result.output
        assert "run `trips dbt build` first" in result.output


def test_cli_groups(url: str) -> None:
    result = _invoke(url, "groups", "--min-trips", "2", "--json")
    assert result.exit_code == 0, result.output
    assert [(g["region"], g["trip_count"]) for g in json.loads(result.output)] == [
        ("Turin", 3), ("Prague", 3)
    ]
    text = _invoke(url, "groups", "--region", "Hamburg")
    assert text.exit_code == 0 and "cheap_mobile" in text.output
    assert _invoke(url, "groups", "--region", "Hamburgg").exit_code == 2


def test_cli_answer(url: str) -> None:
    result = _invoke(url, "answer", "--json")
    assert result.exit_code == 0, result.output
    q1, q2 = json.loads(result.output)
    # top two regions by trips: Turin (10), Prague (3). Latest trip overall: G (Turin,
    # funny_car, 2019-05-22 08:10); per region: Turin funny_car, Prague baba_car (P3).
    q1_rows = [(r["scope"], r["region"], r["datasource"], r["latest_trip_at"]) for r in q1["rows"]]
    assert q1_rows == [
        ("overall", "Turin", "funny_car", "2019-05-22T08:10:00"),
        ("region", "Prague", "baba_car", "2018-06-21T07:20:00"),
        ("region", "Turin", "funny_car", "2019-05-22T08:10:00"),
    ]
    assert [(r["region"], r["trip_count"]) for r in q2["rows"]] == [
        ("Hamburg", 1), ("Prague", 1), ("Turin", 1)
    ]
    text = _invoke(url, "answer")
    assert text.exit_code == 0 and "cheap_mobile" in text.output


def test_analysis_files_render_to_runnable_sql(conn) -> None:
    for name in analytics.QUESTION_ANALYSES:
        sql = analytics.render_analysis(name)
        assert "marts.fct_trips" in sql and "{{" not in sql
        conn.execute(sql).fetchall()


def test_analytics_marts_have_their_indexes(conn) -> None:
    names = {r[0] for r in conn.execute(
        "select indexname from pg_indexes where schemaname = 'marts'"
    ).fetchall()}
    for table in ("origin_cell", "destination_cell", "od_cell", "region"):
        assert f"agg_weekly_trips_by_{table}__key_idx" in names
    # level 1 is read by edge column (x, y, week) and by edge row (y, x, week); the trips of
    # the cut level-1 cells from the fact's covering index of each end
    for end in ("origin", "destination"):
        assert f"agg_weekly_trips_by_{end}_cell_l1__key_idx" in names
        assert f"agg_weekly_trips_by_{end}_cell_l1__yx_idx" in names
        assert f"fct_trips__{end}_cell_l1_idx" in names


def test_sql_function_refuses_unknown_match(conn) -> None:
    # Superset / psql users call the function directly: a typo must not read as zero trips
    with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="match_on must be"):
        conn.execute(
            "select * from marts.weekly_trip_counts_bbox(7.6, 45.0, 7.7, 45.1, null, null, %s)",
            ("Origin",),
        )


# --- visibility gate and watermark after a killed load -----------------------------------------

# file A: its first batch commits, then the run is killed (ledger 'loading'); file B is loaded
# and built by a later run; A is completed (higher batch id) and built last. A's first batch
# has a lower batch_id than everything B brought: a batch_id watermark would have skipped it.
FILE_A_FIRST = [
    ("a1", "Turin", 7.655, 45.055, 7.655, 45.055, datetime(2018, 5, 21, 8, 5), "funny_car"),
    ("a2", "Turin", 7.656, 45.056, 7.656, 45.056, datetime(2018, 5, 22, 8, 20), "cheap_mobile"),
    ("a3", "Lisbon", -9.14, 38.72, -9.13, 38.71, datetime(2018, 6, 5, 9, 0), "baba_car"),
]
FILE_A_REST = [
    ("a4", "Turin", 7.655, 45.055, 7.70, 45.10, datetime(2018, 6, 6, 8, 10), "funny_car"),
]
FILE_B = [
    ("b1", "Turin", 7.655, 45.055, 7.655, 45.055, datetime(2018, 5, 23, 8, 15), "funny_car"),
    ("b2", "Prague", 14.42, 50.08, 14.43, 50.09, datetime(2018, 6, 20, 7, 10), "funny_car"),
]
WEEKLY_KEYS = {
    "origin_cell": ["origin_cell_x", "origin_cell_y"],
    "destination_cell": ["destination_cell_x", "destination_cell_y"],
    "od_cell": ["origin_cell_x", "origin_cell_y", "destination_cell_x", "destination_cell_y"],
    "region": ["region_id", "region"],
    **{
        f"{end}_cell_l{level}": [f"{end}_cell_l{level}_x", f"{end}_cell_l{level}_y"]
        for end in ("origin", "destination")
        for level in (1,)
    },
}


def _fact_derived_counts(url: str) -> dict[str, dict[tuple, int]]:
    """What every weekly aggregate and trip_groups should hold, recounted from fct_trips."""
    expected = {}
    for name, keys in {**WEEKLY_KEYS, "groups": ["trip_group_id"]}.items():
        cols = ", ".join(keys + ([] if name == "groups" else ["iso_week_start"]))
        rows = _rows(
            url, f"select {cols}, count(*) as n from marts.fct_trips_gridded group by {cols}")
        expected[name] = {tuple(v for k, v in r.items() if k != "n"): r["n"] for r in rows}
    return expected


def _mart_counts(url: str) -> dict[str, dict[tuple, int]]:
    actual = {}
    for name, keys in WEEKLY_KEYS.items():
        cols = ", ".join([*keys, "iso_week_start"])
        rows = _rows(url, f"select {cols}, trip_count as n from marts.agg_weekly_trips_by_{name}")
        actual[name] = {tuple(v for k, v in r.items() if k != "n"): r["n"] for r in rows}
    rows = _rows(url, "select trip_group_id, trip_count as n from marts.trip_groups")
    actual["groups"] = {(r["trip_group_id"],): r["n"] for r in rows}
    return actual


def test_file_completed_after_killed_load_enters_every_mart_once(
    settings: Settings, pg_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    with psycopg.connect(pg_url) as conn:
        ensure_raw_schema(conn)
        names = trip_names(add_file(conn, "hA", FILE_A_FIRST, status="loading"), FILE_A_FIRST)
    with psycopg.connect(pg_url) as conn:
        names |= trip_names(add_file(conn, "hB", FILE_B), FILE_B)
    dbt_build(settings, pg_url, select=SELECT, target_path=target)

    fact = {names[r["trip_id"]] for r in _rows(pg_url, "select trip_id from marts.fct_trips")}
    assert fact == {"b1", "b2"}  # A's committed batch is not visible while A is loading
    assert _mart_counts(pg_url) == _fact_derived_counts(pg_url)
    assert sum(_mart_counts(pg_url)["groups"].values()) == 2
    assert not _rows(pg_url, "select 1 from marts.dim_regions where region_name = 'Lisbon'")

    with psycopg.connect(pg_url) as conn:
        names |= trip_names(add_batch(conn, "hA", FILE_A_REST, key="1"), FILE_A_REST)
        mark_loaded(conn, "hA")
    dbt_build(settings, pg_url, select=SELECT, target_path=target)

    fact_rows = _rows(pg_url, "select trip_id, batch_id, loaded_at from marts.fct_trips_gridded")
    for row in fact_rows:
        row["trip_id"] = names[row["trip_id"]]
    assert sorted(r["trip_id"] for r in fact_rows) == ["a1", "a2", "a3", "a4", "b1", "b2"]
    batch_of = {r["trip_id"]: r["batch_id"] for r in fact_rows}
    assert batch_of["a1"] < batch_of["b1"] < batch_of["a4"]  # below the old max batch, still in
    (a_loaded,) = _rows(pg_url, "select loaded_at from raw.ingestions where file_hash = 'hA'")
    assert {r["loaded_at"] for r in fact_rows if r["trip_id"].startswith("a")} == {
        a_loaded["loaded_at"]
    }

    marts, expected = _mart_counts(pg_url), _fact_derived_counts(pg_url)
    assert marts == expected  # every aggregate holds all of A exactly once
    for name in [*WEEKLY_KEYS, "groups"]:
        assert sum(marts[name].values()) == 6, name
    (group,) = _rows(
        pg_url,
        "select g.trip_count, g.datasources, g.max_loaded_at from marts.trip_groups as g "
        "join marts.fct_trips_gridded as f using (trip_group_id) where f.trip_id = %s",
        (next(i for i, name in names.items() if name == "a1"),),
    )
    # a1, a2 and b1: same region, cells and 08:00-08:30 bucket; B's row was folded, then A's
    assert group["trip_count"] == 3
    assert group["datasources"] == ["cheap_mobile", "funny_car"]
    assert group["max_loaded_at"] == a_loaded["loaded_at"]
    (region_week,) = _rows(
        pg_url,
        "select trip_count from marts.agg_weekly_trips_by_region "
        "where region = 'Turin' and iso_week_start = %s",
        (W21,),
    )
    assert region_week["trip_count"] == 3  # a1, a2, b1

    # a third build with nothing new changes nothing
    dbt_build(settings, pg_url, select=SELECT, target_path=target)
    assert _mart_counts(pg_url) == marts
