"""Property: every record read is loaded exactly as written or quarantined with a reason.

Hypothesis writes random CSV files — valid rows, malformed ones, quoted fields with commas,
quotes and line breaks, odd characters, odd dates, now and then a byte that is not UTF-8 —
and each file goes through the real landing (Spark) and load (Postgres COPY). The oracle is
the list of rows as generated, with what each one must become. Few examples, many rows each:
one Spark session, a landing per example.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from datetime import datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from extract_load import ingest_file, ledger
from extract_load.input_csv import CSV_COLUMNS
from extract_load.sources import SourceFile
from extract_load.transforms import MAX_NAME_LENGTH, TRIP_YEAR_MAX, TRIP_YEAR_MIN
from tests.support.ingest import ingest_new_file

pytestmark = pytest.mark.slow

HEADER = list(CSV_COLUMNS)
BAD_NAME_CHARS = {chr(c) for c in range(32)} | {"\x7f", "\ufffd"}

name_chars = st.sampled_from([*"abcXYZ -_.'ü\u00e3é😀,\"", "\n", "\r", "\t", "\ufffd"])
names = st.one_of(
    st.text(name_chars, min_size=0, max_size=10),
    st.text(st.sampled_from("ab"), min_size=MAX_NAME_LENGTH - 1, max_size=MAX_NAME_LENGTH + 2),
)
lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-90, 90, allow_nan=False)
# (text, (lon, lat) when valid and in range, else None)
points = st.one_of(
    st.tuples(lons, lats).map(lambda p: (f"POINT ({p[0]!r} {p[1]!r})", p)),
    st.tuples(st.floats(180.5, 1e6), lats).map(lambda p: (f"POINT ({p[0]!r} {p[1]!r})", None)),
    st.sampled_from(["POINT (1)", "POINT (a b)", "", "LINESTRING (1 2, 3 4)"]).map(
        lambda t: (t, None)),
)
years = st.one_of(st.integers(TRIP_YEAR_MIN, TRIP_YEAR_MAX), st.integers(1, 9999))


def _timestamp_text(d: datetime) -> str:
    return f"{d.year:04d}-{d:%m-%d %H:%M:%S}"  # %Y does not pad years below 1000


# (text, True when it is an accepted trip datetime)
datetimes = st.one_of(
    st.builds(lambda y, s: datetime(y, 1, 1) + timedelta(seconds=s),
              years, st.integers(0, 364 * 86400 - 1))
    .map(lambda d: (_timestamp_text(d), TRIP_YEAR_MIN <= d.year <= TRIP_YEAR_MAX)),
    st.sampled_from(["2018-02-30 10:00:00", "2018-05-01T10:00:00", "2018-05-01", "x", ""]).map(
        lambda t: (t, False)),
)


@st.composite
def records(draw):
    """(fields, expected loaded row or None)."""
    if draw(st.integers(0, 9)) == 0:  # wrong number of fields
        fields = draw(st.lists(st.sampled_from(["a", "POINT (1 2)", "2018-05-01 10:00:00"]),
                               min_size=2, max_size=7).filter(lambda f: len(f) != 5))
        return fields, None
    region, datasource = draw(names), draw(names)
    (origin, o), (destination, d) = draw(points), draw(points)
    when, when_ok = draw(datetimes)
    fields = [region, origin, destination, when, datasource]
    ok = o is not None and d is not None and when_ok
    for name in (region.strip(" "), datasource.strip(" ")):
        ok = ok and 0 < len(name) <= MAX_NAME_LENGTH and not set(name) & BAD_NAME_CHARS
    if not ok:
        return fields, None
    return fields, (region.strip(" "), o[0], o[1], d[0], d[1], when, datasource.strip(" "))


def _forget(conn, file_hash: str) -> None:
    ingest_file._reset_partial_load(conn, file_hash, "raw")
    conn.execute("delete from raw.ingestions where file_hash = %s", (file_hash,))


def render(rows, quote_all: bool, crlf: bool) -> str:
    """RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled (Python's
    csv writer leaves a lone CR unquoted, which every reader takes for a line break)."""
    def field(value: str) -> str:
        if quote_all or any(c in value for c in ',"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    eol = "\r\n" if crlf else "\n"
    return "".join(",".join(map(field, fields)) + eol
                   for fields in [HEADER, *(fields for fields, _ in rows)])


@given(
    rows=st.lists(records(), min_size=1, max_size=60),
    quote_all=st.booleans(),
    crlf=st.booleans(),
    bad_byte_at=st.one_of(st.none(), st.integers(0, 59)),
)
@example(  # a lone CR in a quoted field: Spark's line reader splits records on it
    rows=[(["a\rb", "POINT (1 2)", "POINT (1 2)", "2018-05-01 10:00:00", "x"], None),
          (["Prague", "POINT (1 2)", "POINT (1 2)", "2018-05-01 10:00:00", "x"],
           ("Prague", 1.0, 2.0, 1.0, 2.0, "2018-05-01 10:00:00", "x"))],
    quote_all=False, crlf=False, bad_byte_at=None,
)
# a handful per run keeps it under a minute; TRIPS_PROPERTY_EXAMPLES=200 for a deep search
@hsettings(max_examples=int(os.environ.get("TRIPS_PROPERTY_EXAMPLES", "6")), deadline=None,
           derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                  HealthCheck.data_too_large])
def test_every_record_is_loaded_as_written_or_quarantined(spark, settings, tmp_path, rows,
                                                         quote_all, crlf, bad_byte_at):
    text = render(rows, quote_all, crlf)
    data = text.encode("utf-8")
    bad_line = None
    if bad_byte_at is not None and bad_byte_at < len(rows):
        # a latin-1 byte at the start of that record: the line it is on counts every line
        # break before it, those inside quoted fields included
        before = render(rows[:bad_byte_at], quote_all, crlf).encode("utf-8")
        data = before + b"\xe3" + data[len(before):]
        bad_line = before.count(b"\n") + 1
    path = tmp_path / "in.csv"
    path.write_bytes(data)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        _forget(conn, hashlib.sha256(data).hexdigest())  # hypothesis replays examples
        source = outcome = ingest_file.check(conn, path, raw="raw", run_id="prop")
        if bad_line is not None:
            assert outcome.status == "refused"
            assert outcome.message == f"not UTF-8: byte 0xE3 at line {bad_line}, column 1"
            return
        assert isinstance(source, SourceFile), outcome
        result = ingest_new_file(conn, spark, path, settings, "prop")
        expected = [e for _, e in rows if e is not None]
        # read = accepted + rejected, and every record written was read
        assert result.rows_read == len(rows)
        assert (result.rows_loaded, result.rows_rejected) == (
            len(expected), len(rows) - len(expected))
        loaded = conn.execute(
            "select region, origin_lon, origin_lat, destination_lon, destination_lat,"
            " to_char(trip_datetime, 'YYYY-MM-DD HH24:MI:SS'), datasource from raw.trips"
            " where batch_id in (select batch_id from raw.load_batches where file_hash = %s)",
            (source.sha256,),
        ).fetchall()
        assert Counter(loaded) == Counter(expected)  # exactly as written
        reasons = conn.execute(
            "select rejection_reason, raw_record from raw.trips_rejected"
            " where source_file_hash = %s", (source.sha256,),
        ).fetchall()
        assert len(reasons) == len(rows) - len(expected)
        assert all(reason and record is not None for reason, record in reasons)
