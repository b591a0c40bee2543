"""``trips serve`` as it runs: the real service in a subprocess (real Prefect server, Spark,
Postgres, dbt) with the automations applied and a loopback webhook receiver; files dropped into
its inbox the ways writers drop them.

The tests share one service (module scope) and run in order: each one's files come on top of
the previous ones', as they would in a running inbox.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.csvdata import HEADER, good_rows, write_csv
from tests.support.postgres import fresh_database
from trips_warehouse.config import PROJECT_ROOT

pytestmark = pytest.mark.slow

# this machine is slow when busy: a run of a small file has taken 3 minutes
RUN_TIMEOUT_S = 420


class ServiceProcess:
    """``trips serve`` in a subprocess, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = RUN_TIMEOUT_S) -> None:
        self.starts += 1
        self._offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trips_cli", "serve"], cwd=PROJECT_ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while "serving:" not in self.output():
            assert self.proc.poll() is None, f"trips serve exited:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready:\n{self.output()[-3000:]}"
            time.sleep(0.5)

    def output(self) -> str:
        """What this start printed."""
        with open(self.log, "rb") as fh:
            fh.seek(self._offset)
            return fh.read().decode(errors="replace")

    def stop(self, timeout: float = 120) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture(scope="module")
def warehouse(admin_url) -> Iterator[str]:
    with fresh_database(admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def service(warehouse, applied_automations, tmp_path_factory) -> Iterator[ServiceProcess]:
    data = tmp_path_factory.mktemp("serve-data")
    env = {
        **os.environ,
        "TRIPS_DATABASE_URL": warehouse,
        "TRIPS_DATA_DIR": str(data),
        "TRIPS_INBOX_DIR": str(data / "inbox"),
        "TRIPS_SPARK_MASTER": "local[2]",
        "TRIPS_SPARK_DRIVER_MEMORY": "1g",
        "TRIPS_DBT_THREADS": "2",
    }
    process = ServiceProcess(env, data / "serve.log")
    process.inbox = data / "inbox"
    process.start()
    yield process
    if process.proc.poll() is None:
        process.stop()


def ledger(url: str) -> dict[str, tuple]:
    """file name -> (status, rows_read, rows_loaded) of every file in the ledger."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select file_path, status, rows_read, rows_loaded from raw.ingestions"
        ).fetchall()
    return {Path(path).name: (status, read, loaded) for path, status, read, loaded in rows}


def loaded_paths(url: str) -> dict[str, int]:
    """file name -> trips committed for it (raw.load_batches), and the fact's total."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select i.file_path, sum(b.row_count) from raw.ingestions i join raw.load_batches b"
            " using (file_hash) where b.table_name = 'trips' group by 1"
        ).fetchall()
    return {Path(path).name: int(n) for path, n in rows}


def fct_trips(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from marts.fct_trips").fetchone()[0]


def runs(url: str) -> list[tuple]:
    """(status, paths, files_loaded, flow_run_id) of every ingestion run, oldest first."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select status, paths, files_loaded, flow_run_id, started_at, finished_at"
            " from raw.ingestion_runs order by started_at"
        ).fetchall()


def wait_until(predicate, timeout: float = RUN_TIMEOUT_S, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def loaded(url: str, *names: str):
    def check() -> bool:
        try:
            found = ledger(url)
        except psycopg.errors.UndefinedTable:
            return False
        return all(found.get(n, ("",))[0] == "loaded" for n in names)

    return check


def settled(url: str):
    """No run in progress (every recorded run finished)."""
    return lambda: all(r[0] != "running" for r in runs(url))


def drop(inbox: Path, name: str, rows) -> Path:
    """Write a file the recommended way: under a dot-name, then renamed into place."""
    hidden = write_csv(inbox / f".{name}", rows)
    final = inbox / name
    hidden.rename(final)
    return final


def completed_notice(receiver, path: Path, count: int = 2):
    """The Completed notifications of the run that took ``path`` (with others, maybe)."""
    def of_path(m) -> bool:
        files = next((line for line in m.body.splitlines() if line.startswith("Files: ")), "")
        return "Completed" in m.subject and str(path) in files.removeprefix("Files: ").split(", ")

    return receiver.inbox.wait_for(of_path, count=count, timeout=120)


def test_two_files_are_ingested_once_with_runs_artifacts_and_notices(
    service, warehouse, http_receiver, prefect_server
):
    a = drop(service.inbox, "a.csv", good_rows(120, day=1))
    wait_until(loaded(warehouse, "a.csv"), what="a.csv")
    # written in place: open, write, close (IN_CLOSE_WRITE)
    b = write_csv(service.inbox / "b.csv", good_rows(80, day=2, region="Turin"))
    wait_until(loaded(warehouse, "b.csv"), what="b.csv")
    wait_until(settled(warehouse), what="the runs to finish")

    assert loaded_paths(warehouse) == {"a.csv": 120, "b.csv": 80}
    assert ledger(warehouse) == {"a.csv": ("loaded", 120, 120), "b.csv": ("loaded", 80, 80)}
    assert fct_trips(warehouse) == 200
    recorded = runs(warehouse)
    assert [(r[0], r[2]) for r in recorded] == [("completed", 1), ("completed", 1)]

    # the automations told the receiver (generic + Slack each) when each run completed (the
    # ledger row is final a moment before the flow run's state)
    for path in (a, b):
        notices = completed_notice(http_receiver, path)
        assert len(notices) == 2
        assert any("loaded" in m.body for m in notices)

    # the runs are the deployment's, in the API, each with its artifact
    flow_runs = asyncio.run(_deployment_runs([r[3] for r in recorded]))
    for flow_run, artifacts, path in zip(flow_runs, _artifacts(flow_runs), [a, b], strict=True):
        assert flow_run.state.is_completed(), flow_run.state
        assert flow_run.parameters["paths"] == [str(path)]
        assert flow_run.deployment_id is not None
        (artifact,) = artifacts
        assert artifact.key == "trips-ingestion"
        assert f"`{path}` | loaded |" in artifact.data
        assert "## Slowest stages" in artifact.data


def test_a_file_arriving_during_a_run_waits_for_the_next(service, warehouse, http_receiver):
    c = drop(service.inbox, "c.csv", good_rows(1500, day=3))
    http_receiver.inbox.wait_for(
        lambda m: "Running" in m.subject and f"Files: {c}" in m.body, timeout=120
    )
    d = drop(service.inbox, "d.csv", good_rows(60, day=4, region="Brno"))
    wait_until(loaded(warehouse, "c.csv", "d.csv"), what="c.csv and d.csv")
    wait_until(settled(warehouse), what="the runs to finish")

    by_paths = {r[1]: r for r in runs(warehouse)}
    run_c, run_d = by_paths[str(c)], by_paths[str(d)]
    assert run_c[0] == run_d[0] == "completed"
    assert run_d[4] >= run_c[5]  # queued: started after the run that was going
    assert loaded_paths(warehouse)["c.csv"] == 1500
    assert loaded_paths(warehouse)["d.csv"] == 60
    assert fct_trips(warehouse) == 200 + 1500 + 60
    assert completed_notice(http_receiver, d)


def test_a_half_written_file_waits_until_complete(service, warehouse):
    rows = good_rows(300, day=5)
    text = "".join(",".join(r) + "\n" for r in [HEADER, *rows]).encode()
    half = len(text) // 2
    path = service.inbox / "e.csv"
    with open(path, "wb") as fh:
        fh.write(text[:half])
        fh.flush()
        os.fsync(fh.fileno())
        time.sleep(8)  # many debounces: an open file is not an arrival
        assert "e.csv" not in ledger(warehouse)
        fh.write(text[half:])
    hidden = write_csv(service.inbox / ".f.csv", good_rows(40, day=6))
    time.sleep(5)
    assert ".f.csv" not in ledger(warehouse) and "f.csv" not in ledger(warehouse)
    hidden.rename(service.inbox / "f.csv")
    wait_until(loaded(warehouse, "e.csv", "f.csv"), what="e.csv and f.csv")
    found = ledger(warehouse)
    assert found["e.csv"] == ("loaded", 300, 300)  # the whole file, once
    assert found["f.csv"] == ("loaded", 40, 40)
    assert not {".f.csv"} & set(found)


def test_a_run_started_through_the_api_takes_the_inbox_and_builds_nothing_new(
    service, warehouse, prefect_server
):
    from prefect.deployments import run_deployment

    wait_until(settled(warehouse), what="the runs to finish")
    before = fct_trips(warehouse)
    flow_run = run_deployment("trips-ingest/inbox", timeout=RUN_TIMEOUT_S)
    assert flow_run.state.is_completed(), flow_run.state
    assert flow_run.parameters["paths"] == [str(service.inbox)]
    assert "dbt build skipped: no new rows" in flow_run.state.message
    assert "0 loaded, 6 skipped" in flow_run.state.message
    assert fct_trips(warehouse) == before


def test_sigterm_abandons_the_run_and_a_restart_ingests_what_arrived(service, warehouse,
                                                                     http_receiver):
    g = drop(service.inbox, "g.csv", good_rows(2000, day=7))
    # the progress automation: the run holds the pipeline lock and is landing g
    assert http_receiver.inbox.wait_for(
        lambda m: "landing started" in m.subject and f"Files: {g}" in m.body, timeout=120
    )
    assert service.stop() == 0
    assert "the run in progress was abandoned" in service.output()
    assert "stopped after" in service.output()
    h = drop(service.inbox, "h.csv", good_rows(90, day=8))  # while it is down
    statuses = {r[1]: r[0] for r in runs(warehouse)}
    assert statuses[str(g)] == "interrupted"
    assert ledger(warehouse).get("h.csv") is None

    service.start()
    wait_until(loaded(warehouse, "g.csv", "h.csv"), what="g.csv and h.csv after the restart")
    wait_until(settled(warehouse), what="the runs to finish")
    counts = loaded_paths(warehouse)
    assert (counts["g.csv"], counts["h.csv"]) == (2000, 90)  # exactly once, resumed or not
    assert fct_trips(warehouse) == sum(counts.values())
    assert completed_notice(http_receiver, h, count=1)


async def _deployment_runs(flow_run_ids: list[str]):
    from prefect import get_client

    async with get_client() as client:
        return [await client.read_flow_run(run_id) for run_id in flow_run_ids]


def _artifacts(flow_runs) -> list[list]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read():
        async with get_client() as client:
            return [
                await client.read_artifacts(
                    artifact_filter=ArtifactFilter(
                        flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])
                    )
                )
                for flow_run in flow_runs
            ]

    return asyncio.run(read())
