"""Exactness of ``weekly_trip_counts_bbox`` through every cell level, on a dense hot spot.

The function tiles a box with level-0 cells (0.01 degrees) strictly inside it, level-1 cells
(0.001) strictly inside it along its edges, and checks coordinates only in the level-1 cells
the edges cut (see ``dbt_project/macros/bbox_end_counts.sql``). Cells are derived from the
level-2 cell (0.0001), so points on level-2 grid lines test the nesting. The
sparse hand-made data of ``test_analytics`` rarely reaches the finer levels, so this module
builds a dense hot spot (2,400 trips within ~0.01 degrees, in two files so the level
aggregates also go through their incremental path), with many points exactly on level-1 and
level-2 grid lines, and compares 150 random boxes (edges on trip coordinates, on grid lines or
anywhere) with a brute-force count in Python. ``test_boxes_exercise_every_level`` proves the
boxes reach every tier, using the same cell arithmetic as the ``trip_cell`` macro.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, datetime, timedelta

import psycopg
import pytest

from extract_load.ledger import ensure_raw_schema
from flows.dbt_build import dbt_build
from tests.support.postgres import fresh_database
from tests.support.warehouse import add_file
from trips_warehouse import analytics
from trips_warehouse.config import load_settings

CENTER = (7.6855, 45.0705)
FIRST_WEEK = date(2018, 5, 21)
WEEKS = 3
FINEST = 2
FINEST_SIZE = 0.01 / 10**FINEST  # the trip_cell macro's default: trip_cell_size_deg / 100


def _point(rng: random.Random) -> tuple[float, float]:
    kind = rng.random()
    if kind < 0.25:  # on a level-2 grid line in one or both axes
        lon = round(CENTER[0] + rng.randint(-60, 60) * 0.0001, 4)
        lat = round(CENTER[1] + rng.randint(-60, 60) * 0.0001, 4) if kind < 0.15 else None
    elif kind < 0.4:  # on a level-1 grid line
        lon = round(CENTER[0] + rng.randint(-8, 8) * 0.001, 3)
        lat = None
    else:
        lon, lat = None, None
    lon = lon if lon is not None else rng.gauss(CENTER[0], 0.003)
    lat = lat if lat is not None else rng.gauss(CENTER[1], 0.003)
    return lon, lat


def _trips(prefix: str, n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        (olon, olat), (dlon, dlat) = _point(rng), _point(rng)
        at = datetime.combine(FIRST_WEEK, datetime.min.time()) + timedelta(
            seconds=rng.randrange(WEEKS * 7 * 86400)
        )
        rows.append((f"{prefix}{i}", "Turin", olon, olat, dlon, dlat, at, "funny_car"))
    return rows


FIRST_FILE = _trips("a", 1500, seed=1)
SECOND_FILE = _trips("b", 900, seed=2)
ALL_TRIPS = FIRST_FILE + SECOND_FILE


@pytest.fixture(scope="module")
def url(admin_url: str, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("levels")
    with fresh_database(admin_url) as url:
        settings = replace(load_settings(), data_dir=tmp / "data", database_url=url, dbt_threads=2)
        # the whole project (select=None): the functions' parents have tests on other models
        for file_hash, trips in (("dense1", FIRST_FILE), ("dense2", SECOND_FILE)):
            with psycopg.connect(url) as conn:
                ensure_raw_schema(conn)
                add_file(conn, file_hash, trips)
            dbt_build(settings, url, select=None, target_path=tmp / "target")
        yield url


def _random_boxes(n: int, seed: int) -> list[tuple[analytics.BBox, str]]:
    rng = random.Random(seed)
    lons = [t[c] for t in ALL_TRIPS for c in (2, 4)]
    lats = [t[c] for t in ALL_TRIPS for c in (3, 5)]

    def edge(values: list[float], center: float, half: float) -> float:
        kind = rng.random()
        if kind < 0.35:  # exactly on a trip's coordinate
            return rng.choice(values)
        if kind < 0.55:  # on a level-1 or level-2 grid line
            step = rng.choice([0.001, 0.0001])
            return round(round((center + rng.uniform(-half, half)) / step) * step, 4)
        return center + rng.uniform(-half, half)

    boxes = []
    for _ in range(n):
        half = 10 ** rng.uniform(-3.3, -1.3)  # boxes from ~0.001 to ~0.1 degrees
        lon = sorted([edge(lons, CENTER[0], half), edge(lons, CENTER[0], half)])
        lat = sorted([edge(lats, CENTER[1], half), edge(lats, CENTER[1], half)])
        boxes.append(
            (analytics.BBox(lon[0], lat[0], lon[1], lat[1]), rng.choice(analytics.MATCH_CHOICES))
        )
    return boxes


BOXES = _random_boxes(150, seed=11)


def _brute_force(box: analytics.BBox, match: str) -> dict[date, int]:
    def inside(lon: float, lat: float) -> bool:
        return box.min_lon <= lon <= box.max_lon and box.min_lat <= lat <= box.max_lat

    counts = {FIRST_WEEK + timedelta(weeks=i): 0 for i in range(WEEKS)}
    for _, _, olon, olat, dlon, dlat, at, _ in ALL_TRIPS:
        o, d = inside(olon, olat), inside(dlon, dlat)
        if {"origin": o, "destination": d, "both": o and d}[match]:
            counts[analytics.iso_week_start(at.date())] += 1
    return counts


def test_random_boxes_on_a_dense_hot_spot_match_brute_force(url: str) -> None:
    with psycopg.connect(url) as conn:
        for box, match in BOXES:
            result = analytics.weekly_average(conn, bbox=box, match=match)
            assert dict(result.weeks) == _brute_force(box, match), (box, match)


def _cell(coord: float, level: int) -> int:
    """The trip_cell macro in Python: floor of the finest cell, divided down to ``level``."""
    return math.floor(math.floor(coord / FINEST_SIZE) / 10 ** (FINEST - level))


def _tier(box: analytics.BBox, lon: float, lat: float) -> str | None:
    """Which part of the function counts a point in the box: level0/1 or the edge check."""
    for level in (0, 1):
        x, y = _cell(lon, level), _cell(lat, level)
        if (_cell(box.min_lon, level) < x < _cell(box.max_lon, level)
                and _cell(box.min_lat, level) < y < _cell(box.max_lat, level)):
            return f"level{level}"
    inside = box.min_lon <= lon <= box.max_lon and box.min_lat <= lat <= box.max_lat
    return "edge" if inside else None


def test_boxes_exercise_every_level() -> None:
    counted: dict[str | None, int] = {}
    for box, _ in BOXES:
        for _, _, olon, olat, dlon, dlat, _, _ in ALL_TRIPS:
            for lon, lat in ((olon, olat), (dlon, dlat)):
                tier = _tier(box, lon, lat)
                counted[tier] = counted.get(tier, 0) + 1
    for tier in ("level0", "level1", "edge"):
        assert counted.get(tier, 0) > 100, counted


def test_a_box_edge_on_a_grid_line_counts_points_on_it(url: str) -> None:
    # points with origin_lon exactly 7.6854, a level-2 grid line that floating point puts in
    # the cell west of it (7.6854 / 0.0001 floors to 76853): box and points share the macro's
    # arithmetic, so they land in the box's west edge cells and are checked one by one
    box = analytics.BBox(7.6854, 45.06, 7.70, 45.08)
    with psycopg.connect(url) as conn:
        result = analytics.weekly_average(conn, bbox=box, match="origin")
    expected = _brute_force(box, "origin")
    assert dict(result.weeks) == expected
    on_line = sum(1 for t in ALL_TRIPS if t[2] == 7.6854 and box.min_lat <= t[3] <= box.max_lat)
    assert on_line > 0
