"""Notifications for real ingestions: the real ingest flow (Spark -> COPY -> dbt) on tiny CSV
files, a real Prefect server with the automations applied, loopback webhook and SMTP receivers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from extract_load.ledger import ensure_raw_schema
from flows.ingest import ingest_flow
from tests.integration.prefect_fixtures import Received, about_run, run_name
from tests.support.csvdata import BAD_ROWS, good_rows, write_csv
from tests.support.warehouse import add_file
from trips_warehouse.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline_env(settings, monkeypatch, applied_automations):
    monkeypatch.setenv("TRIPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRIPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "local[2]")
    return settings


def _final(inbox, name: str, state: str, count: int) -> list[Received]:
    msgs = inbox.wait_for(lambda m: about_run(name)(m) and state in m.subject, count=count,
                          timeout=60)
    assert len(msgs) == count, [m.subject for m in inbox.items[-10:]]
    return msgs


def test_successful_ingestion_with_counts(pipeline_env, tmp_path, http_receiver, smtp_receiver):
    path = write_csv(tmp_path / "ok.csv", good_rows(12))
    state = ingest_flow([str(path)], return_state=True)
    assert state.is_completed(), state.message
    name = run_name(state)
    posts = _final(http_receiver.inbox, name, "Completed", 2)
    (mail,) = _final(smtp_receiver.inbox, name, "Completed", 1)
    for body in [m.body for m in posts] + [mail.body]:
        assert f"Files: {path}" in body
        assert "rows read 12, rejected 0, loaded 12" in body
        assert "0 failed" in body
        assert f"/runs/flow-run/{state.state_details.flow_run_id}" in body
    assert _final(http_receiver.inbox, name, "Running", 2)
    progress = http_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and m.path == "/generic" and "load completed" in m.subject
    )
    assert "Rows loaded: 12" in progress[0].body


def test_bad_rows_are_counted_as_rejected(pipeline_env, tmp_path, http_receiver):
    path = write_csv(tmp_path / "bad.csv", good_rows(6) + list(BAD_ROWS.values()))
    state = ingest_flow([str(path)], return_state=True)
    assert state.is_completed(), state.message
    name = run_name(state)
    for msg in _final(http_receiver.inbox, name, "Completed", 2):
        assert f"rows read {6 + len(BAD_ROWS)}, rejected {len(BAD_ROWS)}, loaded 6" in msg.body


def test_failing_dbt_test_is_reported_failed_with_the_test_named(
    pipeline_env, tmp_path, http_receiver, smtp_receiver
):
    # A trip with a blank region already in raw: dbt's expression_is_true test on
    # stg_trips__trips.region fails, whatever the file brings.
    with psycopg.connect(pipeline_env.database_url) as conn:
        ensure_raw_schema(conn)
        add_file(conn, "h1", [
            ("t0", "", 7.6, 45.0, 7.7, 45.1, datetime(2018, 5, 1, 8, 0), "funny_car"),
        ])
    path = write_csv(tmp_path / "fine.csv", good_rows(5))
    state = ingest_flow([str(path)], return_state=True)
    assert state.is_failed()
    name = run_name(state)
    msgs = _final(http_receiver.inbox, name, "Failed", 2) + _final(
        smtp_receiver.inbox, name, "Failed", 1
    )
    for msg in msgs:
        assert "Error:" in msg.body
        assert "expression_is_true_stg_trips__trips_region" in msg.body
        assert f"Files: {path}" in msg.body
    stage = http_receiver.inbox.wait_for(
        lambda m: about_run(name)(m) and m.path == "/generic" and "dbt_build failed" in m.subject
    )
    assert "expression_is_true_stg_trips__trips_region" in stage[0].body


def test_killed_run_is_reported_crashed(pipeline_env, tmp_path, http_receiver):
    """SIGTERM to the process running the flow: Prefect's SIGTERM bridge reports Crashed."""
    path = write_csv(tmp_path / "killed.csv", good_rows(5))
    code = "import sys; from flows.ingest import ingest_flow; ingest_flow(sys.argv[1:])"
    marker = f"TRIPS_TEST_RUN={path}"  # inherited by the run's Spark JVM
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=PROJECT_ROOT,
                            env={**os.environ, "TRIPS_TEST_RUN": str(path)})
    try:
        def landing(m):
            return m.path == "/generic" and f"Files: {path}" in m.body and (
                "landing started" in m.subject
            )

        assert http_receiver.inbox.wait_for(landing, timeout=120), "the run never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    crashed = http_receiver.inbox.wait_for(
        lambda m: f"Files: {path}" in m.body and "Crashed" in m.subject, count=2, timeout=60
    )
    assert sorted(m.path for m in crashed) == ["/generic", "/slack"]
    generic = next(m for m in crashed if m.path == "/generic")
    assert "Error:" in generic.body and "termination signal" in generic.body.lower()
    # and the run's Spark JVM ended with it, even when the signal came while it was launching
    deadline = time.monotonic() + 40
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _processes_with(marker)


def _processes_with(environ_entry: str) -> list[int]:
    """Pids whose environment holds ``environ_entry`` (Linux /proc)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if environ_entry.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found
