"""Formatting: a chunk of drawn trips -> CSV bytes, without a Python loop per row.

Rows are laid out in a fixed-width byte matrix whose unused cells are NUL; dropping the NULs
(one boolean mask) leaves the CSV text. The matrix is filled one column plane at a time (shape
(width, n), so every write is contiguous) from small lookup tables of ASCII digits.

Why by hand: turning the drawn values into text is about half of what generating a file costs,
and the usual tools are slower or wrong for it. Python's formatting is a call per value, an
order of magnitude slower than this; Arrow's string kernels are vectorised but write a float in
its shortest form, not with the fixed :data:`DECIMALS` decimals. Scaled to integers and spelled
from digit tables, a column of coordinates is a few array operations per chunk. Figures:
docs/performance.md#generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

DECIMALS = 13  # coordinates are written with exactly 13 decimals (~0.01 um: full precision)
_SCALE = 10**DECIMALS


def _digit_table(width: int, strip_leading_zeros: bool = False) -> np.ndarray:
    """(width, 10**width) uint8: column ``v`` holds the ASCII digits of ``v``, zero padded
    (or NUL padded where ``strip_leading_zeros``, keeping the last digit)."""
    values = np.arange(10**width)
    table = np.empty((width, values.size), dtype=np.uint8)
    for k in range(width):
        power = 10 ** (width - 1 - k)
        table[k] = 48 + (values // power) % 10
        if strip_leading_zeros and k < width - 1:
            table[k][values < power] = 0
    return table


_DIGITS4 = _digit_table(4)
_DIGITS3_STRIPPED = _digit_table(3, strip_leading_zeros=True)
_NUMBER_WIDTH = 1 + 3 + 1 + DECIMALS  # sign, up to three integer digits, '.', decimals


def _labels(values: pa.Array) -> np.ndarray:
    """(width, K) uint8: column ``k`` holds label ``k`` of a dictionary, NUL padded."""
    labels = [s.encode() for s in values.to_pylist()]
    table = np.zeros((max(len(s) for s in labels), len(labels)), dtype=np.uint8)
    for i, s in enumerate(labels):
        table[: len(s), i] = np.frombuffer(s, dtype=np.uint8)
    return table


def _number_planes(x: np.ndarray, out: np.ndarray) -> None:
    """Write ``x`` rounded to :data:`DECIMALS` decimals into ``out`` (_NUMBER_WIDTH, n)."""
    if np.any(np.abs(x) >= 1000):
        raise ValueError("coordinates must be within (-1000, 1000)")
    scaled = np.rint(np.abs(x) * _SCALE).astype(np.int64)  # < 2**53: exact integers
    whole, frac = np.divmod(scaled, _SCALE)
    out[0] = np.where(x < 0, ord("-"), 0)
    np.take(_DIGITS3_STRIPPED, whole, axis=1, out=out[1:4])
    out[4] = ord(".")
    # 13 decimals = 1 digit + three groups of 4 digits
    head, rest = np.divmod(frac, 10**12)
    out[5] = 48 + head
    for k, power in enumerate((10**8, 10**4, 1)):
        group = (rest // power) % 10_000
        np.take(_DIGITS4, group, axis=1, out=out[6 + 4 * k : 10 + 4 * k])


def _datetime_planes(seconds: np.ndarray, out: np.ndarray) -> None:
    """Write ``YYYY-MM-DD HH:MM:SS`` of epoch ``seconds`` into ``out`` (19, n)."""
    days = seconds // 86_400
    first = int(days.min()) if days.size else 0
    span = np.arange(first, (int(days.max()) + 1) if days.size else 1)
    dates = np.datetime_as_string(span.astype("datetime64[D]"))  # YYYY-MM-DD
    if any(len(d) != 10 for d in dates):
        raise ValueError("years must have four digits")
    date_table = np.frombuffer("".join(dates).encode(), dtype=np.uint8).reshape(-1, 10).T
    np.take(date_table, days - first, axis=1, out=out[0:10])
    out[10] = ord(" ")
    sod = seconds - days * 86_400
    hhmm = (sod // 3600) * 100 + (sod // 60) % 60
    hm = np.take(_DIGITS4, hhmm, axis=1)
    out[11:13] = hm[0:2]
    out[13] = ord(":")
    out[14:16] = hm[2:4]
    out[16] = ord(":")
    out[17:19] = np.take(_DIGITS4, sod % 60, axis=1)[2:4]


def line_matrix(table: pa.Table) -> np.ndarray:
    """The NUL-padded (n, width) byte matrix of well-formed lines, each ending in ``\\n``."""
    col = {name: table.column(name).combine_chunks() for name in table.column_names}
    region, source = col["region"], col["datasource"]
    region_labels, source_labels = _labels(region.dictionary), _labels(source.dictionary)

    def number(name: str) -> Callable[[np.ndarray], None]:
        return lambda out: _number_planes(col[name].to_numpy(), out)

    def labels(table_: np.ndarray, array: pa.DictionaryArray) -> Callable[[np.ndarray], None]:
        return lambda out: np.take(table_, array.indices.to_numpy(), axis=1, out=out)

    def seconds(out: np.ndarray) -> None:
        _datetime_planes(col["datetime"].cast(pa.int64()).to_numpy(), out)

    # (width, writer) in line order, the columns in the order of the header the file starts
    # with (input_csv.CSV_HEADER); bytes are constants
    layout: list[tuple[int, Callable[[np.ndarray], None]] | bytes] = [
        (region_labels.shape[0], labels(region_labels, region)),
        b",POINT (",
        (_NUMBER_WIDTH, number("origin_lon")),
        b" ",
        (_NUMBER_WIDTH, number("origin_lat")),
        b"),POINT (",
        (_NUMBER_WIDTH, number("destination_lon")),
        b" ",
        (_NUMBER_WIDTH, number("destination_lat")),
        b"),",
        (19, seconds),
        b",",
        (source_labels.shape[0], labels(source_labels, source)),
        b"\n",
    ]
    width = sum(len(p) if isinstance(p, bytes) else p[0] for p in layout)
    planes = np.empty((width, table.num_rows), dtype=np.uint8)
    at = 0
    for piece in layout:
        if isinstance(piece, bytes):
            planes[at : at + len(piece)] = np.frombuffer(piece, dtype=np.uint8)[:, None]
            at += len(piece)
        else:
            piece[1](planes[at : at + piece[0]])
            at += piece[0]
    return np.ascontiguousarray(planes.T)


def to_bytes(matrix: np.ndarray) -> bytes:
    """The text of a NUL-padded byte matrix (or of one of its rows): the bytes that are not NUL."""
    return matrix[matrix != 0].tobytes()
