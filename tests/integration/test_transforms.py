"""Pure landing transformations on a local Spark session with small inline data."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from extract_load.transforms import (
    RAW_SCHEMA,
    landing_frame,
    parse_trips,
    with_rejection_reason,
    wkt_coordinate,
    wkt_point,
)

GOOD = (
    "Prague",
    "POINT (14.4973794438195 50.00136875782316)",
    "POINT (14.43109483523328 50.04052930943246)",
    "2018-05-28 09:03:40",
    "funny_car",
)


def raw_df(spark, rows):
    return spark.createDataFrame([(*r, None) for r in rows], RAW_SCHEMA)


@pytest.mark.parametrize(
    ("wkt", "lon", "lat"),
    [
        ("POINT (14.5 50.0)", 14.5, 50.0),
        ("point(-7.25 -44.125)", -7.25, -44.125),
        ("  POINT  ( 1e-3   +2.5E1 )  ", 0.001, 25.0),
        ("POINT (10 20)", 10.0, 20.0),
        ("POINT(\t.5\n\x0b1.)", 0.5, 1.0),
        ("\tPoInT\r(3 \f 4)\f", 3.0, 4.0),
        ("POINT (1 2) )", None, None),
        ("POINT ((1 2)", None, None),
        ("POINT (14.5)", None, None),
        ("POINT (14.5 50.0 3.0)", None, None),
        ("LINESTRING (1 2, 3 4)", None, None),
        ("POINT (abc 50)", None, None),
        ("", None, None),
        (None, None, None),
        # the common spelling's fast path takes only what the regex takes
        ("POINT (1e5 -.5)", 100000.0, -0.5),
        ("POINT (+1. 2)", 1.0, 2.0),
        ("POINT (0x1p3 2)", None, None),
        ("POINT (1d 2)", None, None),
        ("POINT (2 1F)", None, None),
        ("POINT (Infinity 2)", None, None),
        ("POINT (-NaN 2)", None, None),
        ("POINT (1e 2)", None, None),
        ("POINT (\x011 2)", None, None),
        ("POINT (1 2\x01)", None, None),
        ("POINT (1  2)", 1.0, 2.0),
        ("POINT ( 1 2)", 1.0, 2.0),
        ("POINT (1 2 )", 1.0, 2.0),
        ("POINT (1\t2)", 1.0, 2.0),
    ],
)
def test_wkt_point(spark, wkt, lon, lat):
    df = spark.createDataFrame([(wkt,)], "wkt string")
    point = wkt_point(F.col("wkt"))
    row = df.select(point[0].alias("lon"), point[1].alias("lat")).first()
    assert (row.lon, row.lat) == (lon, lat)


_WKT_PIECES = st.sampled_from(
    ["POINT", "point", " ", "  ", "(", ")", "\t", "1", "0", "9", ".", "-", "+", "e", "E", "x",
     "X", "p", "d", "f", "Infinity", "NaN", "\x01", "a", ","]
)


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.lists(_WKT_PIECES, max_size=12).map("".join),
            # near the common spelling: POINT (<a> <b>) with arbitrary number-ish tokens
            st.tuples(st.lists(_WKT_PIECES, max_size=4), st.lists(_WKT_PIECES, max_size=4)).map(
                lambda t: f"POINT ({''.join(t[0])} {''.join(t[1])})"
            ),
        ),
        min_size=50,
        max_size=300,
    )
)
def test_wkt_point_agrees_with_the_regex(spark, texts):
    """Property: the fast path never changes an answer of the regex (wkt_coordinate)."""
    df = spark.createDataFrame([(t,) for t in texts], "wkt string")
    point = wkt_point(F.col("wkt"))
    rows = df.select(
        "wkt", point[0].alias("lon"), point[1].alias("lat"),
        wkt_coordinate(F.col("wkt"), 1).alias("re_lon"),
        wkt_coordinate(F.col("wkt"), 2).alias("re_lat"),
    ).collect()
    for r in rows:
        assert (r.lon, r.lat) == (r.re_lon, r.re_lat), r.wkt


def test_parse_trips_types_and_values(spark):
    parsed = parse_trips(raw_df(spark, [GOOD])).select(
        "region_clean", "origin_lon", "origin_lat", "destination_lon", "destination_lat",
        "trip_datetime", "datasource_clean",
    )
    expected = spark.createDataFrame(
        [("Prague", 14.4973794438195, 50.00136875782316, 14.43109483523328, 50.04052930943246,
          dt.datetime(2018, 5, 28, 9, 3, 40), "funny_car")],
        "region_clean string, origin_lon double, origin_lat double, destination_lon double, "
        "destination_lat double, trip_datetime timestamp, datasource_clean string",
    )
    assertDataFrameEqual(parsed, expected)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (GOOD, None),
        (("  Prague ", *GOOD[1:4], " funny_car "), None),
        (("", *GOOD[1:]), "missing region"),
        (("   ", *GOOD[1:]), "missing region"),
        ((*GOOD[:4], ""), "missing datasource"),
        ((GOOD[0], "POINT 14 50", *GOOD[2:]), "origin_coord is not a WKT POINT (lon lat)"),
        ((*GOOD[:2], "POINT (x y)", *GOOD[3:]), "destination_coord is not a WKT POINT (lon lat)"),
        ((GOOD[0], "POINT (190 50)", *GOOD[2:]), "origin_coord out of range"),
        ((*GOOD[:2], "POINT (14 -91)", *GOOD[3:]), "destination_coord out of range"),
        ((*GOOD[:3], "2018-02-30 10:00:00", GOOD[4]), "datetime is not YYYY-MM-DD HH:MM:SS"),
        ((*GOOD[:3], "28/05/2018 09:03", GOOD[4]), "datetime is not YYYY-MM-DD HH:MM:SS"),
        ((*GOOD[:3], "2018-05-28", GOOD[4]), "datetime is not YYYY-MM-DD HH:MM:SS"),
        # the accepted years are 1900..2100, inclusive
        ((*GOOD[:3], "1900-01-01 00:00:00", GOOD[4]), None),
        ((*GOOD[:3], "2100-12-31 23:59:59", GOOD[4]), None),
        ((*GOOD[:3], "1899-12-31 23:59:59", GOOD[4]), "datetime outside the years 1900..2100"),
        ((*GOOD[:3], "2101-01-01 00:00:00", GOOD[4]), "datetime outside the years 1900..2100"),
        ((*GOOD[:3], "0000-01-01 00:00:00", GOOD[4]), "datetime outside the years 1900..2100"),
        ((*GOOD[:3], "9999-12-31 23:59:59", GOOD[4]), "datetime outside the years 1900..2100"),
        # names: at most 200 characters, no line break, control character or U+FFFD
        (("R" * 200, *GOOD[1:]), None),
        (("R" * 201, *GOOD[1:]), "region longer than 200 characters"),
        ((*GOOD[:4], "d" * 201), "datasource longer than 200 characters"),
        (("multi\nline", *GOOD[1:]), "region contains a line break, control character or U+FFFD"),
        (("a\tb", *GOOD[1:]), "region contains a line break, control character or U+FFFD"),
        (("S\ufffdo Paulo", *GOOD[1:]),
         "region contains a line break, control character or U+FFFD"),
        ((*GOOD[:4], "x\x7f"), "datasource contains a line break, control character or U+FFFD"),
        (('S\u00e3o "Paulo", SP', *GOOD[1:]), None),  # quotes and commas in a quoted field
    ],
)
def test_rejection_reason(spark, row, reason):
    result = with_rejection_reason(parse_trips(raw_df(spark, [row]))).select(
        "rejection_reason"  # year 0 has no Python datetime
    ).first()
    assert result.rejection_reason == reason


def test_corrupt_record_is_rejected_with_raw_text(spark):
    df = spark.createDataFrame(
        [("Turin", "POINT (7 45)", "POINT (7 45)", "2018-05-21 02:54:04", None, "Turin,x,y,z")],
        RAW_SCHEMA,
    )
    row = landing_frame(df).first()
    assert row.status == "rejected"
    assert row.raw_record == "Turin,x,y,z"
    assert row.rejection_reason.startswith("malformed record")


def test_landing_frame_shapes_accepted_and_rejected(spark):
    bad = ("", *GOOD[1:])
    out = landing_frame(raw_df(spark, [GOOD, bad])).orderBy("status")
    accepted, rejected = out.collect()
    assert accepted.status == "accepted"
    assert "trip_id" not in out.columns  # the loader numbers the rows of each batch
    assert accepted.region == "Prague"
    assert accepted.trip_date == dt.date(2018, 5, 28)
    assert accepted.raw_record is None and accepted.rejection_reason is None
    assert rejected.status == "rejected"
    assert rejected.region is None and rejected.origin_lon is None
    assert rejected.raw_region == ""
    assert rejected.raw_record == ",".join(bad)
    assert rejected.rejection_reason == "missing region"
