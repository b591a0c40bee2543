"""Drawing trips: a :class:`~extract_load.generate.spec.Spec` -> one chunk of typed values.

Every draw is vectorised over the whole chunk (numpy); chunk ``k`` of a file draws from its own
generator, :func:`chunk_rng` ``(seed, k)``, so chunks are independent of one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from extract_load.generate.spec import DEFAULT_SPEC, Spec

DEFAULT_START_DATE = date(2018, 5, 7)  # a Monday
DEFAULT_WEEKS = 4


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


def chunk_rng(seed: int, chunk_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, chunk_index]))
