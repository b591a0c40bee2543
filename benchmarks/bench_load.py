"""Benchmark the load stage against ``psql \\copy`` of the same rows (not a test).

    .venv/bin/python benchmarks/bench_load.py --rows 10000000 --rounds 3 \\
        --work-dir /tmp/bench-load --out docs/scale/load.json

Generates the CSV (``trips generate``, unless ``--csv``), lands it once with the real landing
(Spark; timed, not the point), then runs ``--rounds`` rounds, alternating so that a noisy
machine hurts both sides alike. Each round, in a fresh database:

* ``ours``: :func:`extract_load.loader.load_landed` of the landed parquet into ``raw.trips``
  (binary COPY, one transaction per batch, ids assigned);
* ``copy_text``: ``psql \\copy`` of the CSV into a logged table of five text columns, the
  limit the issue names (no parsing of any value);
* ``copy_typed``: ``psql \\copy`` of the same rows, already split into typed columns, from a
  CSV that pyarrow wrote of the landed parquet, into a logged table shaped like ``raw.trips``
  (the server parses every double and timestamp, the work binary COPY avoids; figures:
  docs/scalability.md#1m-10m-and-100m-side-by-side-with-the-limits).

Prints per-round seconds, the medians and ``limit / ours`` ratios to stdout (``--json``: only
JSON), and saves them to ``--out``. Deletes the databases and, unless ``--keep``, the work dir.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from extract_load import ledger, loader  # noqa: E402
from extract_load.landing import (  # noqa: E402
    LandingResult,
    count_rows,
    land_file,
    landed_paths,
)
from extract_load.sources import describe  # noqa: E402
from extract_load.spark import spark_session  # noqa: E402
from trips_warehouse.db import with_database  # noqa: E402

log = logging.getLogger("bench_load")
TYPED_COLUMNS = (
    "region text, origin_lon float8, origin_lat float8, destination_lon float8, "
    "destination_lat float8, trip_datetime timestamp, datasource text"
)


def psql_copy(url: str, table: str, csv_path: Path, header: bool) -> float:
    option = ", header" if header else ""
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
         f"\\copy {table} from '{csv_path}' with (format csv{option})"],
        check=True,
    )
    return time.perf_counter() - started


def one_round(admin_url: str, landing, csv_path: Path, typed_csv: Path) -> dict[str, float]:
    name = f"bench_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    url = with_database(admin_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ledger.ensure_raw_schema(conn, "raw")
            source = landing.source
            ledger.upsert_ingestion(conn, source.sha256, file_path=str(source.path),
                                    file_size_bytes=source.size_bytes, status="loading")
            conn.execute("create table copy_text (a text, b text, c text, d text, e text)")
            conn.execute(f"create table copy_typed ({TYPED_COLUMNS})")
            conn.execute("checkpoint")
            started = time.perf_counter()
            result = loader.load_landed(conn, landing)
            ours = time.perf_counter() - started
            assert result.rows_loaded == landing.rows_accepted
        return {
            "ours": ours,
            "copy_text": psql_copy(url, "copy_text", csv_path, header=True),
            "copy_typed": psql_copy(url, "copy_typed", typed_csv, header=False),
        }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--csv", type=Path, help="an existing trips CSV (else one is generated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench-load"))
    parser.add_argument("--out", type=Path, help="write the figures as JSON here too")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    args.work_dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.csv or args.work_dir / "trips.csv"
    if not csv_path.exists():
        log.info("generating %s rows into %s", f"{args.rows:,}", csv_path)
        subprocess.run(
            [sys.executable, "-m", "trips_cli", "generate", "--rows", str(args.rows),
             "--out", str(csv_path), "--seed", str(args.seed)],
            check=True, stdout=subprocess.DEVNULL,
        )
    source = describe(csv_path)
    landing_root, quarantine_root = args.work_dir / "landing", args.work_dir / "quarantine"
    landed_dir, quarantine_dir = landed_paths(landing_root, quarantine_root, source)
    landing_seconds = None
    if landed_dir.exists():  # a kept work dir: the landing is not what is measured here
        landing = LandingResult(source, landed_dir, quarantine_dir, count_rows(landed_dir),
                                count_rows(quarantine_dir))
    else:
        log.info("landing %s", csv_path)
        started = time.perf_counter()
        with spark_session() as spark:
            landing = land_file(spark, source, landing_root, quarantine_root)
        landing_seconds = time.perf_counter() - started
    typed_csv = args.work_dir / "typed.csv"
    if not typed_csv.exists():
        pacsv.write_csv(
            ds.dataset(landing.landed_dir, format="parquet").to_table(
                columns=list(loader.TRIPS_MAPPING)),
            typed_csv, pacsv.WriteOptions(include_header=False),
        )

    rounds = []
    for number in range(1, args.rounds + 1):
        figures = one_round(args.admin_url, landing, csv_path, typed_csv)
        log.info("round %s: %s", number, {k: round(v, 2) for k, v in figures.items()})
        rounds.append(figures)
    medians = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    report = {
        "rows": landing.rows_accepted,
        "batches": len(list(landing.landed_dir.rglob("*.parquet"))),
        "landing_seconds": landing_seconds,
        "rounds": rounds,
        "median_seconds": medians,
        "ratio_limit_over_ours": {
            k: medians[k] / medians["ours"] for k in ("copy_text", "copy_typed")
        },
        "rows_per_second_ours": landing.rows_accepted / medians["ours"],
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['rows']:,} rows in {report['batches']} batches, {args.rounds} rounds")
        for key, value in medians.items():
            print(f"  {key:<11} median {value:7.2f} s")
        for key, value in report["ratio_limit_over_ours"].items():
            print(f"  {key} / ours = {value:.2f}")
    if not args.keep:
        shutil.rmtree(args.work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
