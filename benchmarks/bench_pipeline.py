"""Rows/s of each pipeline stage on a generated file (a benchmark, not a test).

    .venv/bin/python benchmarks/bench_pipeline.py --rows 5000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/trips_bench

Generates the file (unless --csv is given), then runs the stages directly, without Prefect, so
each figure is the stage's own cost: landing (Spark, local[*]), COPY load, dbt build (full, then
an incremental run after a second small file). Prints one line per stage and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace
from pathlib import Path

import psycopg

from extract_load import ingest_file, ledger
from extract_load.generate import generate_file
from extract_load.landing import Lake
from extract_load.spark import build_spark_session
from flows.dbt_build import dbt_build
from trips_warehouse.config import load_settings


def timed(label: str, rows: int, fn):
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    rate = f"{rows / elapsed:>12,.0f} rows/s" if rows else ""
    print(f"{label:<28} {elapsed:>8.1f} s {rate}", flush=True)
    return result


def ingest_one(conn, spark, settings, path: Path) -> ingest_file.FileOutcome:
    source = ingest_file.check(conn, path, raw=settings.raw_schema, run_id="bench")
    if isinstance(source, ingest_file.FileOutcome):
        raise SystemExit(f"{path}: {source.status} {source.message}")
    with open(path, "rb") as fh:
        rows = sum(1 for _ in fh) - 1 if path.suffix != ".gz" else 0
    landing = timed(
        f"landing {path.name}", rows,
        lambda: ingest_file.land(conn, spark, source, raw=settings.raw_schema,
                                 lake=Lake.of(settings), run_id="bench"),
    )
    return timed(
        f"load {path.name}",
        landing.rows_read,
        lambda: ingest_file.load(conn, landing, raw=settings.raw_schema,
                                 batch_rows=settings.load_batch_rows, run_id="bench"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--csv", type=Path, help="use this file instead of generating one")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, default=Path(".trips/bench"))
    parser.add_argument("--skip-dbt", action="store_true")
    args = parser.parse_args()

    settings = replace(
        load_settings(), data_dir=args.data_dir.resolve(), database_url=args.database_url
    )
    csv = args.csv or args.data_dir / f"trips-{args.rows}.csv"
    if not args.csv and not csv.exists():
        timed("generate", args.rows, lambda: generate_file(csv, args.rows, seed=42))
    spark = timed(
        "spark session start",
        0,
        lambda: build_spark_session(
            settings.spark_master, driver_memory=settings.spark_driver_memory
        ),
    )

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        ledger.ensure_raw_schema(conn)
        outcome = ingest_one(conn, spark, settings, csv)
        if not args.skip_dbt:
            result = timed(
                "dbt build (full)",
                outcome.rows_loaded,
                lambda: dbt_build(settings, args.database_url),
            )
            print(f"  {result.summary()}")
            small = args.data_dir / "trips-incremental-10000.csv"
            if not small.exists():
                generate_file(small, 10_000, seed=7)
            extra = ingest_one(conn, spark, settings, small)
            result = timed(
                "dbt build (incremental)",
                extra.rows_loaded,
                lambda: dbt_build(settings, args.database_url),
            )
            print(f"  {result.summary()}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this (driver) process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
