"""Scale benchmark (issue 12): the real pipeline at 1M, 10M and 100M trips, with its limits.

For each size N it generates a mixed file of all regions (``trips generate --rows N --seed S``),
creates a fresh database ``trips_scale_<N>`` and runs what users run, ``trips ingest FILE --json``
(the Prefect flow: Spark landing -> COPY load -> dbt build), with ``TRIPS_DATABASE_URL`` pointed
at that database and ``TRIPS_DATA_DIR`` in the work dir. Stages, each recorded per size:

* ``generate``: wall time, rows/s, CSV bytes.
* ``ingest``: wall time and rows/s of landing, load and dbt build (the flow's own
  ``stage_seconds``), and the PEAK MEMORY OF THE WHOLE PROCESS TREE per stage: every 0.5 s a
  thread sums the RSS (and PSS) of ``trips ingest`` with all its descendants (the Spark JVM
  included) plus the PostgreSQL backends of the benchmark database and their parallel workers
  (psutil). The samples are cut into stages at the run's start (``raw.ingestion_runs``) plus
  the stage timings. RSS counts shared buffers once per backend, PSS shares them out; the RSS
  of all ``postgres`` processes and of the Prefect server are recorded apart.
* ``queries``: ``VACUUM (ANALYZE)`` of the database (timed), then p50/p95 latency over one
  connection of the weekly average by region, by random boxes (log-uniform sizes, the boxes of
  benchmarks/bench_weekly_average.py) matched on origin, destination and both, and of the
  largest similar-trip groups of a region and of all regions (``trips_warehouse.analytics``,
  what ``trips weekly-average`` / ``trips groups`` call; ``--queries`` rounds).
* ``explain``: ``EXPLAIN (ANALYZE, BUFFERS)`` of the weekly average of the densest region and
  of a 0.05 degree box at its centre (origin, both) and of its groups, nested statements
  included (auto_explain), into ``--out/explain-<N>.txt``.
* ``disk``: CSV, landed and quarantined parquet, ``pg_database_size`` and every relation of
  every non-system schema (total, heap, indexes; from the catalog), each with bytes per trip.
* ``limits``, on the same file: ``psql \\copy`` into an UNLOGGED and a LOGGED table of five
  text columns (the load's limit), pyarrow CSV -> typed parquet partitioned by trip date (the
  landing's limit: WKT parsed to 4 doubles, a timestamp), and a plain Spark CSV -> parquet
  (Spark's own limit, JVM start timed apart). Reported as limit time / our time.
* ``incremental`` (``--incremental``): a further file of 1 % of N and one of 10k rows (other
  seeds: new trips) ingested into the built warehouse, and each into an empty one.

Results go to ``--out``: ``scale.json``, ``scale.csv`` (one row per size and stage) and
``scale.png`` (log-log time and bytes vs trips; needs matplotlib: ``pip install -e '.[bench]'``,
without it the JSON and CSV are still written). Progress and logs go to stderr, the summary to
stdout (``--json``: only JSON). ``WORK_DIR/state.json`` records the finished stages of every
size: a re-run skips them, so an interrupted run resumes. A stage that needs the warehouse
redoes the ingest when its database is gone. Unless ``--keep``, a size's databases and files
are deleted once its stages are done (at 100M they fill tens of GB); after a failure they are
kept so that a re-run resumes (``rm -r WORK_DIR/<N>`` and ``dropdb trips_scale_<N>`` to give
up).
Subprocess output is in ``WORK_DIR/logs``. The flow runs report to a Prefect server of the
benchmark's own (``trips server start`` on a free port, SQLite under ``WORK_DIR/prefect-server``,
stopped at the end) unless ``PREFECT_API_URL`` is set; dbt's target and logs go under each
warehouse's data dir, so a run never touches ``dbt_project/target``.

    .venv/bin/python benchmarks/scale.py --sizes 1000000 --work-dir /work/scale
    .venv/bin/python benchmarks/scale.py --sizes 100000 --stages generate,ingest --keep
    mkdir -p /work/scale && nohup .venv/bin/python benchmarks/scale.py \\
        --sizes 1000000,10000000,100000000 --incremental --work-dir /work/scale \\
        >/work/scale/summary.txt 2>/work/scale/run.log &
    tail -f /work/scale/run.log          # progress; the summary lands in summary.txt

Disk at 100M: the CSV and the landed parquet in the work dir, the warehouse and, one at a time,
the limits' text tables on the PostgreSQL server (sizes: docs/performance.md#scale-benchmark-disk).
Before each size the script projects the need from the largest size measured so far and warns
when the free space does not cover it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_weekly_average as bwa  # noqa: E402

from extract_load.input_csv import CSV_COLUMNS, DATETIME_FORMAT  # noqa: E402
from trips_warehouse import analytics  # noqa: E402
from trips_warehouse.config import PROJECT_ROOT, load_settings  # noqa: E402
from trips_warehouse.db import with_database  # noqa: E402
from trips_warehouse.processes import free_port  # noqa: E402

log = logging.getLogger("scale")

STAGES = ("generate", "ingest", "queries", "explain", "disk", "limits", "incremental")
DEFAULT_STAGES = STAGES[:-1]
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SAMPLE_INTERVAL_S = 0.5
GROUPS_ALL_EVERY = 10
PARALLEL_WORKER = re.compile(r"parallel worker for PID (\d+)")
WKT_POINT = r"^\s*(?i:POINT)\s*\(\s*(?P<lon>[^\s()]+)\s+(?P<lat>[^\s()]+)\s*\)\s*$"
CSV_FIELDS = (
    "size",
    "kind",
    "stage",
    "seconds",
    "rows",
    "rows_per_s",
    "peak_rss_bytes",
    "peak_pss_bytes",
    "peak_pg_all_rss_bytes",
    "bytes",
    "heap_bytes",
    "index_bytes",
    "bytes_per_trip",
    "queries",
    "p50_ms",
    "p95_ms",
    "compared_to",
    "ratio",
    "note",
)
# limit -> (pipeline stage it bounds, how its time is taken from the limit's record)
LIMIT_OF = {
    "copy_unlogged": ("load", "seconds"),
    "copy_logged": ("load", "seconds"),
    "arrow_landing": ("landing", "seconds"),
    "spark_parquet": ("landing", "write_seconds"),
    "spark_parquet_with_jvm": ("landing", "seconds"),
}


class StageFailed(RuntimeError):
    """A stage could not produce its figures (the message says why)."""


# --------------------------------------------------------------------------- small pure helpers


def parse_sizes(text: str) -> list[int]:
    """``1000000,10M,100m,300k`` -> [1000000, 10000000, 100000000, 300000]."""
    factors = {"k": 10**3, "m": 10**6, "g": 10**9}
    sizes = []
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        factor = factors.get(part[-1], 1)
        number = part[:-1] if part[-1] in factors else part
        try:
            value = int(float(number) * factor)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a size: {part!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"size must be positive: {part!r}")
        sizes.append(value)
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return sizes


def parse_stages(text: str) -> tuple[str, ...]:
    wanted = {s.strip() for s in text.split(",") if s.strip()}
    unknown = wanted - set(STAGES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; choose from {', '.join(STAGES)}"
        )
    return tuple(s for s in STAGES if s in wanted)


def database_name(size: int, suffix: str = "") -> str:
    return f"trips_scale_{size}{suffix}"


def per_second(rows: int | None, seconds: float | None) -> float | None:
    return rows / seconds if rows and seconds else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def latency_summary(seconds: list[float]) -> dict:
    ms = [s * 1e3 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": bwa.percentile(ms, 0.50),
        "p95_ms": bwa.percentile(ms, 0.95),
        "p99_ms": bwa.percentile(ms, 0.99),
        "max_ms": max(ms) if ms else None,
        "mean_ms": sum(ms) / len(ms) if ms else None,
    }


def stage_windows(started_at: float, stage_seconds: dict[str, float]) -> dict[str, tuple]:
    """Consecutive [start, end] epoch windows of the flow's stages (in the flow's order)."""
    windows, t = {}, started_at
    for name, seconds in stage_seconds.items():
        windows[name] = (t, t + seconds)
        t += seconds
    return windows


def json_from_output(text: str) -> dict:
    """The last JSON object a command printed on stdout, starting at the beginning of a line
    (log lines before it, even with braces in them, are ignored)."""
    lines = text.splitlines(keepends=True)
    offsets = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    for offset, line in reversed(list(zip(offsets, lines, strict=True))):
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                return json.JSONDecoder().raw_decode(text[offset:])[0]
    raise ValueError("no JSON object in the output")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def tree_bytes(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- memory sampling


@dataclass(frozen=True)
class Sample:
    t: float  # epoch seconds
    tree_rss: int  # the command and all its descendants (Spark JVM included)
    tree_pss: int
    pg_rss: int  # backends of the benchmark database(s) and their parallel workers
    pg_pss: int
    pg_all_rss: int  # every postgres process of the machine (the other users' included)
    server_rss: int  # the Prefect server tree the flow reports to


def benchmark_backends(titles: dict[int, str], databases: Iterable[str]) -> set[int]:
    """Pids of the backends whose process title names one of ``databases`` (``postgres: user db
    host(port) state``, ``autovacuum worker db``) and of their parallel workers."""
    names = set(databases)
    direct = {pid for pid, title in titles.items() if names & set(title.split())}
    workers = {
        pid
        for pid, title in titles.items()
        if (m := PARALLEL_WORKER.search(title)) and int(m.group(1)) in direct
    }
    return direct | workers


def process_tree(pid: int | None) -> list[psutil.Process]:
    if not pid:
        return []
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def memory_of(processes: Iterable[psutil.Process], pss: bool = True) -> tuple[int, int]:
    """(RSS, PSS) summed over ``processes``; PSS from /proc/PID/smaps_rollup (RSS if unreadable)."""
    rss_total = pss_total = 0
    for proc in processes:
        try:
            info = proc.memory_full_info() if pss else proc.memory_info()
        except psutil.Error:
            continue
        rss_total += info.rss
        pss_total += getattr(info, "pss", info.rss)
    return rss_total, pss_total


def postgres_processes() -> dict[int, tuple[psutil.Process, str]]:
    found = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres":
            found[proc.pid] = (proc, " ".join(proc.info["cmdline"] or []))
    return found


def take_sample(root_pid: int, databases: tuple[str, ...], server_pid: int | None) -> Sample:
    tree = process_tree(root_pid)
    pgs = postgres_processes()
    bench = benchmark_backends({pid: title for pid, (_, title) in pgs.items()}, databases)
    tree_rss, tree_pss = memory_of(tree)
    pg_rss, pg_pss = memory_of(pgs[pid][0] for pid in bench)
    pg_all_rss, _ = memory_of((proc for proc, _ in pgs.values()), pss=False)
    server_rss, _ = memory_of(process_tree(server_pid), pss=False)
    return Sample(time.time(), tree_rss, tree_pss, pg_rss, pg_pss, pg_all_rss, server_rss)


class Sampler:
    """Samples the memory of a process tree + the benchmark's backends in a background thread."""

    def __init__(self, root_pid: int, databases: tuple[str, ...], server_pid: int | None = None):
        self.root_pid, self.databases, self.server_pid = root_pid, databases, server_pid
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.samples.append(take_sample(self.root_pid, self.databases, self.server_pid))
            if self._stop.wait(SAMPLE_INTERVAL_S):
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def peaks(samples: list[Sample], start: float | None = None, end: float | None = None) -> dict:
    """Peak memory over the samples taken in [start, end] (peaks of sums at one instant).

    A stage shorter than the sampling interval may hold no sample: its peaks are then absent
    (``memory_samples`` 0) rather than borrowed from a neighbouring stage."""
    window = [s for s in samples if (start is None or s.t >= start) and (end is None or s.t <= end)]
    if not window:
        return {"memory_samples": 0}
    return {
        "peak_rss_bytes": max(s.tree_rss + s.pg_rss for s in window),
        "peak_pss_bytes": max(s.tree_pss + s.pg_pss for s in window),
        "peak_process_tree_rss_bytes": max(s.tree_rss for s in window),
        "peak_pg_backends_rss_bytes": max(s.pg_rss for s in window),
        "peak_pg_all_rss_bytes": max(s.pg_all_rss for s in window),
        "peak_prefect_server_rss_bytes": max(s.server_rss for s in window),
        "memory_samples": len(window),
    }


# --------------------------------------------------------------------------- subprocesses


@dataclass
class Measured:
    returncode: int
    seconds: float
    started: float
    ended: float
    stdout: str
    log_path: Path
    samples: list[Sample] = field(default_factory=list)


def run_measured(
    cmd: list[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    databases: tuple[str, ...] = (),
    server_pid: int | None = None,
) -> Measured:
    """Run ``cmd`` (stdout kept, stderr to ``log_path``) while sampling its memory."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_path = log_path.with_suffix(".out")
    log.info("  $ %s  (log: %s)", " ".join(cmd), log_path)
    with log_path.open("wb") as err, out_path.open("w+b") as out:
        started, t0 = time.time(), time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=PROJECT_ROOT
        )
        try:
            with Sampler(proc.pid, databases, server_pid) as sampler:
                returncode = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: do not leave the child behind
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        seconds = time.perf_counter() - t0
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    return Measured(
        returncode, seconds, started, started + seconds, stdout, log_path, sampler.samples
    )


def check(result: Measured, what: str) -> None:
    if result.returncode != 0:
        raise StageFailed(
            f"{what} exited with {result.returncode}; see {result.log_path}:\n"
            f"{tail(result.log_path)}"
        )


def measured_in_process(databases: tuple[str, ...], fn: Callable[[], object]) -> tuple:
    """(result, seconds, peaks) of ``fn()`` run here, sampling this process and the backends."""
    with Sampler(os.getpid(), databases) as sampler:
        t0 = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - t0
    return result, seconds, peaks(sampler.samples)


def trips_command() -> str:
    beside = Path(sys.executable).with_name("trips")
    return str(beside) if beside.exists() else (shutil.which("trips") or "trips")


# --------------------------------------------------------------------------- databases


def admin_connect(admin_url: str) -> psycopg.Connection:
    return psycopg.connect(admin_url, autocommit=True)


def database_exists(admin_url: str, name: str) -> bool:
    with admin_connect(admin_url) as conn:
        return (
            conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            is not None
        )


def drop_database(admin_url: str, name: str) -> None:
    with admin_connect(admin_url) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def fresh_database(admin_url: str, name: str) -> str:
    drop_database(admin_url, name)
    with admin_connect(admin_url) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


RELATIONS_SQL = """
select n.nspname, c.relname, c.relkind::text, pg_total_relation_size(c.oid),
       pg_relation_size(c.oid), pg_indexes_size(c.oid), greatest(c.reltuples, 0)::bigint
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'm', 'p')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname !~ '^pg_(toast|temp)'
order by 4 desc, 1, 2
"""


def relation_sizes(conn: psycopg.Connection, trips: int) -> list[dict]:
    """Every table / materialized view of every non-system schema, from the catalog."""
    return [
        {
            "schema": schema,
            "relation": name,
            "kind": kind,
            "total_bytes": total,
            "heap_bytes": heap,
            "index_bytes": indexes,
            "other_bytes": total - heap - indexes,  # TOAST, free space and visibility maps
            "estimated_rows": rows,
            "bytes_per_trip": total / trips if trips else None,
        }
        for schema, name, kind, total, heap, indexes, rows in conn.execute(RELATIONS_SQL)
    ]


def schema_totals(relations: list[dict], trips: int) -> dict[str, dict]:
    totals: dict[str, dict] = {}
    for rel in relations:
        entry = totals.setdefault(rel["schema"], {"total_bytes": 0, "index_bytes": 0})
        entry["total_bytes"] += rel["total_bytes"]
        entry["index_bytes"] += rel["index_bytes"]
    for entry in totals.values():
        entry["bytes_per_trip"] = entry["total_bytes"] / trips if trips else None
    return totals


# --------------------------------------------------------------------------- the limits (jobs)


def bounded_map(fn: Callable, items: Iterable, workers: int) -> Iterator:
    """``map`` on a thread pool that keeps at most ``2 * workers`` items in flight, in order."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def arrow_landing(csv_path: Path, out_dir: Path, max_rows_per_file: int) -> dict:
    """The landing's limit: pyarrow CSV -> typed parquet partitioned by trip date (hive layout,
    like ``landing/trips/source_hash=…/trip_date=…``), without validation or quarantine."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("region", pa.string()),
            ("origin_lon", pa.float64()),
            ("origin_lat", pa.float64()),
            ("destination_lon", pa.float64()),
            ("destination_lat", pa.float64()),
            ("trip_datetime", pa.timestamp("us")),
            ("datasource", pa.string()),
            ("trip_date", pa.date32()),
        ]
    )

    def point(column) -> list:
        parts = pc.extract_regex(column, WKT_POINT)
        return [pc.cast(pc.struct_field(parts, k), pa.float64()) for k in ("lon", "lat")]

    def typed(batch):
        when = pc.strptime(batch["datetime"], format=DATETIME_FORMAT, unit="us")
        return pa.RecordBatch.from_arrays(
            [
                batch["region"],
                *point(batch["origin_coord"]),
                *point(batch["destination_coord"]),
                when,
                batch["datasource"],
                pc.cast(when, pa.date32()),
            ],
            schema=schema,
        )

    started = time.perf_counter()
    reader = pacsv.open_csv(
        csv_path,
        read_options=pacsv.ReadOptions(block_size=16 << 20),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(CSV_COLUMNS, pa.string())),
    )
    batches = bounded_map(typed, reader, os.cpu_count() or 2)
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, batches),
        out_dir,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("trip_date", pa.date32())]), flavor="hive"),
        max_rows_per_file=max_rows_per_file,
        max_rows_per_group=min(max_rows_per_file, 1 << 20),
        existing_data_behavior="delete_matching",
        file_options=ds.ParquetFileFormat().make_write_options(compression="snappy"),
    )
    seconds = time.perf_counter() - started
    files = sorted(out_dir.rglob("*.parquet"))
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    return {"seconds": seconds, "rows": rows, "bytes": tree_bytes(out_dir), "files": len(files)}


def spark_parquet(csv_path: Path, out_dir: Path) -> dict:
    """Spark's own limit: the project's session, five string columns CSV -> parquet as is."""
    import pyarrow.parquet as pq
    from pyspark.sql.types import StringType, StructField, StructType

    from extract_load.spark import build_spark_session, stop_spark

    settings = load_settings()
    t0 = time.perf_counter()
    spark = build_spark_session(
        settings.spark_master,
        driver_memory=settings.spark_driver_memory,
        java_wrapper_dir=out_dir.parent / "java",
    )
    jvm_seconds = time.perf_counter() - t0
    schema = StructType([StructField(c, StringType(), True) for c in CSV_COLUMNS])
    t1 = time.perf_counter()
    spark.read.csv(str(csv_path), schema=schema, header=True).write.mode("overwrite").parquet(
        str(out_dir)
    )
    write_seconds = time.perf_counter() - t1
    stop_spark(spark)
    files = sorted(out_dir.rglob("*.parquet"))
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    return {
        "jvm_start_seconds": jvm_seconds,
        "write_seconds": write_seconds,
        "rows": rows,
        "bytes": tree_bytes(out_dir),
        "files": len(files),
    }


def run_limit_job(kind: str, csv_path: Path, out_dir: Path) -> dict:
    if kind == "arrow":
        return arrow_landing(csv_path, out_dir, load_settings().max_records_per_parquet_file)
    return spark_parquet(csv_path, out_dir)


# --------------------------------------------------------------------------- state


def load_state(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"version": 1, "created_at": now_iso(), "sizes": {}}


def save_state(path: Path, state: dict) -> None:
    state["updated_at"] = now_iso()
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(state, indent=2, default=str))
    os.replace(scratch, path)


def stage_done(record: dict, stage: str) -> bool:
    return record["stages"].get(stage, {}).get("status") == "done"


@dataclass(frozen=True)
class SizePaths:
    root: Path
    size: int

    @property
    def csv(self) -> Path:
        return self.root / f"trips-{self.size}.csv"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def limits(self) -> Path:
        return self.root / "limits"

    @property
    def incremental(self) -> Path:
        return self.root / "incremental"


# --------------------------------------------------------------------------- the run


@dataclass
class Run:
    args: argparse.Namespace
    state: dict
    failed: set[tuple[int, str]] = field(default_factory=set)  # (size, stage) of this run
    prefect_api_url: str | None = None
    prefect_server_pid: int | None = None
    failures: int = 0

    @property
    def work_dir(self) -> Path:
        return self.args.work_dir

    @property
    def state_path(self) -> Path:
        return self.work_dir / "state.json"

    @property
    def prefect_home(self) -> Path:
        return self.work_dir / "prefect-server"

    def save(self) -> None:
        save_state(self.state_path, self.state)

    def paths(self, size: int) -> SizePaths:
        return SizePaths(self.work_dir / str(size), size)

    def log_path(self, size: int, name: str) -> Path:
        return self.work_dir / "logs" / f"{size}-{name}-{datetime.now():%Y%m%dT%H%M%S}.log"

    def url(self, name: str) -> str:
        return with_database(self.args.admin_url, name)

    def record(self, size: int) -> dict:
        key = str(size)
        record = self.state["sizes"].get(key)
        if record and record.get("seed") != self.args.seed:
            log.warning(
                "[%s] state was measured with seed %s, not %s: starting the size over",
                f"{size:,}",
                record.get("seed"),
                self.args.seed,
            )
            record = None
        if record is None:
            record = {
                "rows": size,
                "seed": self.args.seed,
                "database": database_name(size),
                "stages": {},
            }
            self.state["sizes"][key] = record
        return record

    # ---- Prefect server: one for the whole run, on a free port, stopped at the end
    def prefect_env(self) -> dict[str, str]:
        return {**os.environ, "TRIPS_DATA_DIR": str(self.prefect_home)}

    def ensure_prefect(self) -> str | None:
        if self.prefect_api_url or os.environ.get("PREFECT_API_URL"):
            return self.prefect_api_url or os.environ["PREFECT_API_URL"]
        port = free_port()
        log.info("starting a Prefect server for the benchmark on port %s", port)
        done = subprocess.run(
            [trips_command(), "server", "start", "--port", str(port)],
            env=self.prefect_env(),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        # "Prefect server running: API <url>, ..." or, left over from a killed run of this
        # work dir, "already running: <url> (UI ...)"
        found = re.search(r"https?://\S+/api\b", done.stdout)
        if done.returncode != 0 or not found:
            raise StageFailed(f"trips server start failed: {done.stdout}{done.stderr}")
        self.prefect_api_url = found.group(0)
        with contextlib.suppress(OSError, ValueError):
            pid_file = self.prefect_home / "prefect" / "server.pid"
            self.prefect_server_pid = int(pid_file.read_text().strip())
        return self.prefect_api_url

    def stop_prefect(self) -> None:
        if self.prefect_api_url is None:
            return
        subprocess.run(
            [trips_command(), "server", "stop"],
            env=self.prefect_env(),
            cwd=PROJECT_ROOT,
            capture_output=True,
            check=False,
        )
        self.prefect_api_url = self.prefect_server_pid = None

    def pipeline_env(self, database: str, data_dir: Path) -> dict[str, str]:
        """What ``trips`` needs to use this warehouse; dbt's target/logs kept in the work dir."""
        env = {
            **os.environ,
            "TRIPS_DATABASE_URL": self.url(database),
            "TRIPS_DATA_DIR": str(data_dir),
            "DBT_TARGET_PATH": str(data_dir / "dbt-target"),
            "DBT_LOG_PATH": str(data_dir / "dbt-logs"),
        }
        api_url = self.ensure_prefect()
        if api_url:
            env["PREFECT_API_URL"] = api_url
        return env


# --------------------------------------------------------------------------- stage bodies


def generate_file(run: Run, log_size: int, rows: int, out: Path, seed: int, log_name: str) -> dict:
    """``trips generate`` into ``out`` (written under another name, then renamed: a file that
    exists is complete)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".partial-{out.name}")
    result = run_measured(
        [trips_command(), "generate", "--rows", str(rows), "--out", str(partial)]
        + ["--seed", str(seed)],
        run.log_path(log_size, log_name),
    )
    check(result, "trips generate")
    os.replace(partial, out)
    return {
        "seconds": result.seconds,
        "rows": rows,
        "rows_per_s": rows / result.seconds,
        "csv_bytes": out.stat().st_size,
        **peaks(result.samples),
    }


def stage_generate(run: Run, size: int, record: dict) -> dict:
    return generate_file(run, size, size, run.paths(size).csv, run.args.seed, "generate")


def ledger_rows(url: str, run_id: str | None) -> dict:
    """The ledger's own rows for a run (kept when a run fails: what got done, and when)."""
    found: dict = {}
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        for table in ("ingestion_runs", "ingestions"):
            with contextlib.suppress(psycopg.Error):
                cur = conn.execute(f"select * from raw.{table}")
                names = [c.name for c in cur.description]
                found[table] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    if run_id and found.get("ingestion_runs"):
        found["ingestion_runs"] = [r for r in found["ingestion_runs"] if r["run_id"] == run_id]
    return found


def run_started_at(url: str, run_id: str, fallback: float) -> tuple[float, str]:
    """Epoch start of the flow run per ``raw.ingestion_runs`` (same clock: local server)."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "select extract(epoch from started_at)::float8 from raw.ingestion_runs "
                "where run_id = %s",
                (run_id,),
            ).fetchone()
    except psycopg.Error:
        row = None
    if row and row[0]:
        return row[0], "raw.ingestion_runs.started_at"
    return fallback, "process end minus the flow's duration"


def ingest_file(
    run: Run, size: int, csv_path: Path, database: str, data_dir: Path, log_name: str
) -> dict:
    """``trips ingest FILE --json`` on ``database``: per-stage time, rows/s and peak memory."""
    env = run.pipeline_env(database, data_dir)
    result = run_measured(
        [trips_command(), "ingest", str(csv_path), "--json"],
        run.log_path(size, log_name),
        env=env,
        databases=(database,),
        server_pid=run.prefect_server_pid,
    )
    if result.returncode != 0:
        raise StageFailed(
            f"trips ingest exited with {result.returncode}; see {result.log_path}:\n"
            f"{tail(result.log_path)}\nledger: "
            + json.dumps(ledger_rows(run.url(database), None), default=str)[:4000]
        )
    summary = json_from_output(result.stdout)
    stage_seconds = summary.get("stage_seconds", {})
    started, timeline = run_started_at(
        run.url(database), summary["run_id"], result.ended - summary.get("duration_s", 0.0)
    )
    rows = {
        "landing": summary["rows_read"],
        "load": summary["rows_loaded"],
        "dbt_build": summary["rows_loaded"],
    }
    stages = {
        name: {
            "seconds": seconds,
            "rows": rows.get(name),
            "rows_per_s": per_second(rows.get(name), seconds),
            **peaks(result.samples, *w),
        }
        for (name, seconds), w in zip(
            stage_seconds.items(), stage_windows(started, stage_seconds).values(), strict=True
        )
    }
    return {
        "file": str(csv_path),
        "file_rows": summary["rows_read"],
        "process_seconds": result.seconds,
        "flow_seconds": summary.get("duration_s"),
        "stages": stages,
        "timeline": timeline,
        **peaks(result.samples),
        "summary": {k: v for k, v in summary.items() if k not in {"stage_seconds"}},
    }


def ensure_csv(run: Run, size: int, record: dict) -> Path:
    csv_path = run.paths(size).csv
    generated = record["stages"].get("generate", {})
    usable = (
        stage_done(record, "generate")
        and csv_path.exists()
        and csv_path.stat().st_size == generated.get("csv_bytes")
    )
    if usable:
        return csv_path
    if (size, "generate") in run.failed or not run_stage(run, size, record, "generate"):
        raise StageFailed("no CSV: generate failed")
    return csv_path


def warehouse_exists(run: Run, size: int, record: dict) -> bool:
    return (
        stage_done(record, "ingest")
        and run.paths(size).data_dir.exists()
        and database_exists(run.args.admin_url, record["database"])
    )


def ensure_warehouse(run: Run, size: int, record: dict) -> None:
    if warehouse_exists(run, size, record):
        return
    if (size, "ingest") in run.failed:
        raise StageFailed("no warehouse: the ingest failed in this run")
    if stage_done(record, "ingest"):
        log.info(
            "[%s] the warehouse is gone: redoing the ingest (its figures are replaced)", f"{size:,}"
        )
    if not run_stage(run, size, record, "ingest"):
        raise StageFailed("no warehouse: the ingest failed")


def stage_ingest(run: Run, size: int, record: dict) -> dict:
    """A fresh database and data dir, then ``trips ingest`` of the size's file."""
    paths = run.paths(size)
    csv_path = ensure_csv(run, size, record)
    shutil.rmtree(paths.data_dir, ignore_errors=True)
    fresh_database(run.args.admin_url, record["database"])
    record.pop("incremental_partial", None)  # its runs were on top of the old warehouse
    return ingest_file(run, size, csv_path, record["database"], paths.data_dir, "ingest")


def measure_queries(conn: psycopg.Connection, rng: random.Random, count: int) -> dict:
    """Latencies of ``count`` rounds, kinds interleaved: a region, a random box per match kind,
    the largest groups of a region, and every GROUPS_ALL_EVERY rounds the largest groups of
    all regions (``trips groups`` with its defaults: it orders every group, so it is sampled
    less often)."""
    regions = bwa.regions_with_extent(conn)
    if not regions:
        raise StageFailed("no regions in marts.dim_regions: is the warehouse built?")
    names = [r[0] for r in regions]
    # warm-up: plan caches and first buffer reads are not what is measured
    analytics.weekly_average(conn, region=names[0])
    analytics.trip_groups(conn)
    for match in analytics.MATCH_CHOICES:
        analytics.weekly_average(conn, bbox=bwa.random_box(rng, regions[0][1:]), match=match)
    timings: dict[str, list[float]] = defaultdict(list)

    def timed(kind: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        fn()
        timings[kind].append(time.perf_counter() - t0)

    for i in range(count):
        name = names[i % len(names)]
        timed("region", lambda name=name: analytics.weekly_average(conn, region=name))
        for match in analytics.MATCH_CHOICES:
            _, *extent = rng.choice(regions)
            box = bwa.random_box(rng, tuple(extent))
            timed(
                f"bbox_{match}",
                lambda box=box, match=match: analytics.weekly_average(conn, bbox=box, match=match),
            )
        region = rng.choice(names)
        timed("groups_region", lambda region=region: analytics.trip_groups(conn, region=region))
        if i % GROUPS_ALL_EVERY == 0:  # `trips groups` without --region reads every group
            timed("groups_all", lambda: analytics.trip_groups(conn))
    return {kind: latency_summary(values) for kind, values in timings.items()}


def stage_queries(run: Run, size: int, record: dict) -> dict:
    ensure_warehouse(run, size, record)
    database = record["database"]
    with psycopg.connect(run.url(database), autocommit=True) as conn:
        _, vacuum_s, vacuum_peaks = measured_in_process(
            (database,), lambda: conn.execute("vacuum (analyze)")
        )
        log.info(
            "[%s] vacuum (analyze) %.1f s; %d rounds of queries",
            f"{size:,}",
            vacuum_s,
            run.args.queries,
        )
        latency = measure_queries(conn, random.Random(run.args.seed), run.args.queries)
    return {"vacuum_analyze": {"seconds": vacuum_s, **vacuum_peaks}, "latency": latency}


def explain_queries(conn: psycopg.Connection) -> list[tuple[str, Callable[[], object]]]:
    """The queries whose plans docs/scalability.md shows: the weekly average of the densest
    region, of a 0.05 x 0.05 degree box at its centre (origin and both), and its groups."""
    (region,) = conn.execute(
        "select dim_regions.region_name from marts.agg_weekly_trips_by_region as weekly"
        " join marts.dim_regions using (region_id)"
        " group by dim_regions.region_name order by sum(weekly.trip_count) desc limit 1"
    ).fetchone()
    extent = next(r[1:] for r in bwa.regions_with_extent(conn) if r[0] == region)
    lon, lat = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
    box = analytics.BBox(lon - 0.025, lat - 0.025, lon + 0.025, lat + 0.025)
    return [
        (f"weekly average, region {region}", lambda: analytics.weekly_average(conn, region=region)),
        (
            f"weekly average, bbox {box} --match origin",
            lambda: analytics.weekly_average(conn, bbox=box, match="origin"),
        ),
        (
            f"weekly average, bbox {box} --match both",
            lambda: analytics.weekly_average(conn, bbox=box, match="both"),
        ),
        (
            f"trips groups --region {region} --limit 10",
            lambda: analytics.trip_groups(conn, region=region, limit=10),
        ),
    ]


def stage_explain(run: Run, size: int, record: dict) -> dict:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the queries users run, nested statements included:
    the analytics call SQL functions, whose inner plans only auto_explain shows. Each query
    runs once to warm the caches, then once explained; the plans go to
    ``--out/explain-<size>.txt``."""
    ensure_warehouse(run, size, record)
    out = run.args.out / f"explain-{size}.txt"
    with psycopg.connect(run.url(record["database"]), autocommit=True) as conn:
        plans: list[str] = []
        conn.add_notice_handler(lambda diag: plans.append(diag.message_primary or ""))
        sections = []
        # loaded and configured once; it logs (and instruments) only while log_min_duration
        # is 0 below, so each warm-up run goes unexplained
        conn.execute("load 'auto_explain'")
        for setting in ("log_analyze", "log_buffers", "log_nested_statements"):
            conn.execute(f"set auto_explain.{setting} = on")
        for title, query in explain_queries(conn):
            query()
            conn.execute("set auto_explain.log_min_duration = 0")
            conn.execute("set client_min_messages = log")
            plans.clear()
            t0 = time.perf_counter()
            query()
            seconds = time.perf_counter() - t0
            conn.execute("reset client_min_messages")
            conn.execute("set auto_explain.log_min_duration = -1")
            sections.append(f"=== {title} ({seconds * 1000:.1f} ms)\n" + "\n".join(plans))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n\n".join(sections) + "\n")
    log.info("[%s] plans in %s", f"{size:,}", out)
    return {"file": str(out)}


def stage_disk(run: Run, size: int, record: dict) -> dict:
    ensure_warehouse(run, size, record)
    paths = run.paths(size)
    trips = record["stages"]["ingest"]["summary"].get("rows_loaded") or size
    csv_bytes = record["stages"].get("generate", {}).get("csv_bytes")
    files = {
        "csv": csv_bytes if csv_bytes is not None else tree_bytes(paths.csv),
        "landing_parquet": tree_bytes(paths.data_dir / "landing"),
        "quarantine_parquet": tree_bytes(paths.data_dir / "quarantine"),
    }
    with psycopg.connect(run.url(record["database"]), autocommit=True) as conn:
        (database_bytes,) = conn.execute("select pg_database_size(current_database())").fetchone()
        relations = relation_sizes(conn, trips)
    return {
        "trips": trips,
        "files": {k: {"bytes": v, "bytes_per_trip": v / trips} for k, v in files.items()},
        "database": {"bytes": database_bytes, "bytes_per_trip": database_bytes / trips},
        "schemas": schema_totals(relations, trips),
        "relations": relations,
    }


def copy_limit(run: Run, size: int, csv_path: Path, database: str, unlogged: bool) -> dict:
    """``psql \\copy`` of the CSV into a table of five text columns."""
    psql = shutil.which("psql")
    if psql is None:
        return {"skipped": "psql not found on PATH"}
    table = f"scale_limit.trips_text_{'unlogged' if unlogged else 'logged'}"
    columns = ", ".join(f"{c} text" for c in CSV_COLUMNS)
    with psycopg.connect(run.url(database), autocommit=True) as conn:
        conn.execute("create schema if not exists scale_limit")
        conn.execute(f"drop table if exists {table}")
        conn.execute(f"create {'unlogged ' if unlogged else ''}table {table} ({columns})")
    quoted = str(csv_path).replace("'", "''")
    result = run_measured(
        [
            psql,
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            run.url(database),
            "-c",
            f"\\copy {table} from '{quoted}' with (format csv, header true)",
        ],
        run.log_path(size, f"limit-copy-{'unlogged' if unlogged else 'logged'}"),
        databases=(database,),
    )
    check(result, "psql \\copy")
    copied = re.search(r"COPY (\d+)", result.stdout)
    rows = int(copied.group(1)) if copied else None
    with psycopg.connect(run.url(database), autocommit=True) as conn:
        (table_bytes,) = conn.execute("select pg_total_relation_size(%s)", (table,)).fetchone()
        conn.execute(f"drop table {table}")
    return {
        "seconds": result.seconds,
        "rows": rows,
        "rows_per_s": per_second(rows, result.seconds),
        "table_bytes": table_bytes,
        "bytes_per_trip": table_bytes / rows if rows else None,
        **peaks(result.samples),
    }


def job_limit(run: Run, size: int, csv_path: Path, kind: str) -> dict:
    """Run a limit job (``arrow`` or ``spark``) in a child process; its output is deleted."""
    out_dir = run.paths(size).limits / kind
    shutil.rmtree(out_dir, ignore_errors=True)
    result = run_measured(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--limit-job",
            kind,
            "--limit-csv",
            str(csv_path),
            "--limit-out",
            str(out_dir),
        ],
        run.log_path(size, f"limit-{kind}"),
    )
    check(result, f"limit job {kind}")
    figures = json_from_output(result.stdout)
    shutil.rmtree(out_dir, ignore_errors=True)
    rows = figures["rows"]
    return {
        **figures,
        "process_seconds": result.seconds,
        "bytes_per_trip": figures["bytes"] / rows if rows else None,
        **peaks(result.samples),
    }


def stage_limits(run: Run, size: int, record: dict) -> dict:
    csv_path = ensure_csv(run, size, record)
    scratch = database_name(size, "_limits")
    fresh_database(run.args.admin_url, scratch)
    try:
        limits = {
            "copy_unlogged": copy_limit(run, size, csv_path, scratch, unlogged=True),
            "copy_logged": copy_limit(run, size, csv_path, scratch, unlogged=False),
        }
    finally:
        drop_database(run.args.admin_url, scratch)
    limits["arrow_landing"] = job_limit(run, size, csv_path, "arrow")
    limits["arrow_landing"]["rows_per_s"] = per_second(
        limits["arrow_landing"]["rows"], limits["arrow_landing"]["seconds"]
    )
    spark = job_limit(run, size, csv_path, "spark")
    limits["spark_jvm_start"] = {"seconds": spark["jvm_start_seconds"]}
    limits["spark_parquet"] = {
        **spark,
        "seconds": spark["write_seconds"],
        "rows_per_s": per_second(spark["rows"], spark["write_seconds"]),
    }
    with_jvm = spark["jvm_start_seconds"] + spark["write_seconds"]
    limits["spark_parquet_with_jvm"] = {
        "seconds": with_jvm,
        "rows": spark["rows"],
        "rows_per_s": per_second(spark["rows"], with_jvm),
    }
    return {"limits": limits}


def stage_incremental(run: Run, size: int, record: dict) -> dict:
    """A 1 % file and a 10k file into the built warehouse, then each into an empty one."""
    ensure_warehouse(run, size, record)
    paths = run.paths(size)
    partial = record.setdefault("incremental_partial", {})
    files = {"1pct": max(size // 100, 1), "10k": 10_000}
    csvs = {}
    for offset, (label, rows) in enumerate(files.items(), start=1):
        csvs[label] = paths.incremental / f"trips-{label}-{rows}.csv"
        if not csvs[label].exists():
            seed = run.args.seed + 1000 * offset  # other trips than the size's file
            generate_file(run, size, rows, csvs[label], seed, f"generate-{label}")
    for label in files:
        key = f"built_{label}"
        if key not in partial:
            partial[key] = ingest_file(
                run, size, csvs[label], record["database"], paths.data_dir, f"incremental-{key}"
            )
            run.save()
    empty_db = database_name(size, "_empty")
    for label in files:
        key = f"empty_{label}"
        if key in partial:
            continue
        data_dir = paths.incremental / "empty-data"
        shutil.rmtree(data_dir, ignore_errors=True)
        fresh_database(run.args.admin_url, empty_db)
        try:
            partial[key] = ingest_file(
                run, size, csvs[label], empty_db, data_dir, f"incremental-{key}"
            )
        finally:
            drop_database(run.args.admin_url, empty_db)
            shutil.rmtree(data_dir, ignore_errors=True)
        run.save()
    record.pop("incremental_partial")
    return {"files": files, "runs": partial}


STAGE_FUNCTIONS: dict[str, Callable[[Run, int, dict], dict]] = {
    "generate": stage_generate,
    "ingest": stage_ingest,
    "queries": stage_queries,
    "explain": stage_explain,
    "disk": stage_disk,
    "limits": stage_limits,
    "incremental": stage_incremental,
}


def run_stage(run: Run, size: int, record: dict, stage: str) -> bool:
    """Run one stage and record its figures (or its failure) in the state file."""
    label = f"[{size:,}]"
    log.info("%s %s ...", label, stage)
    load_before, t0 = os.getloadavg()[0], time.perf_counter()
    try:
        figures = STAGE_FUNCTIONS[stage](run, size, record)
    except (StageFailed, psycopg.Error, OSError, KeyError, ValueError) as exc:
        record["stages"][stage] = {
            "status": "failed",
            "failed_at": now_iso(),
            "error": f"{type(exc).__name__}: {exc}",
        }
        run.failures += 1
        run.failed.add((size, stage))
        run.save()
        log.error(
            "%s %s FAILED: %s",
            label,
            stage,
            exc,
            exc_info=not isinstance(exc, StageFailed | psycopg.Error),
        )
        return False
    record["stages"][stage] = {
        "status": "done",
        "finished_at": now_iso(),
        "stage_wall_seconds": time.perf_counter() - t0,
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **figures,
    }
    run.save()
    log.info("%s %s done in %.1f s", label, stage, time.perf_counter() - t0)
    return True


def cleanup_size(run: Run, size: int, record: dict) -> None:
    """Drop the size's databases and delete its files (no-op when nothing is left)."""
    names = [database_name(size, suffix) for suffix in ("", "_limits", "_empty")]
    existing = [n for n in names if database_exists(run.args.admin_url, n)]
    if not existing and not run.paths(size).root.exists():
        return
    for name in existing:
        drop_database(run.args.admin_url, name)
    shutil.rmtree(run.paths(size).root, ignore_errors=True)
    record["cleaned_at"] = now_iso()
    run.save()
    log.info("[%s] dropped its databases and deleted its files", f"{size:,}")


def estimate_bytes(state: dict, size: int) -> tuple[int, int] | None:
    """(work-dir bytes, database bytes) for ``size`` trips from the largest size measured."""
    measured = [
        (int(key), rec["stages"]["disk"])
        for key, rec in state["sizes"].items()
        if rec["stages"].get("disk", {}).get("status") == "done"
    ]
    if not measured:
        return None
    _, disk = max(measured)
    files = sum(f["bytes_per_trip"] for f in disk["files"].values())
    return int(files * size), int(disk["database"]["bytes_per_trip"] * size)


def warn_about_disk(run: Run, size: int) -> None:
    estimate = estimate_bytes(run.state, size)
    if estimate is None:
        return
    files, database = estimate
    free = shutil.disk_usage(run.work_dir).free
    log.info(
        "[%s] projected disk: %.2f GB of files, %.2f GB of database; %.1f GB free in the work dir",
        f"{size:,}",
        files / 1e9,
        database / 1e9,
        free / 1e9,
    )
    needed = files
    with contextlib.suppress(psycopg.Error, OSError), admin_connect(run.args.admin_url) as conn:
        (pgdata,) = conn.execute("show data_directory").fetchone()
        if os.stat(pgdata).st_dev == os.stat(run.work_dir).st_dev:
            needed += database  # the server's data directory shares the work dir's disk
    if needed > free:
        log.warning(
            "[%s] the projection (%.1f GB) exceeds the free space", f"{size:,}", needed / 1e9
        )


def run_size(run: Run, size: int, stages: tuple[str, ...]) -> None:
    record = run.record(size)
    run.save()
    pending = [s for s in stages if not stage_done(record, s)]
    if not pending:
        log.info("[%s] every selected stage was done earlier: nothing to run", f"{size:,}")
    else:
        warn_about_disk(run, size)
    failures_before = run.failures
    for stage in pending:
        if not stage_done(record, stage):  # a prerequisite run may have done it meanwhile
            run_stage(run, size, record, stage)
    if run.args.keep:
        return
    if run.failures > failures_before:
        log.warning(
            "[%s] kept its databases and files after a failure: re-run to resume", f"{size:,}"
        )
        return
    cleanup_size(run, size, record)


# --------------------------------------------------------------------------- report


def limit_ratios(record: dict) -> dict[str, dict]:
    """limit seconds / our seconds for each limit and the pipeline stage it bounds."""
    ingest = record["stages"].get("ingest", {})
    limits = record["stages"].get("limits", {}).get("limits", {})
    if ingest.get("status") != "done":
        return {}
    ratios = {}
    for name, (stage, key) in LIMIT_OF.items():
        ours = ingest["stages"].get(stage, {}).get("seconds")
        theirs = limits.get(name, {}).get(key)
        if ours and theirs:
            ratios[name] = {
                "stage": stage,
                "limit_seconds": theirs,
                "stage_seconds": ours,
                "ratio": theirs / ours,
            }
    return ratios


def _row(size: int, kind: str, stage: str, figures: dict, **extra) -> dict:
    row = dict.fromkeys(CSV_FIELDS)
    row.update(size=size, kind=kind, stage=stage)
    for key in (
        "seconds",
        "rows",
        "rows_per_s",
        "peak_rss_bytes",
        "peak_pss_bytes",
        "peak_pg_all_rss_bytes",
        "bytes_per_trip",
    ):
        row[key] = figures.get(key)
    row.update(extra)
    return row


def _ingest_rows(size: int, kind: str, prefix: str, ingest: dict) -> list[dict]:
    rows = [
        _row(
            size,
            kind,
            f"{prefix}ingest_process",
            ingest,
            seconds=ingest["process_seconds"],
            rows=ingest["file_rows"],
            rows_per_s=per_second(ingest["file_rows"], ingest["process_seconds"]),
            note=f"flow {_fmt(ingest.get('flow_seconds'), '.1f')} s; dbt checks: "
            f"{ingest['summary'].get('checks')}"
            # a file already in the ledger (an interrupted earlier attempt) is not re-ingested
            + ("; FILE SKIPPED: already loaded" if ingest["summary"].get("files_skipped") else ""),
        )
    ]
    for stage, figures in ingest["stages"].items():
        rows.append(_row(size, kind, f"{prefix}{stage}", figures))
    return rows


def csv_rows(state: dict) -> list[dict]:
    """One row per (size, stage): the flat view of the state for scale.csv and the summary."""
    rows: list[dict] = []
    for key in sorted(state["sizes"], key=int):
        record, size = state["sizes"][key], int(key)
        stages = record["stages"]
        done = {name: s for name, s in stages.items() if s.get("status") == "done"}
        for name, s in stages.items():
            if s.get("status") == "failed":
                rows.append(
                    _row(size, "failed", name, {}, note=" | ".join(s["error"].splitlines())[:500])
                )
        if "generate" in done:
            rows.append(
                _row(
                    size,
                    "pipeline",
                    "generate",
                    done["generate"],
                    bytes=done["generate"]["csv_bytes"],
                )
            )
        if "ingest" in done:
            rows += _ingest_rows(size, "pipeline", "", done["ingest"])
        if "queries" in done:
            q = done["queries"]
            rows.append(_row(size, "maintenance", "vacuum_analyze", q["vacuum_analyze"]))
            for kind, lat in q["latency"].items():
                rows.append(
                    _row(
                        size,
                        "query",
                        kind,
                        {},
                        queries=lat["n"],
                        p50_ms=lat["p50_ms"],
                        p95_ms=lat["p95_ms"],
                    )
                )
        if "disk" in done:
            d = done["disk"]
            for name, f in d["files"].items():
                rows.append(_row(size, "disk", name, f, bytes=f["bytes"]))
            rows.append(_row(size, "disk", "database", d["database"], bytes=d["database"]["bytes"]))
            for schema, s in d["schemas"].items():
                rows.append(
                    _row(
                        size,
                        "schema",
                        schema,
                        s,
                        bytes=s["total_bytes"],
                        index_bytes=s["index_bytes"],
                    )
                )
            for rel in d["relations"]:
                rows.append(
                    _row(
                        size,
                        "relation",
                        f"{rel['schema']}.{rel['relation']}",
                        rel,
                        bytes=rel["total_bytes"],
                        heap_bytes=rel["heap_bytes"],
                        index_bytes=rel["index_bytes"],
                    )
                )
        if "limits" in done:
            ratios = limit_ratios(record)
            for name, lim in done["limits"]["limits"].items():
                ratio = ratios.get(name, {})
                rows.append(
                    _row(
                        size,
                        "limit",
                        name,
                        lim,
                        bytes=lim.get("table_bytes", lim.get("bytes")),
                        compared_to=ratio.get("stage"),
                        ratio=ratio.get("ratio"),
                        note=lim.get("skipped"),
                    )
                )
        if "incremental" in done:
            for run_name, ingest in done["incremental"]["runs"].items():
                rows += _ingest_rows(size, "incremental", f"{run_name}:", ingest)
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def write_plot(rows: list[dict], path: Path) -> bool:
    """Log-log: seconds per stage vs trips, and bytes vs trips. False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (pip install -e '.[bench]'): no %s", path.name)
        return False
    timed_kinds = {"pipeline", "maintenance", "limit"}
    times: dict[str, list] = defaultdict(list)
    sizes: dict[str, list] = defaultdict(list)
    biggest = sorted(
        {r["stage"] for r in rows if r["kind"] == "relation"},
        key=lambda rel: -max(r["bytes"] or 0 for r in rows if r["stage"] == rel),
    )[:6]
    for r in rows:
        if r["kind"] in timed_kinds and r["seconds"]:
            times[r["stage"]].append((r["size"], r["seconds"]))
        if (r["kind"] == "disk" or r["stage"] in biggest) and r["bytes"]:
            sizes[r["stage"]].append((r["size"], r["bytes"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6))
    colours = plt.get_cmap("tab20").colors
    for axis, series, ylabel in ((left, times, "wall time (s)"), (right, sizes, "bytes")):
        for index, (name, points) in enumerate(sorted(series.items())):
            xs, ys = zip(*sorted(points), strict=True)
            limit = name in LIMIT_OF or name == "spark_jvm_start"
            axis.plot(
                xs,
                ys,
                marker="s" if limit else "o",
                linestyle="--" if limit else "-",
                color=colours[index % len(colours)],
                label=name,
            )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("trips")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
        if series:
            axis.legend(fontsize=7)
    left.set_title("time per stage (dashed: limits)")
    right.set_title("disk: files, database, largest relations")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def machine_info(admin_url: str) -> dict:
    info = {
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    with contextlib.suppress(psycopg.Error), admin_connect(admin_url) as conn:
        info["postgres"] = conn.execute("select version()").fetchone()[0]
    return info


def report(state: dict, rows: list[dict]) -> dict:
    sizes = {key: {**rec, "ratios": limit_ratios(rec)} for key, rec in state["sizes"].items()}
    return {
        "generated_at": now_iso(),
        "machine": state.get("machine"),
        "sizes": sizes,
        "rows": rows,
    }


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return format(value / scale, spec) if isinstance(value, int | float) else "-"


def summary_text(rows: list[dict]) -> str:
    head = (
        f"{'trips':>12} {'kind':<11} {'stage':<48} {'seconds':>9} {'rows/s':>11} "
        f"{'peak RSS MiB':>12} {'PSS MiB':>8} {'size MiB':>9} {'bytes/trip':>10} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'limit/ours':>10}"
    )
    lines = [head]
    for r in rows:
        if r["kind"] == "relation" and (r["bytes"] or 0) < 1 << 20:
            continue  # the summary shows relations of 1 MiB and more; the CSV has every one
        ratio = f"{r['ratio']:.2f} {r['compared_to']}" if r["ratio"] is not None else "-"
        lines.append(
            f"{r['size']:>12,} {r['kind']:<11} {r['stage'][:48]:<48} "
            f"{_fmt(r['seconds'], '.1f'):>9} {_fmt(r['rows_per_s'], ',.0f'):>11} "
            f"{_fmt(r['peak_rss_bytes'], ',.0f', 2**20):>12} "
            f"{_fmt(r['peak_pss_bytes'], ',.0f', 2**20):>8} "
            f"{_fmt(r['bytes'], ',.1f', 2**20):>9} {_fmt(r['bytes_per_trip'], '.1f'):>10} "
            f"{_fmt(r['p50_ms'], '.2f'):>8} {_fmt(r['p95_ms'], '.2f'):>8} {ratio:>10}"
            + (f"  {r['note']}" if r["note"] and r["kind"] == "failed" else "")
        )
    return "\n".join(lines)


def write_outputs(state: dict, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = csv_rows(state)
    result = report(state, rows)
    (out_dir / "scale.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    write_csv(rows, out_dir / "scale.csv")
    plotted = write_plot(rows, out_dir / "scale.png")
    log.info(
        "wrote %s, %s%s",
        out_dir / "scale.json",
        out_dir / "scale.csv",
        f", {out_dir / 'scale.png'}" if plotted else "",
    )
    return result


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Stages: " + ", ".join(STAGES) + ". See the module docstring for what each does.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[1_000_000, 10_000_000, 100_000_000],
        help="trips per size, comma-separated (k/M suffixes allowed) "
        "[default: 1000000,10000000,100000000]",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".trips/scale"),
        help="generated CSVs, landing, state.json, logs [default: .trips/scale]",
    )
    parser.add_argument(
        "--admin-url",
        default=DEFAULT_ADMIN_URL,
        help="a superuser URL on the server the benchmark databases are created "
        f"on [default: {DEFAULT_ADMIN_URL}]",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PROJECT_ROOT / "docs" / "scale",
        help="where scale.json / scale.csv / scale.png go [default: docs/scale/]",
    )
    parser.add_argument(
        "--stages",
        type=parse_stages,
        default=None,
        help=f"comma-separated subset of {','.join(STAGES)} "
        f"[default: {','.join(DEFAULT_STAGES)}; incremental with --incremental]",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="also run the incremental stage (1%% and 10k-row files)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each size's databases and files (to run more stages later)",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=200,
        help="rounds of queries, each a region, 3 boxes (origin, destination, both) and the "
        "groups of a region; the groups of all regions every 10th round [default: 200]",
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed [default: 42]")
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")
    parser.add_argument("--limit-job", choices=("arrow", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--limit-csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stages is None:
        args.stages = DEFAULT_STAGES + (("incremental",) if args.incremental else ())
    elif args.incremental and "incremental" not in args.stages:
        args.stages = parse_stages(",".join((*args.stages, "incremental")))
    args.work_dir = args.work_dir.resolve()
    return args


def _terminate(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: the current child is stopped, the state is saved


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.limit_job:
        print(json.dumps(run_limit_job(args.limit_job, args.limit_csv, args.limit_out)))
        return 0
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    signal.signal(signal.SIGTERM, _terminate)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    run = Run(args, load_state(args.work_dir / "state.json"))
    run.state["machine"] = machine_info(args.admin_url)
    log.info(
        "sizes %s, stages %s, work dir %s",
        " ".join(f"{s:,}" for s in args.sizes),
        ",".join(args.stages),
        args.work_dir,
    )
    try:
        for size in args.sizes:
            run_size(run, size, args.stages)
    except (KeyboardInterrupt, SystemExit):
        log.warning("interrupted: finished stages are in %s, a re-run resumes", run.state_path)
        raise
    finally:
        run.stop_prefect()
        run.save()
        result = write_outputs(run.state, args.out)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(summary_text(result["rows"]))
    return 1 if run.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
