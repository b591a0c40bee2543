"""Deterministic synthetic trips in the input CSV format.

The output looks like the files the pipeline ingests (columns: :mod:`extract_load.input_csv`)::

    region,origin_coord,destination_coord,datetime,datasource
    Prague,POINT (14.4973794438195 50.00136875782316),POINT (14.43109 50.04052),...

Realism, so that the marts have something to say:

* regions with unequal volumes, each with its own bounding box;
* origins and destinations drawn mostly around a few hot spots per region with a small gaussian
  spread (so "similar trips" exist), plus uniform noise over the bounding box;
* datasources with region-dependent weights, and not every datasource in every region;
* ``weeks`` of timestamps with a weekday rush-hour profile and a flatter, lighter weekend.

Determinism: the bytes depend only on (rows, seed, start date, weeks, bad-row fraction, chunk
size). Chunk ``k`` draws from its own generator seeded with ``(seed, k)``, so chunks are
independent and generation streams in constant memory: 100M rows never hold more than
``chunk_size`` rows. Formatting is vectorised (numpy draws, Arrow string kernels); each chunk's
CSV text is the data buffer of one Arrow string array, written without a Python loop per row.

``bad_fraction`` replaces exactly ``floor(rows * bad_fraction)`` rows with realistic malformed
ones (see :data:`BAD_ROW_KINDS`) so the quarantine path can be exercised.
"""

from __future__ import annotations

import gzip
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from extract_load.input_csv import CSV_HEADER

DEFAULT_CHUNK_SIZE = 200_000
DEFAULT_START_DATE = date(2018, 5, 7)  # a Monday
DEFAULT_WEEKS = 4
# Level 1: ~4x faster than the default 6 for ~17% more bytes; generation speed matters more.
GZIP_LEVEL = 1

DATASOURCES: tuple[str, ...] = (
    "cheap_mobile",
    "funny_car",
    "baba_car",
    "pt_search_app",
    "bad_diesel_vehicles",
)

BAD_ROW_KINDS: tuple[str, ...] = (
    "bad_wkt",
    "out_of_range_coordinate",
    "bad_timestamp",
    "missing_column",
    "empty_region",
)


@dataclass(frozen=True)
class HotSpot:
    name: str
    lon: float
    lat: float
    sigma: float  # gaussian spread in degrees (~0.004 deg is a few hundred metres)
    weight: float


@dataclass(frozen=True)
class Region:
    name: str
    weight: float  # share of all trips (normalised across regions)
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    hotspots: tuple[HotSpot, ...]
    datasource_weights: dict[str, float]  # missing datasource = never seen in this region

    def contains(self, lon: float, lat: float) -> bool:
        return self.lon_min <= lon <= self.lon_max and self.lat_min <= lat <= self.lat_max


@dataclass(frozen=True)
class Spec:
    """Everything that shapes the synthetic data except the seed and the row count."""

    regions: tuple[Region, ...]
    datasources: tuple[str, ...] = DATASOURCES
    noise_fraction: float = 0.1  # share of endpoints drawn uniformly over the bbox
    # Relative trip volume per hour of day (index 0 = 00:00-00:59).
    weekday_hours: tuple[float, ...] = (
        0.8, 0.5, 0.35, 0.3, 0.4, 1.0, 2.6, 5.5, 7.5, 5.6, 3.6, 3.4,
        3.8, 3.6, 3.4, 3.9, 5.4, 7.2, 7.0, 5.0, 3.4, 2.5, 1.8, 1.2,
    )  # fmt: skip
    weekend_hours: tuple[float, ...] = (
        1.8, 1.5, 1.2, 0.9, 0.6, 0.5, 0.6, 0.9, 1.6, 2.5, 3.4, 4.0,
        4.4, 4.4, 4.2, 4.0, 4.0, 4.1, 4.2, 3.9, 3.4, 2.9, 2.5, 2.2,
    )  # fmt: skip
    weekend_day_weight: float = 0.65  # a weekend day has 65% of a weekday's volume

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(name)

    def only(self, names: Iterable[str]) -> Spec:
        """The same spec restricted to the named regions (their relative weights kept).

        A region's trips then look exactly as they do in the full mix, at the density of a
        file 1 / (its share) times bigger: e.g. 27M Prague-only rows put as many trips in
        Prague as a 100M-row mixed file does.
        """
        wanted = list(dict.fromkeys(names))
        known = [region.name for region in self.regions]
        unknown = [name for name in wanted if name not in known]
        if unknown or not wanted:
            raise ValueError(
                f"unknown region(s) {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(known)}"
            )
        return replace(self, regions=tuple(r for r in self.regions if r.name in wanted))


def _hs(name: str, lon: float, lat: float, weight: float, sigma: float = 0.004) -> HotSpot:
    return HotSpot(name, lon, lat, sigma, weight)


DEFAULT_SPEC = Spec(
    regions=(
        Region(
            "Prague", 0.27, 14.22, 14.71, 49.94, 50.18,
            (
                _hs("Old Town Square", 14.4205, 50.0875, 3.0),
                _hs("Wenceslas Square", 14.4280, 50.0810, 2.5),
                _hs("Hlavni nadrazi", 14.4355, 50.0830, 2.0),
                _hs("Vaclav Havel Airport", 14.2600, 50.1008, 1.5, 0.006),
                _hs("Holesovice", 14.4400, 50.1040, 1.0),
                _hs("Smichov", 14.4040, 50.0710, 1.0),
                _hs("Chodov", 14.4910, 50.0310, 0.7),
            ),
            {"cheap_mobile": 3.0, "funny_car": 4.0, "baba_car": 1.0, "pt_search_app": 2.0},
        ),
        Region(
            "Hamburg", 0.22, 9.73, 10.33, 53.39, 53.74,
            (
                _hs("Hauptbahnhof", 10.0067, 53.5530, 3.0),
                _hs("Airport", 9.9880, 53.6300, 1.5, 0.006),
                _hs("Altona", 9.9350, 53.5520, 1.5),
                _hs("HafenCity", 9.9990, 53.5410, 1.2),
                _hs("Reeperbahn", 9.9600, 53.5500, 1.8),
                _hs("Barmbek", 10.0450, 53.5870, 0.8),
            ),
            {
                "cheap_mobile": 2.0,
                "baba_car": 3.0,
                "pt_search_app": 2.0,
                "bad_diesel_vehicles": 1.5,
            },
        ),
        Region(
            "Turin", 0.17, 7.57, 7.77, 44.99, 45.14,
            (
                _hs("Porta Nuova", 7.6780, 45.0620, 2.5),
                _hs("Porta Susa", 7.6650, 45.0720, 2.0),
                _hs("Lingotto", 7.6650, 45.0320, 1.2),
                _hs("Piazza Castello", 7.6860, 45.0710, 2.0),
                _hs("Politecnico", 7.6590, 45.0630, 1.0),
            ),
            {"funny_car": 2.0, "baba_car": 4.0, "pt_search_app": 1.0, "bad_diesel_vehicles": 2.0},
        ),
        Region(
            "Barcelona", 0.15, 2.05, 2.23, 41.28, 41.47,
            (
                _hs("Placa de Catalunya", 2.1700, 41.3870, 3.0),
                _hs("Sants", 2.1400, 41.3790, 2.0),
                _hs("Sagrada Familia", 2.1744, 41.4036, 1.5),
                _hs("El Prat Airport", 2.0785, 41.2974, 1.2, 0.006),
                _hs("Barceloneta", 2.1890, 41.3800, 1.3),
            ),
            {"funny_car": 3.0, "pt_search_app": 3.0},
        ),
        Region(
            "Vienna", 0.12, 16.18, 16.58, 48.12, 48.32,
            (
                _hs("Stephansplatz", 16.3725, 48.2085, 3.0),
                _hs("Hauptbahnhof", 16.3760, 48.1850, 2.0),
                _hs("Westbahnhof", 16.3380, 48.1966, 1.5),
                _hs("Prater", 16.3960, 48.2166, 1.0),
                _hs("Schoenbrunn", 16.3122, 48.1845, 0.8),
            ),
            {"cheap_mobile": 1.0, "pt_search_app": 4.0, "bad_diesel_vehicles": 1.0},
        ),
        Region(
            "Lisbon", 0.07, -9.23, -9.09, 38.69, 38.80,
            (
                _hs("Baixa", -9.1370, 38.7100, 3.0),
                _hs("Humberto Delgado Airport", -9.1350, 38.7740, 1.5, 0.005),
                _hs("Oriente", -9.0990, 38.7680, 1.2, 0.003),
                _hs("Belem", -9.2060, 38.6970, 1.0, 0.003),
                _hs("Marques de Pombal", -9.1500, 38.7250, 1.5),
            ),
            {"baba_car": 2.0, "pt_search_app": 3.0},
        ),
    )
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Drawing values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    """The spec as padded numpy arrays, so every draw is vectorised over the whole chunk."""

    region_cdf: np.ndarray  # (R,)
    bbox: np.ndarray  # (R, 4): lon_min, lon_max, lat_min, lat_max
    hs_lon: np.ndarray  # (R, H)
    hs_lat: np.ndarray
    hs_sigma: np.ndarray
    hs_cdf: np.ndarray  # (R, H), padded with 1.0
    ds_cdf: np.ndarray  # (R, D)
    weekday_hour_cdf: np.ndarray  # (24,)
    weekend_hour_cdf: np.ndarray


def _cdf(weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(weights, axis=-1)
    cdf /= cdf[..., -1:]
    return cdf


def _tables(spec: Spec) -> _Tables:
    n_regions = len(spec.regions)
    n_hot = max(len(r.hotspots) for r in spec.regions)
    hs_lon = np.zeros((n_regions, n_hot))
    hs_lat = np.zeros((n_regions, n_hot))
    hs_sigma = np.zeros((n_regions, n_hot))
    hs_w = np.zeros((n_regions, n_hot))
    ds_w = np.zeros((n_regions, len(spec.datasources)))
    for i, region in enumerate(spec.regions):
        unknown = set(region.datasource_weights) - set(spec.datasources)
        if unknown:
            raise ValueError(f"{region.name}: unknown datasources {sorted(unknown)}")
        for j, hot in enumerate(region.hotspots):
            if not region.contains(hot.lon, hot.lat):
                raise ValueError(f"{region.name}: hot spot {hot.name} is outside the bbox")
            hs_lon[i, j], hs_lat[i, j], hs_sigma[i, j], hs_w[i, j] = (
                hot.lon,
                hot.lat,
                hot.sigma,
                hot.weight,
            )
        for k, ds in enumerate(spec.datasources):
            ds_w[i, k] = region.datasource_weights.get(ds, 0.0)
    bbox = np.array([[r.lon_min, r.lon_max, r.lat_min, r.lat_max] for r in spec.regions])
    return _Tables(
        region_cdf=_cdf(np.array([r.weight for r in spec.regions])),
        bbox=bbox,
        hs_lon=hs_lon,
        hs_lat=hs_lat,
        hs_sigma=hs_sigma,
        hs_cdf=_cdf(hs_w),
        ds_cdf=_cdf(ds_w),
        weekday_hour_cdf=_cdf(np.array(spec.weekday_hours)),
        weekend_hour_cdf=_cdf(np.array(spec.weekend_hours)),
    )


def _pick(cdf_rows: np.ndarray, group: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-row categorical draw from the CDF of the row's group: ``cdf_rows`` is (G, K) with
    every row ending in 1.0, ``group`` (n,) ints, ``u`` uniform [0, 1) (n,).

    The G CDFs are laid end to end as one non-decreasing array (row g shifted by g), so one
    ``searchsorted`` serves every group. Zero-weight categories are never drawn.
    """
    n_groups, k = cdf_rows.shape
    shifted = (cdf_rows + np.arange(n_groups)[:, None]).ravel()
    flat = np.searchsorted(shifted, group + u, side="right")
    return np.minimum(flat - group * k, k - 1)


def _points(
    rng: np.random.Generator, region: np.ndarray, tables: _Tables, noise_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    n = region.shape[0]
    hot = _pick(tables.hs_cdf, region, rng.random(n))
    flat = region * tables.hs_cdf.shape[1] + hot
    sigma = tables.hs_sigma.ravel().take(flat)
    lon = tables.hs_lon.ravel().take(flat) + rng.standard_normal(n) * sigma
    lat = tables.hs_lat.ravel().take(flat) + rng.standard_normal(n) * (sigma * 0.7)
    lon_min, lon_max, lat_min, lat_max = (tables.bbox[:, i].take(region) for i in range(4))
    u_lon = lon_min + rng.random(n) * (lon_max - lon_min)
    u_lat = lat_min + rng.random(n) * (lat_max - lat_min)
    outside = (lon < lon_min) | (lon > lon_max) | (lat < lat_min) | (lat > lat_max)
    uniform = (rng.random(n) < noise_fraction) | outside
    return np.where(uniform, u_lon, lon), np.where(uniform, u_lat, lat)


def _timestamps(
    rng: np.random.Generator, n: int, spec: Spec, tables: _Tables, start: date, weeks: int
) -> np.ndarray:
    """Epoch seconds over ``weeks`` weeks from ``start`` with daily and weekly profiles."""
    days = np.arange(weeks * 7)
    weekday = (days + start.weekday()) % 7  # 0 = Monday
    is_weekend = weekday >= 5
    day_cdf = _cdf(np.where(is_weekend, spec.weekend_day_weight, 1.0))
    day = np.searchsorted(day_cdf, rng.random(n), side="right").clip(0, days.size - 1)
    hour_cdf = np.stack([tables.weekday_hour_cdf, tables.weekend_hour_cdf])
    hour = _pick(hour_cdf, is_weekend.take(day).astype(np.int64), rng.random(n))
    second = rng.integers(0, 3600, n)
    base = (np.datetime64(start, "D") - np.datetime64(0, "D")).astype(np.int64) * 86_400
    return base + day * 86_400 + hour * 3600 + second


def generate_chunk(
    rng: np.random.Generator,
    n: int,
    spec: Spec = DEFAULT_SPEC,
    *,
    start: date = DEFAULT_START_DATE,
    weeks: int = DEFAULT_WEEKS,
) -> pa.Table:
    """Draw ``n`` well-formed trips as a typed table.

    Columns: ``region`` and ``datasource`` (dictionary<int8, string>), ``origin_lon``,
    ``origin_lat``, ``destination_lon``, ``destination_lat`` (float64), ``datetime``
    (timestamp[s], naive local time as in the input files).
    """
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    tables = _tables(spec)
    region = np.searchsorted(tables.region_cdf, rng.random(n), side="right").clip(
        0, len(spec.regions) - 1
    )
    o_lon, o_lat = _points(rng, region, tables, spec.noise_fraction)
    d_lon, d_lat = _points(rng, region, tables, spec.noise_fraction)
    seconds = _timestamps(rng, n, spec, tables, start, weeks)
    datasource = _pick(tables.ds_cdf, region, rng.random(n))
    names = pa.array([r.name for r in spec.regions], pa.string())
    sources = pa.array(list(spec.datasources), pa.string())
    return pa.table(
        {
            "region": pa.DictionaryArray.from_arrays(pa.array(region.astype(np.int8)), names),
            "origin_lon": o_lon,
            "origin_lat": o_lat,
            "destination_lon": d_lon,
            "destination_lat": d_lat,
            "datetime": pa.array(seconds.astype("datetime64[s]")),
            "datasource": pa.DictionaryArray.from_arrays(
                pa.array(datasource.astype(np.int8)), sources
            ),
        }
    )


# ---------------------------------------------------------------------------------------------
# Formatting: rows are laid out in a fixed-width byte matrix whose unused cells are NUL; dropping
# the NULs (one boolean mask) leaves the CSV text. The matrix is filled one column plane at a
# time (shape (width, n), so every write is contiguous) from small lookup tables of ASCII
# digits; no per-row Python, no float-to-string calls.
# ---------------------------------------------------------------------------------------------

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


def _line_matrix(table: pa.Table) -> np.ndarray:
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

    # (width, writer) in line order; bytes are constants
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


def format_chunk(
    table: pa.Table,
    *,
    bad_rows: np.ndarray | None = None,
    bad_kinds: np.ndarray | None = None,
    bad_variants: np.ndarray | None = None,
) -> bytes:
    """Render a :func:`generate_chunk` table as CSV lines (no header), one ``\\n`` per row.

    ``bad_rows`` (row indices), ``bad_kinds`` (indices into :data:`BAD_ROW_KINDS`) and
    ``bad_variants`` (ints) replace those rows with malformed ones.
    """
    matrix = _line_matrix(table)
    if bad_rows is not None and len(bad_rows):
        if bad_kinds is None or bad_variants is None:
            raise ValueError("bad_kinds and bad_variants must come with bad_rows")
        lines = []
        for row, kind, variant in zip(bad_rows, bad_kinds, bad_variants, strict=True):
            good = matrix[row][matrix[row] != 0].tobytes().decode().rstrip("\n")
            bad = malform(good.split(","), BAD_ROW_KINDS[int(kind)], int(variant))
            lines.append((",".join(bad) + "\n").encode())
        longest = max(len(line) for line in lines)
        if longest > matrix.shape[1]:
            matrix = np.pad(matrix, ((0, 0), (0, longest - matrix.shape[1])))
        for row, line in zip(bad_rows, lines, strict=True):
            matrix[row] = 0
            matrix[row, : len(line)] = np.frombuffer(line, dtype=np.uint8)
    return matrix[matrix != 0].tobytes()


# ---------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------


def bad_row_count(rows: int, bad_fraction: float) -> int:
    """How many malformed rows ``rows`` rows at ``bad_fraction`` contain: ``floor(rows*f)``."""
    return math.floor(rows * bad_fraction + 1e-9)


def chunk_rng(seed: int, chunk_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, chunk_index]))


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
            bad = np.sort(rng.choice(n, size=n_bad, replace=False))
            kinds = rng.integers(0, len(BAD_ROW_KINDS), n_bad)
            variants = rng.integers(0, 1 << 16, n_bad)
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
