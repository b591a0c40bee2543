"""The landing on local[2] vs a 2-worker Spark standalone cluster on this machine (a benchmark).

    .venv/bin/python benchmarks/bench_cluster.py --csv /tmp/trips-10m.csv \
        --work-dir /tmp/bench-cluster --out docs/scale/cluster.json

Starts the local cluster of `trips cluster up` (2 workers x 1 core, 1g for the executors),
then lands the same CSV alternately in local[2] and on the cluster (`--rounds` times each,
local first unless --cluster-first), each landing in a fresh Python process (a process holds
one SparkContext), its output deleted afterwards. Only the landing (Spark CSV -> parquet), no
database. The machine may be shared, so each round's cluster/local ratio is reported next to
the means. Prints the figures and writes them as JSON; the cluster is stopped whatever
happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def land_once(csv: Path, master: str, out_dir: Path, driver_memory: str) -> dict:
    """Child process: build the session, land the file, report the timings as JSON."""
    from extract_load.landing import land_file
    from extract_load.sources import describe
    from extract_load.spark import build_spark_session

    started = time.perf_counter()
    spark = build_spark_session(master, app_name="trips-bench-landing",
                                driver_memory=driver_memory)
    session_s = time.perf_counter() - started
    source = describe(csv)
    landing_started = time.perf_counter()
    result = land_file(spark, source, out_dir / "landing", out_dir / "quarantine")
    landing_s = time.perf_counter() - landing_started
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - (
        0 if master.startswith("local") else 1  # the driver is listed too on a cluster
    )
    spark.stop()
    return {"session_s": round(session_s, 2), "landing_s": round(landing_s, 2),
            "rows_read": result.rows_read, "rows_accepted": result.rows_accepted,
            "rows_rejected": result.rows_rejected, "executors": executors}


def run_child(csv: Path, master: str, out_dir: Path, driver_memory: str, log: Path) -> dict:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    started = time.perf_counter()
    with log.open("a") as err:
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--csv", str(csv), "--master", master,
             "--work-dir", str(out_dir), "--driver-memory", driver_memory],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True, check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"landing on {master} failed (exit {done.returncode}); see {log}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = round(time.perf_counter() - started, 2)
    shutil.rmtree(out_dir, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True,
                        help="cluster state, logs and the (deleted) landed output")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cluster-first", action="store_true",
                        help="run the cluster first in each round (to average out order effects)")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(land_once(args.csv.resolve(), args.master, args.work_dir,
                                   args.driver_memory)))
        return

    from extract_load.cluster import ClusterSpec, local_cluster

    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    spec = ClusterSpec(workers=2, cores_per_worker=1, memory_per_worker="1g")
    runs = []
    with local_cluster(work / "spark-cluster", spec) as cluster:
        masters = {"local": "local[2]", "cluster": cluster.master_url}
        for round_no in range(1, args.rounds + 1):
            for mode in ("cluster", "local") if args.cluster_first else ("local", "cluster"):
                figures = run_child(args.csv.resolve(), masters[mode], work / f"out-{mode}",
                                    args.driver_memory, log)
                run = {"round": round_no, "mode": mode, **figures,
                       "loadavg_1m_after": round(os.getloadavg()[0], 2)}
                runs.append(run)
                print(json.dumps(run), flush=True)

    def by_mode(mode: str, key: str) -> list[float]:
        return [r[key] for r in runs if r["mode"] == mode]

    rows = runs[0]["rows_read"]
    summary = {
        "benchmark": "landing only (Spark CSV -> partitioned parquet), bench_cluster.py",
        "csv": str(args.csv),
        "csv_bytes": args.csv.stat().st_size,
        "rows": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "shared": "other jobs may run: compare the per-round ratios"},
        "local": {"master": "local[2]", "driver_memory": args.driver_memory},
        "cluster": {"workers": spec.workers, "cores_per_worker": spec.cores_per_worker,
                    "memory_per_worker": spec.memory_per_worker,
                    "driver_memory": args.driver_memory},
        "order": "cluster, local" if args.cluster_first else "local, cluster",
        "runs": runs,
        "mean_landing_s": {m: round(mean(by_mode(m, "landing_s")), 2)
                           for m in ("local", "cluster")},
        "mean_session_s": {m: round(mean(by_mode(m, "session_s")), 2)
                           for m in ("local", "cluster")},
        "rows_per_s": {m: round(rows / mean(by_mode(m, "landing_s")))
                       for m in ("local", "cluster")},
        "ratio_cluster_over_local_per_round": [
            round(c / loc, 3)
            for loc, c in zip(by_mode("local", "landing_s"), by_mode("cluster", "landing_s"),
                              strict=True)
        ],
    }
    ratios = summary["ratio_cluster_over_local_per_round"]
    summary["ratio_cluster_over_local_mean"] = round(mean(ratios), 3)
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
