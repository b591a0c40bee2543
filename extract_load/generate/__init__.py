"""Deterministic synthetic trips in the input CSV format (``trips generate``).

The output looks like the files the pipeline ingests (columns: :mod:`extract_load.input_csv`)::

    region,origin_coord,destination_coord,datetime,datasource
    Prague,POINT (14.4973794438195 50.00136875782316),POINT (14.43109 50.04052),...

Realism, so that the marts have something to say (:mod:`.spec`):

* regions with unequal volumes, each with its own bounding box;
* origins and destinations drawn mostly around a few hot spots per region with a small gaussian
  spread (so "similar trips" exist), plus uniform noise over the bounding box;
* datasources with region-dependent weights, and not every datasource in every region;
* ``weeks`` of timestamps with a weekday rush-hour profile and a flatter, lighter weekend.

Determinism: the bytes depend only on (rows, seed, start date, weeks, bad-row fraction, chunk
size). Chunk ``k`` draws from its own generator seeded with ``(seed, k)`` (:mod:`.sample`), so
chunks are independent and generation streams in constant memory: 100M rows never hold more
than ``chunk_size`` rows. Drawing is vectorised over a chunk, and so is formatting
(:mod:`.csv_format`: lines spelled from ASCII digit tables in a byte matrix, no Python loop per
row and no float-to-string call).

``bad_fraction`` replaces exactly ``floor(rows * bad_fraction)`` rows with realistic malformed
ones (:mod:`.malform`, :data:`BAD_ROW_KINDS`) so the quarantine path can be exercised.

:mod:`.write` streams the chunks to a file object or a path; its functions and the spec are
the package's API, importable from here.
"""

from __future__ import annotations

from extract_load.generate.malform import BAD_ROW_KINDS, bad_row_count
from extract_load.generate.sample import DEFAULT_START_DATE, DEFAULT_WEEKS
from extract_load.generate.spec import DATASOURCES, DEFAULT_SPEC, HotSpot, Region, Spec
from extract_load.generate.write import (
    DEFAULT_CHUNK_SIZE,
    GZIP_LEVEL,
    GenerateResult,
    generate_file,
    iter_csv_chunks,
    write_csv,
)

__all__ = [
    "BAD_ROW_KINDS",
    "DATASOURCES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_SPEC",
    "DEFAULT_START_DATE",
    "DEFAULT_WEEKS",
    "GZIP_LEVEL",
    "GenerateResult",
    "HotSpot",
    "Region",
    "Spec",
    "bad_row_count",
    "generate_file",
    "iter_csv_chunks",
    "write_csv",
]
