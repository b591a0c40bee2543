"""The input CSV: its five columns, what each holds and how it is written.

The one definition of the column list: the file checks (``sources.py``), the Spark read schema
and validation (``transforms.py``), the rejected rows' column mapping (``loader.py``), the
generator, the benchmarks and the tests' CSV builders import it from here.

===================== ===================================================================
column                what it holds, as written in the file
===================== ===================================================================
``region``            the region's name (required; no longer than
                      :data:`~extract_load.transforms.MAX_NAME_LENGTH`, no control characters)
``origin_coord``      where the trip started: WKT ``POINT (lon lat)``, WGS 84 degrees
``destination_coord`` where it ended, the same way
``datetime``          when it started: ``YYYY-MM-DD HH:MM:SS``, local time without a zone
``datasource``        the name of the source that recorded the trip (required, like
                      ``region``)
===================== ===================================================================

A file's header names the five columns in any order, any case, quoted or not: the columns are
mapped by name (:func:`extract_load.sources.inspect_source` reads the order, the Spark schema
follows it). What a valid value is, exactly, is checked by
:func:`extract_load.transforms.with_rejection_reason`.
"""

from __future__ import annotations

CSV_COLUMNS: tuple[str, ...] = (
    "region",
    "origin_coord",
    "destination_coord",
    "datetime",
    "datasource",
)
# the header line in the canonical order (what `trips generate` writes), without its line break
CSV_HEADER = ",".join(CSV_COLUMNS)

# the ``datetime`` column's format, for Python (strftime) and for Spark (datetime pattern)
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATETIME_SPARK_PATTERN = "yyyy-MM-dd HH:mm:ss"
