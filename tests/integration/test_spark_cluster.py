"""The landing on a real Spark standalone cluster: a master and two workers on loopback.

`trips cluster up` starts them from the Spark distribution the pyspark package ships;
`trips ingest` runs with TRIPS_SPARK_MASTER=spark://... and must give exactly what a local[*]
run gives on the same file: the same landed parquet row for row, the same raw rows with the
same trip ids, the same quarantine. The tasks must have run on both workers (the workers'
status JSON and Spark's event log say where), and the cluster is stopped whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extract_load.cluster import Cluster, executors_by_worker, master_state, stop
from extract_load.landing import parquet_files
from tests.support.postgres import fresh_database
from trips_warehouse.config import PROJECT_ROOT
from trips_warehouse.processes import is_alive

pytestmark = pytest.mark.slow

ROWS = 20_000
# small splits, so that even this small file is read by several tasks (both workers get some)
SPARK_DEFAULTS = """\
spark.sql.files.maxPartitionBytes 262144
spark.eventLog.enabled true
spark.eventLog.compress false
spark.eventLog.rolling.enabled false
"""


def trips(*args: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "trips_cli", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert done.returncode == 0, f"trips {' '.join(args)}:\n{done.stderr[-4000:]}{done.stdout}"
    return done


@pytest.fixture
def spark_conf_dir(tmp_path: Path) -> Path:
    """A SPARK_CONF_DIR whose spark-defaults.conf both runs read (the driver loads it)."""
    conf = tmp_path / "spark-conf"
    events = tmp_path / "spark-events"
    conf.mkdir()
    events.mkdir()
    (conf / "spark-defaults.conf").write_text(
        SPARK_DEFAULTS + f"spark.eventLog.dir file://{events}\n"
    )
    return conf


def ingest(path: Path, master: str, data_dir: Path, db_url: str, conf_dir: Path) -> dict:
    env = {
        **os.environ,
        "TRIPS_SPARK_MASTER": master,
        "TRIPS_DATA_DIR": str(data_dir),
        "TRIPS_DATABASE_URL": db_url,
        "TRIPS_SPARK_DRIVER_MEMORY": "512m",
        "TRIPS_MAX_RECORDS_PER_FILE": "2000",
        "TRIPS_RAW_RETENTION": "keep",
        "SPARK_CONF_DIR": str(conf_dir),
        # the executors reach the driver on loopback, and run this interpreter for Python
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    return json.loads(trips("ingest", str(path), "--no-dbt", "--json", env=env).stdout)


def landed(data_dir: Path, folder: str) -> list[tuple[str, int, pa.Table]]:
    """Every landed parquet file in load order: (partition folder, rows, content). File names
    carry a per-write uuid, so they are compared by folder and position, not by name."""
    root = data_dir / folder / "trips"
    return [
        (str(p.parent.relative_to(root)), pq.ParquetFile(p).metadata.num_rows, pq.read_table(p))
        for p in parquet_files(root)
    ]


def warehouse(db_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(db_url) as conn:
        return {
            "trips": conn.execute(
                "select trip_id, batch_id, region, origin_lon, origin_lat, destination_lon,"
                " destination_lat, trip_datetime, datasource from raw.trips order by trip_id"
            ).fetchall(),
            "rejected": conn.execute(
                "select raw_record, rejection_reason from raw.trips_rejected"
                " order by raw_record, rejection_reason"
            ).fetchall(),
            "batches": conn.execute(
                "select batch_id, table_name, row_count from raw.load_batches order by batch_id"
            ).fetchall(),
            "ledger": conn.execute(
                "select file_hash, status, rows_read, rows_accepted, rows_rejected, rows_loaded"
                " from raw.ingestions"
            ).fetchall(),
        }


def tasks_per_executor(events_dir: Path, app_id: str) -> Counter:
    """Finished tasks per executor id, from the application's event log."""
    (log,) = [p for p in events_dir.iterdir() if p.name.startswith(app_id)]
    counts: Counter = Counter()
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["Event"] == "SparkListenerTaskEnd":
            counts[int(event["Task Info"]["Executor ID"])] += 1
    return counts


def test_the_landing_on_a_two_worker_cluster_equals_local(
    tmp_path, admin_url, spark_conf_dir, prefect_server
):
    source = tmp_path / "in" / "trips.csv"
    source.parent.mkdir()
    base_env = {**os.environ, "TRIPS_DATA_DIR": str(tmp_path / "cli")}
    trips("generate", "--rows", str(ROWS), "--bad-rows", "0.01", "--seed", "17",
          "--out", str(source), "--quiet", env=base_env)
    local_dir, cluster_dir = tmp_path / "local", tmp_path / "cluster"

    with fresh_database(admin_url) as local_db, fresh_database(admin_url) as cluster_db:
        local = ingest(source, "local[*]", local_dir, local_db, spark_conf_dir)

        home = tmp_path / "cli" / "spark-cluster"
        try:
            up = trips("cluster", "up", "--port", "0", "--webui-port", "0", "--json",
                       env=base_env, timeout=180)
            cluster = Cluster.from_json(json.loads(up.stdout))
            status = trips("cluster", "status", "--json", env=base_env)
            assert json.loads(status.stdout)["alive_workers"] == 2
            remote = ingest(source, cluster.master_url, cluster_dir, cluster_db, spark_conf_dir)

            (app,) = (master_state(cluster) or {})["completedapps"]
            by_worker = executors_by_worker(cluster, app["id"])
        finally:
            down = subprocess.run(
                [sys.executable, "-m", "trips_cli", "cluster", "down"],
                cwd=PROJECT_ROOT, env=base_env, capture_output=True, text=True, timeout=120,
            )
            stop(home)  # in case the command itself failed
        assert down.stdout.strip() == "stopped"
        assert not any(is_alive(d.pid) for d in (cluster.master, *cluster.workers))

        # the work ran on both workers: one executor each, and each ran tasks
        assert sorted(len(ids) for ids in by_worker.values()) == [1, 1], by_worker
        tasks = tasks_per_executor(tmp_path / "spark-events", app["id"])
        assert all(tasks[ids[0]] > 0 for ids in by_worker.values()), (by_worker, tasks)

        counted = ("files_loaded", "rows_read", "rows_rejected", "rows_loaded")
        assert {k: remote[k] for k in counted} == {k: local[k] for k in counted}
        assert local["rows_read"] == ROWS and 0 < local["rows_rejected"] < ROWS
        for folder in ("landing", "quarantine"):
            ours, theirs = landed(cluster_dir, folder), landed(local_dir, folder)
            assert [f[:2] for f in ours] == [f[:2] for f in theirs], folder
            assert all(a[2].equals(b[2]) for a, b in zip(ours, theirs, strict=True)), folder
        here, there = warehouse(cluster_db), warehouse(local_db)
        assert len(here["trips"]) == ROWS - local["rows_rejected"]
        assert here == there
