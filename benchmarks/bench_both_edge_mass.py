"""Why ``--match both`` cannot be exact and fast: the trips near a box's edges (not a test).

    .venv/bin/python benchmarks/bench_both_edge_mass.py \
        --database-url postgresql://postgres@127.0.0.1:5432/trips --queries 200 --slowest 5

Times ``marts.weekly_trip_counts_bbox_both`` on the random boxes of
``bench_weekly_average.py`` (same box generator and seed), then, for the p50, p80, p90 and p95
boxes and the ``--slowest`` ones, scans ``marts.fct_trips`` once per box and prints how many
trips with both ends in the box have an end in a cell that the box's edge cuts, at each cell
level. Those are the trips that per-cell aggregates cannot classify: an exact count must look
at each of them, or at an aggregate keyed by a fine cell of that end *and* the cell of the
other end, whose distinct keys are printed too (``pairs_l1``: level-1 cell of the end in the
1 km band, level-0 cell of the other end, week). A full scan per box: slow on purpose.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_weekly_average import random_box, regions_with_extent  # noqa: E402

from trips_warehouse import analytics  # noqa: E402

FINEST_SIZE = 0.0001  # the trip_cell macro: level-2 cells of trip_cell_size_deg / 100 degrees


def edge_cells(box: analytics.BBox) -> dict[str, int]:
    """The box's edge cells at levels 0..2, with the trip_cell macro's arithmetic."""
    cells = {}
    for name, value in (("x0", box.min_lon), ("x1", box.max_lon), ("y0", box.min_lat),
                        ("y1", box.max_lat)):
        finest = math.floor(value / FINEST_SIZE)
        for level in range(3):
            cells[f"{name}_l{level}"] = finest // 10 ** (2 - level)
    return cells


def _cut(end: str, level: int) -> str:
    suffix = "" if level == 0 else f"_l{level}"
    x, y = f"{end}_cell{suffix}_x", f"{end}_cell{suffix}_y"
    return (f"({x} in (%(x0_l{level})s, %(x1_l{level})s) "
            f"or {y} in (%(y0_l{level})s, %(y1_l{level})s))")


EDGE_MASS_SQL = f"""
with inside as (
    select *
    from marts.fct_trips
    where origin_lon between %(a1)s and %(a2)s and origin_lat between %(b1)s and %(b2)s
      and destination_lon between %(a1)s and %(a2)s
      and destination_lat between %(b1)s and %(b2)s
)
select
    count(*) as both_in,
    count(*) filter (where {_cut('origin', 0)} or {_cut('destination', 0)}) as edge_l0,
    count(*) filter (where {_cut('origin', 1)} or {_cut('destination', 1)}) as edge_l1,
    count(*) filter (where {_cut('origin', 2)} or {_cut('destination', 2)}) as edge_l2,
    count(distinct (origin_cell_l1_x, origin_cell_l1_y, destination_cell_x,
                    destination_cell_y, iso_week_start))
        filter (where {_cut('origin', 0)} and not {_cut('origin', 1)})
    + count(distinct (destination_cell_l1_x, destination_cell_l1_y, origin_cell_x,
                      origin_cell_y, iso_week_start))
        filter (where {_cut('destination', 0)} and not {_cut('destination', 1)})
        as pairs_l1
from inside
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--queries", type=int, default=200, help="random boxes to time")
    parser.add_argument("--slowest", type=int, default=3, help="also scan the N slowest boxes")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        regions = regions_with_extent(conn)
        (first, last) = conn.execute(
            "select min(iso_week_start), max(iso_week_start) from marts.agg_weekly_trips_by_region"
        ).fetchone()
        timed = []
        for _ in range(args.queries):
            box = random_box(rng, tuple(rng.choice(regions)[1:]))
            started = time.perf_counter()
            conn.execute(
                "select * from marts.weekly_trip_counts_bbox_both(%s, %s, %s, %s, %s, %s)",
                (box.min_lon, box.min_lat, box.max_lon, box.max_lat, first, last),
            ).fetchall()
            timed.append((time.perf_counter() - started, box))
        timed.sort(key=lambda item: item[0])
        picks = {f"p{int(q * 100)}": timed[round(q * (len(timed) - 1))] for q in (.5, .8, .9, .95)}
        for i, item in enumerate(reversed(timed[-args.slowest:]) if args.slowest else []):
            picks[f"slowest {i + 1}"] = item

        print(f"{'box':<11} {'both ms':>9} {'both_in':>11} {'edge_l0':>11} {'edge_l1':>10} "
              f"{'edge_l2':>9} {'pairs_l1':>10}  bbox")
        for label, (seconds, box) in picks.items():
            params = {"a1": box.min_lon, "a2": box.max_lon, "b1": box.min_lat,
                      "b2": box.max_lat, **edge_cells(box)}
            both_in, e0, e1, e2, pairs = conn.execute(EDGE_MASS_SQL, params).fetchone()
            print(f"{label:<11} {seconds * 1e3:>9.1f} {both_in:>11,} {e0:>11,} {e1:>10,} "
                  f"{e2:>9,} {pairs:>10,}  {box.min_lon!r},{box.min_lat!r},"
                  f"{box.max_lon!r},{box.max_lat!r}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
