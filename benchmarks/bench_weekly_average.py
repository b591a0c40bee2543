"""Benchmark the weekly-average queries against a built warehouse (not a test).

    .venv/bin/python benchmarks/bench_weekly_average.py \
        --database-url postgresql://postgres@127.0.0.1:5432/trips --queries 500

Runs ``--queries`` random bounding boxes (random region, random size from a few hundred
metres to the region's whole extent, random ``--match``) and every region ``--region-rounds``
times, through the same service call ``trips weekly-average`` uses
(:func:`trips_warehouse.analytics.weekly_average`, i.e. the ``marts.weekly_trip_counts_*``
functions), and prints latency percentiles per kind. ``--verify N`` also recomputes N of the
boxes with a plain scan of ``marts.fct_trips`` and fails loudly on any difference (slow on a
big warehouse: it is the query the design avoids).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trips_warehouse import analytics  # noqa: E402
from trips_warehouse.config import load_settings  # noqa: E402
from trips_warehouse.db import resolve_database_url  # noqa: E402

BRUTE_FORCE_SQL = {
    "origin": "origin_lon between %(x0)s and %(x1)s and origin_lat between %(y0)s and %(y1)s",
    "destination": (
        "destination_lon between %(x0)s and %(x1)s and destination_lat between %(y0)s and %(y1)s"
    ),
}
BRUTE_FORCE_SQL["both"] = f"({BRUTE_FORCE_SQL['origin']}) and ({BRUTE_FORCE_SQL['destination']})"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def regions_with_extent(conn: psycopg.Connection) -> list[tuple[str, float, float, float, float]]:
    return conn.execute(
        "select region_name, min_lon, min_lat, max_lon, max_lat from marts.dim_regions "
        "where region_id <> '-1' and min_lon is not null order by region_name"
    ).fetchall()


def random_box(rng: random.Random, extent: tuple[float, float, float, float]) -> analytics.BBox:
    min_lon, min_lat, max_lon, max_lat = extent
    # width: log-uniform from ~0.003 degrees (a few hundred metres) to the whole extent
    full_w, full_h = max(max_lon - min_lon, 1e-3), max(max_lat - min_lat, 1e-3)
    frac = 10 ** rng.uniform(-2.5, 0)
    w, h = full_w * frac, full_h * frac * rng.uniform(0.5, 1.5)
    x0 = rng.uniform(min_lon, max(min_lon, max_lon - w))
    y0 = rng.uniform(min_lat, max(min_lat, max_lat - h))
    clamp_lat = lambda v: max(-90.0, min(90.0, v))  # noqa: E731
    clamp_lon = lambda v: max(-180.0, min(180.0, v))  # noqa: E731
    return analytics.BBox(clamp_lon(x0), clamp_lat(y0), clamp_lon(x0 + w), clamp_lat(y0 + h))


def brute_force_total(conn, box: analytics.BBox, match: str, first, last) -> int:
    (n,) = conn.execute(
        f"select count(*) from marts.fct_trips where ({BRUTE_FORCE_SQL[match]}) "
        "and iso_week_start between %(w0)s and %(w1)s",
        {"x0": box.min_lon, "x1": box.max_lon, "y0": box.min_lat, "y1": box.max_lat,
         "w0": first, "w1": last},
    ).fetchone()
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: TRIPS_DATABASE_URL / embedded server")
    parser.add_argument("--queries", type=int, default=200, help="random boxes to run")
    parser.add_argument("--region-rounds", type=int, default=5,
                        help="times each region is queried")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--match", choices=[*analytics.MATCH_CHOICES, "mixed"], default="mixed")
    parser.add_argument("--verify", type=int, default=0, metavar="N",
                        help="check N boxes against a full scan of fct_trips")
    args = parser.parse_args(argv)

    url = args.database_url or resolve_database_url(load_settings())
    rng = random.Random(args.seed)
    timings: dict[str, list[float]] = defaultdict(list)
    verify_cases = []

    with psycopg.connect(url, autocommit=True) as conn:
        (fact_rows,) = conn.execute(
            "select reltuples::bigint from pg_class where oid = 'marts.fct_trips'::regclass"
        ).fetchone()
        regions = regions_with_extent(conn)
        if not regions:
            print("no regions: is the warehouse built?", file=sys.stderr)
            return 1
        print(f"warehouse: ~{fact_rows:,} trips, {len(regions)} regions; "
              f"{args.queries} boxes, {args.region_rounds} rounds of every region")

        # warm-up: plan caches and the first buffer reads are not what we measure
        analytics.weekly_average(conn, region=regions[0][0])
        analytics.weekly_average(conn, bbox=random_box(rng, regions[0][1:]))

        for _ in range(args.queries):
            name, *extent = rng.choice(regions)
            box = random_box(rng, tuple(extent))
            match = rng.choice(analytics.MATCH_CHOICES) if args.match == "mixed" else args.match
            started = time.perf_counter()
            result = analytics.weekly_average(conn, bbox=box, match=match)
            timings[f"bbox/{match}"].append(time.perf_counter() - started)
            if len(verify_cases) < args.verify:
                verify_cases.append((box, match, result))

        for _ in range(args.region_rounds):
            for name, *_ in regions:
                started = time.perf_counter()
                analytics.weekly_average(conn, region=name)
                timings["region"].append(time.perf_counter() - started)

        print(f"\n{'kind':<18} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} "
              f"{'max ms':>9} {'mean ms':>9}")
        everything = []
        for kind in sorted(timings):
            values = timings[kind]
            everything += values
            print(f"{kind:<18} {len(values):>5} {percentile(values, .5) * 1e3:>9.2f} "
                  f"{percentile(values, .95) * 1e3:>9.2f} {percentile(values, .99) * 1e3:>9.2f} "
                  f"{max(values) * 1e3:>9.2f} {statistics.fmean(values) * 1e3:>9.2f}")
        print(f"{'all':<18} {len(everything):>5} {percentile(everything, .5) * 1e3:>9.2f} "
              f"{percentile(everything, .95) * 1e3:>9.2f} "
              f"{percentile(everything, .99) * 1e3:>9.2f} {max(everything) * 1e3:>9.2f} "
              f"{statistics.fmean(everything) * 1e3:>9.2f}")

        if verify_cases:
            print(f"\nverifying {len(verify_cases)} boxes against a full scan of fct_trips ...")
            for box, match, result in verify_cases:
                started = time.perf_counter()
                expected = brute_force_total(conn, box, match, result.first_week, result.last_week)
                scan_ms = (time.perf_counter() - started) * 1e3
                status = "ok" if expected == result.total_trips else "MISMATCH"
                print(f"  {status:<8} bbox {box} match {match}: {result.total_trips} "
                      f"(scan {expected}, {scan_ms:.0f} ms)")
                if expected != result.total_trips:
                    return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
