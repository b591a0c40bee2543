"""The chunk stream and its output: CSV bytes chunk by chunk, to a file object or a path.

Memory is one chunk's whatever the row count: each chunk is drawn, formatted and written before
the next is drawn.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from extract_load.generate.csv_format import line_matrix, to_bytes
from extract_load.generate.malform import bad_row_count, draw_bad_rows, replace_rows
from extract_load.generate.sample import (
    DEFAULT_START_DATE,
    DEFAULT_WEEKS,
    chunk_rng,
    generate_chunk,
)
from extract_load.generate.spec import DEFAULT_SPEC, Spec
from extract_load.input_csv import CSV_HEADER

DEFAULT_CHUNK_SIZE = 200_000
# level 1, not the default 6: several times faster for a few more bytes, and generation speed
# matters more here than file size (docs/performance.md#gzip-level)
GZIP_LEVEL = 1


def format_chunk(
    table: pa.Table,
    *,
    bad_rows: np.ndarray | None = None,
    bad_kinds: np.ndarray | None = None,
    bad_variants: np.ndarray | None = None,
) -> bytes:
    """Render a :func:`~extract_load.generate.sample.generate_chunk` table as CSV lines (no
    header), one ``\\n`` per row.

    ``bad_rows`` (row indices), ``bad_kinds`` (indices into
    :data:`~extract_load.generate.malform.BAD_ROW_KINDS`) and ``bad_variants`` (ints) replace
    those rows with malformed ones.
    """
    matrix = line_matrix(table)
    if bad_rows is not None and len(bad_rows):
        if bad_kinds is None or bad_variants is None:
            raise ValueError("bad_kinds and bad_variants must come with bad_rows")
        matrix = replace_rows(matrix, bad_rows, bad_kinds, bad_variants)
    return to_bytes(matrix)


def iter_csv_chunks(
    rows: int,
    seed: int = 0,
    *,
    spec: Spec = DEFAULT_SPEC,
    start: date = DEFAULT_START_DATE,
    weeks: int = DEFAULT_WEEKS,
    bad_fraction: float = 0.0,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    header: bool = True,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(rows_in_chunk, csv_bytes)``; the first chunk carries the header line."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError("bad_fraction must be within [0, 1]")
    if chunk_size < 1:
        raise ValueError("chunk_size must be >= 1")
    if header:
        yield 0, (CSV_HEADER + "\n").encode()
    for index, lo in enumerate(range(0, rows, chunk_size)):
        n = min(chunk_size, rows - lo)
        rng = chunk_rng(seed, index)
        table = generate_chunk(rng, n, spec, start=start, weeks=weeks)
        n_bad = bad_row_count(lo + n, bad_fraction) - bad_row_count(lo, bad_fraction)
        bad = kinds = variants = None
        if n_bad:
            bad, kinds, variants = draw_bad_rows(rng, n, n_bad)
        yield n, format_chunk(table, bad_rows=bad, bad_kinds=kinds, bad_variants=variants)


@dataclass(frozen=True)
class GenerateResult:
    rows: int
    bad_rows: int
    bytes_written: int


def write_csv(
    out: BinaryIO,
    rows: int,
    seed: int = 0,
    *,
    gzip_output: bool = False,
    gzip_level: int = GZIP_LEVEL,
    progress: Callable[[int], object] | None = None,
    **options,
) -> GenerateResult:
    """Stream ``rows`` trips to the binary file ``out`` (gzip with a fixed header if asked).

    The gzip header carries no name and no mtime, so gzip output is as deterministic as plain.

    ``options`` go to :func:`iter_csv_chunks`. ``progress`` is called with each chunk's row count.
    """
    written = 0
    sink: BinaryIO = (
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=gzip_level)
        if gzip_output
        else out
    )
    try:
        for n, payload in iter_csv_chunks(rows, seed, **options):
            sink.write(payload)
            written += len(payload)
            if progress is not None and n:
                progress(n)
    finally:
        if gzip_output:
            sink.close()
    return GenerateResult(
        rows=rows,
        bad_rows=bad_row_count(rows, options.get("bad_fraction", 0.0)),
        bytes_written=written,
    )


def generate_file(
    path: Path,
    rows: int,
    seed: int = 0,
    *,
    gzip_output: bool | None = None,
    progress: Callable[[int], object] | None = None,
    **options,
) -> GenerateResult:
    """Write to ``path`` (atomically via a ``.part`` file); gzip defaults to a ``.gz`` suffix."""
    path = Path(path)
    if gzip_output is None:
        gzip_output = path.suffix == ".gz"
    if path.exists() and not path.is_file():
        # a device or a pipe (e.g. /dev/null): write in place, never rename over it
        with open(path, "wb", buffering=io.DEFAULT_BUFFER_SIZE * 64) as fh:
            return write_csv(fh, rows, seed, gzip_output=gzip_output, progress=progress, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "wb", buffering=io.DEFAULT_BUFFER_SIZE * 64) as fh:
            result = write_csv(
                fh, rows, seed, gzip_output=gzip_output, progress=progress, **options
            )
        part.replace(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return result
