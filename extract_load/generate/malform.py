"""Malformed rows: how a good CSV row is broken, and which rows of a chunk are.

``bad_fraction`` of a file's rows are replaced by realistic malformed ones, one of
:data:`BAD_ROW_KINDS` each, so that the quarantine path has something to catch.
"""

from __future__ import annotations

import math
import re

import numpy as np

from extract_load.generate.csv_format import DECIMALS, to_bytes

BAD_ROW_KINDS: tuple[str, ...] = (
    "bad_wkt",
    "out_of_range_coordinate",
    "bad_timestamp",
    "missing_column",
    "empty_region",
)


def bad_row_count(rows: int, bad_fraction: float) -> int:
    """How many malformed rows ``rows`` rows at ``bad_fraction`` contain: ``floor(rows*f)``."""
    return math.floor(rows * bad_fraction + 1e-9)


def draw_bad_rows(
    rng: np.random.Generator, n: int, n_bad: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which ``n_bad`` of a chunk's ``n`` rows to break (sorted), the kind of each (indices into
    :data:`BAD_ROW_KINDS`) and a variant number within the kind."""
    rows = np.sort(rng.choice(n, size=n_bad, replace=False))
    kinds = rng.integers(0, len(BAD_ROW_KINDS), n_bad)
    variants = rng.integers(0, 1 << 16, n_bad)
    return rows, kinds, variants


_WKT = re.compile(r"POINT \((\S+) (\S+)\)")


def malform(fields: list[str], kind: str, variant: int) -> list[str]:
    """Return a copy of the five CSV ``fields`` of a good row, broken the way ``kind`` names."""
    region, origin, destination, when, source = fields
    lon, lat = _WKT.fullmatch(origin).groups()
    if kind == "bad_wkt":
        origin = (
            f"POINT ({lon} {lat}",
            f"POINT {lon} {lat}",
            f"POINT ({lon})",
            "POINT (not a number)",
            f"PONT ({lon} {lat})",
        )[variant % 5]
        return [region, origin, destination, when, source]
    if kind == "out_of_range_coordinate":
        if variant % 2:  # latitude beyond the pole
            d_lon, d_lat = _WKT.fullmatch(destination).groups()
            destination = f"POINT ({d_lon} {float(d_lat) + 91.5:.{DECIMALS}g})"
        else:  # longitude beyond the antimeridian
            far = float(lon) + (180.5 if float(lon) >= 0 else -180.5)
            origin = f"POINT ({far:.{DECIMALS + 3}g} {lat})"
        return [region, origin, destination, when, source]
    if kind == "bad_timestamp":
        day, clock = when.split(" ")
        when = (
            f"{day[:4]}-13-{day[8:]} {clock}",  # month 13
            f"{day} 25:{clock[3:]}",  # hour 25
            f"{day[:4]}-02-30 {clock}",  # no such day
            "not a timestamp",
        )[variant % 4]
        return [region, origin, destination, when, source]
    if kind == "missing_column":
        return [region, origin, destination, when]
    if kind == "empty_region":
        return ["", origin, destination, when, source]
    raise ValueError(f"unknown bad row kind {kind!r}")


def replace_rows(
    matrix: np.ndarray, rows: np.ndarray, kinds: np.ndarray, variants: np.ndarray
) -> np.ndarray:
    """The NUL-padded line matrix (:func:`~extract_load.generate.csv_format.line_matrix`) with
    ``rows`` replaced by their malformed versions (widened if a malformed line is longer)."""
    lines = []
    for row, kind, variant in zip(rows, kinds, variants, strict=True):
        good = to_bytes(matrix[row]).decode().rstrip("\n")
        bad = malform(good.split(","), BAD_ROW_KINDS[int(kind)], int(variant))
        lines.append((",".join(bad) + "\n").encode())
    longest = max(len(line) for line in lines)
    if longest > matrix.shape[1]:
        matrix = np.pad(matrix, ((0, 0), (0, longest - matrix.shape[1])))
    for row, line in zip(rows, lines, strict=True):
        matrix[row] = 0
        matrix[row, : len(line)] = np.frombuffer(line, dtype=np.uint8)
    return matrix
