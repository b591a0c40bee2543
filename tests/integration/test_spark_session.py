"""extract_load.spark.spark_session: a job's Spark ends with it, unless one was already running."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from extract_load.spark import spark_session
from trips_warehouse.config import PROJECT_ROOT


def test_a_running_spark_is_reused_and_left_running(spark) -> None:
    jvm = spark.sparkContext._gateway.proc
    with spark_session("local[2]", driver_memory="1g") as session:
        assert session.sparkContext is spark.sparkContext
        assert session.range(5).count() == 5
    # the caller's session and JVM survive the job
    assert jvm.poll() is None
    assert spark.range(3).count() == 3


def test_a_running_spark_survives_a_failing_job(spark) -> None:
    try:
        with spark_session("local[2]", driver_memory="1g") as session:
            session.range(2).count()
            raise RuntimeError("the job failed")
    except RuntimeError:
        pass
    assert spark.range(4).count() == 4


# In a fresh process (this one already runs the test session's Spark): the JVM a job started
# is gone when the job ends, normally or by an exception, and the next job starts a new one.
JOBS = textwrap.dedent(
    """
    import sys
    from pyspark import SparkContext
    from extract_load.spark import spark_session

    with spark_session("local[1]", driver_memory="512m") as session:
        first_jvm = SparkContext._gateway.proc
        assert session.range(3).count() == 3
    assert first_jvm.poll() is not None, "the JVM outlived the job"

    try:
        with spark_session("local[1]", driver_memory="512m") as session:
            second_jvm = SparkContext._gateway.proc
            assert second_jvm.pid != first_jvm.pid and session.range(2).count() == 2
            raise RuntimeError("the job failed")
    except RuntimeError:
        pass
    assert second_jvm.poll() is not None, "the JVM outlived the failed job"
    print("ok")
    """
)


def test_the_jvm_a_job_started_ends_with_the_job(tmp_path: Path) -> None:
    marker = f"spark-job-{uuid.uuid4().hex}"  # inherited by every JVM the script starts
    proc = subprocess.run(
        [sys.executable, "-c", JOBS],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TRIPS_TEST_PROCESS_MARKER": marker},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
    assert processes_with_marker(marker) == []


def processes_with_marker(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"TRIPS_TEST_PROCESS_MARKER={marker}".encode() in environ and state != "Z":
            pids.append(int(entry.name))
    return pids
