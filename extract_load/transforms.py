"""Pure DataFrame -> DataFrame transformations of the landing job (Spark SQL functions only).

No Python UDFs: WKT parsing, timestamp parsing and validation are column expressions, so they
run in the JVM at full speed and can be tested on a local session with inline data.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from extract_load.input_csv import CSV_COLUMNS, DATETIME_SPARK_PATTERN

CORRUPT_COLUMN = "_corrupt_record"
# The trip datetimes the warehouse accepts: whole years, inclusive. Every representation a
# timestamp passes through holds these exactly (Spark and Postgres microseconds, parquet
# TIMESTAMP_MICROS, Arrow timestamp[us]); the bound is a business one: a trip before 1900 or
# after 2100 is a typo, and dim_weeks would grow a row per week back to it.
TRIP_YEAR_MIN, TRIP_YEAR_MAX = 1900, 2100
# region / datasource are names: anything longer is not one (and would bloat every mart)
MAX_NAME_LENGTH = 200
# characters no name may hold: C0 controls (line breaks, tabs, ...), DEL, and U+FFFD, which
# only a lossy decoder upstream produces
_BAD_NAME_CHARACTERS = "[\\x00-\\x1f\\x7f\\x{FFFD}]"

_NUMBER = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
WKT_POINT_PATTERN = rf"^\s*(?i:POINT)\s*\(\s*{_NUMBER}\s+{_NUMBER}\s*\)\s*$"
# longer than any number a double holds in decimal; only bounds a substring
MAX_COORDINATE_LENGTH = 1 << 16

LANDED_COLUMNS = (
    "region",
    "origin_lon",
    "origin_lat",
    "destination_lon",
    "destination_lat",
    "trip_datetime",
    "datasource",
)
QUARANTINE_COLUMNS = (*CSV_COLUMNS, "raw_record", "rejection_reason")
# a row's place in its source file (with_source_order); carried to the landing's sort only
SOURCE_ORDER_COLUMNS = ("_source_split_start", "_source_split_row")


def wkt_coordinate(col: Column, index: int) -> Column:
    """The ``index``-th (1 = lon, 2 = lat) number of a ``POINT (lon lat)`` string, or null:
    the reference parse by ``WKT_POINT_PATTERN``, which :func:`wkt_point` must agree with."""
    matched = F.regexp_extract(col, WKT_POINT_PATTERN, index)
    return F.when(matched != "", matched.try_cast("double"))


def _plain_number(token: Column) -> Column:
    """True when ``token``, if Java's double parser takes it, is also a number of the WKT
    grammar (``_NUMBER``): it starts with a digit, sign or dot and ends with a digit or dot
    (no ``Infinity``/``NaN``, no ``d``/``f`` suffix, no whitespace Java would trim) and holds
    no ``x`` (no hexadecimal float)."""
    first, last = F.ascii(token), F.ascii(F.substring(token, -1, 1))
    return (
        (first.between(48, 57) | first.isin(43, 45, 46))
        & (last.between(48, 57) | (last == 46))
        & ~token.contains("x")
        & ~token.contains("X")
    )


def wkt_point(col: Column) -> tuple[Column, Column]:
    """The (lon, lat) doubles of a ``POINT (lon lat)`` string, each null when it is not one.

    Exactly the numbers ``WKT_POINT_PATTERN`` extracts, but the common spelling (``POINT (``,
    one space, ``)``) is split on its fixed delimiters: Java's regex matcher, run twice per
    column, was the costliest expression of the landing. Any other spelling (lower case, no
    or extra whitespace, garbage) falls through to :func:`wkt_coordinate`, which decides as
    before.
    """
    parts = F.split(col, " ", -1)
    # get(): null past the end (ANSI mode raises for [i], even where size() rules it out,
    # because the shared subexpression is evaluated first)
    word, first, second = (F.get(parts, i) for i in range(3))
    lon = F.substring(first, 2, MAX_COORDINATE_LENGTH)
    lat = second.substr(F.lit(1), F.length(second) - 1)
    common = (
        (F.size(parts) == 3)
        & (word == "POINT")
        & first.startswith("(")
        & second.endswith(")")
        & _plain_number(lon)
        & _plain_number(lat)
    )

    def coordinate(token: Column, index: int) -> Column:
        return F.coalesce(F.when(common, token.try_cast("double")), wkt_coordinate(col, index))

    return coordinate(lon, 1), coordinate(lat, 2)


def blank_to_null(col: Column) -> Column:
    trimmed = F.trim(col)
    return F.when(trimmed != "", trimmed)


def with_source_order(raw: DataFrame) -> DataFrame:
    """Add each row's place in the source file: the byte offset of the split it was read from
    and a number increasing along the split. Sorting by the two gives the file's order however
    the file was split, i.e. on any cluster (right after the read, where both are defined)."""
    return raw.select(
        "*",
        F.input_file_block_start().alias(SOURCE_ORDER_COLUMNS[0]),
        F.monotonically_increasing_id().alias(SOURCE_ORDER_COLUMNS[1]),
    )


def parse_trips(raw: DataFrame) -> DataFrame:
    """Typed columns next to the raw strings: lon/lat doubles, a timestamp, trimmed names."""
    origin_lon, origin_lat = wkt_point(F.col("origin_coord"))
    destination_lon, destination_lat = wkt_point(F.col("destination_coord"))
    return raw.select(
        "*",
        blank_to_null(F.col("region")).alias("region_clean"),
        blank_to_null(F.col("datasource")).alias("datasource_clean"),
        origin_lon.alias("origin_lon"),
        origin_lat.alias("origin_lat"),
        destination_lon.alias("destination_lon"),
        destination_lat.alias("destination_lat"),
        F.try_to_timestamp(F.trim(F.col("datetime")), F.lit(DATETIME_SPARK_PATTERN)).alias(
            "trip_datetime"
        ),
    )


def _out_of_range(lon: str, lat: str) -> Column:
    return ~F.col(lon).between(-180.0, 180.0) | ~F.col(lat).between(-90.0, 90.0)


def _name_checks(column: str, name: str) -> list[tuple[Column, str]]:
    return [
        (
            F.length(F.col(column)) > MAX_NAME_LENGTH,
            f"{name} longer than {MAX_NAME_LENGTH} characters",
        ),
        (
            F.col(column).rlike(_BAD_NAME_CHARACTERS),
            f"{name} contains a line break, control character or U+FFFD",
        ),
    ]


def with_rejection_reason(parsed: DataFrame) -> DataFrame:
    """Add ``rejection_reason``: null for a valid row, else the first failed check."""
    checks: list[tuple[Column, str]] = [
        (
            F.col(CORRUPT_COLUMN).isNotNull(),
            "malformed record: expected 5 comma-separated columns",
        ),
        (F.col("region_clean").isNull(), "missing region"),
        (F.col("datasource_clean").isNull(), "missing datasource"),
        *_name_checks("region_clean", "region"),
        *_name_checks("datasource_clean", "datasource"),
        (F.col("origin_lon").isNull(), "origin_coord is not a WKT POINT (lon lat)"),
        (F.col("destination_lon").isNull(), "destination_coord is not a WKT POINT (lon lat)"),
        (_out_of_range("origin_lon", "origin_lat"), "origin_coord out of range"),
        (
            _out_of_range("destination_lon", "destination_lat"),
            "destination_coord out of range",
        ),
        (F.col("trip_datetime").isNull(), "datetime is not YYYY-MM-DD HH:MM:SS"),
        (
            ~F.year("trip_datetime").between(TRIP_YEAR_MIN, TRIP_YEAR_MAX),
            f"datetime outside the years {TRIP_YEAR_MIN}..{TRIP_YEAR_MAX}",
        ),
    ]
    reason: Column | None = None
    for failed, message in reversed(checks):
        reason = F.when(failed, F.lit(message)).otherwise(reason)
    return parsed.withColumn("rejection_reason", reason)


def raw_record(col_names: tuple[str, ...] = CSV_COLUMNS) -> Column:
    """The record as read: Spark's corrupt-record text, else the fields re-joined with commas."""
    return F.coalesce(
        F.col(CORRUPT_COLUMN),
        F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in col_names]),
    )


def to_landing_rows(validated: DataFrame, columns: tuple[str, ...] = CSV_COLUMNS) -> DataFrame:
    """One output shape for accepted and rejected rows, with a ``status`` partition column.

    Accepted rows keep only typed columns (raw strings nulled: free in parquet); rejected rows
    keep only raw strings and the reason. No per-row id: the loader numbers the rows of each
    landed parquet file (its batch), which is cheaper than a string per row in Spark and just
    as stable, because a landed file's row order never changes.
    """
    ok = F.col("rejection_reason").isNull()

    def when_ok(c: str) -> Column:
        return F.when(ok, F.col(c))

    def when_bad(c: Column) -> Column:
        return F.when(~ok, c)

    return validated.select(
        F.when(ok, F.lit("accepted")).otherwise(F.lit("rejected")).alias("status"),
        when_ok("region_clean").alias("region"),
        *[when_ok(c).alias(c) for c in LANDED_COLUMNS[1:6]],
        when_ok("datasource_clean").alias("datasource"),
        F.when(ok, F.to_date("trip_datetime")).alias("trip_date"),
        *[when_bad(F.col(c)).alias(f"raw_{c}") for c in CSV_COLUMNS],
        when_bad(raw_record(columns)).alias("raw_record"),
        F.col("rejection_reason"),
        *[c for c in SOURCE_ORDER_COLUMNS if c in validated.columns],
    )


def landing_frame(raw: DataFrame, columns: tuple[str, ...] = CSV_COLUMNS) -> DataFrame:
    """The whole landing transformation: raw strings -> validated, partition-ready rows.

    ``columns``: the source's column order (its header), for the raw record of a rejected row.
    """
    return to_landing_rows(with_rejection_reason(parse_trips(raw)), columns)


def raw_schema(columns: tuple[str, ...] = CSV_COLUMNS) -> StructType:
    """The read schema of a file whose header names ``columns`` in this order: Spark maps CSV
    fields by position, so the schema follows the file and the transforms select by name."""
    return StructType(
        [StructField(c, StringType(), True) for c in columns]
        + [StructField(CORRUPT_COLUMN, StringType(), True)]
    )


# the read schema of a file in the canonical column order
RAW_SCHEMA = raw_schema()
