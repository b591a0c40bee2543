"""``trips watch``: the live view follows a concurrent run stage by stage, from the event stream."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from prefect.events.schemas.events import Event

from flows.watch import format_event, is_ingestion_event, is_terminal
from tests.integration.prefect_fixtures import run_name, stand_in_ingest
from tests.support.csvdata import good_rows, write_csv
from trips_warehouse.config import PROJECT_ROOT

EXPECTED = [
    "Running",
    "landing started",
    "landing completed",
    "load started",
    "load completed",
    "dbt_build started",
    "dbt_build completed",
    "Completed",
]
# the real flow also lets raw.trips go once the marts have the rows (TRIPS_RAW_RETENTION)
EXPECTED_REAL = [*EXPECTED[:-1], "archive started", "archive completed", "Completed"]


class WatchProcess:
    """``trips watch`` in a subprocess; its stdout lines collected by a thread."""

    def __init__(self, *args: str):
        code = "from trips_cli.main import main; main()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, "watch", *args],
            cwd=PROJECT_ROOT, env=os.environ.copy(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 120) -> None:
        line = self.lines.get(timeout=timeout)
        while not line.startswith("watching"):
            line = self.lines.get(timeout=timeout)

    def finish(self, timeout: float = 60) -> list[str]:
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out


def stages_of(lines: list[str], name: str) -> list[str]:
    """``what`` column of the watch lines about run ``name`` ("landing started", "Completed")."""
    out = []
    for line in lines:
        parts = line.split("  ")
        if len(parts) >= 3 and parts[1] == name:
            out.append(parts[2].split(":")[0].split("  (")[0])
    return out


def test_watch_follows_a_concurrent_run_in_order_and_skips_the_replay(prefect_server):
    before = stand_in_ingest(["old.csv"], return_state=True)  # replayed on connect: filtered
    watch = WatchProcess("--exit-on-end")
    watch.wait_ready()
    state = stand_in_ingest(["new.csv"], sleep_s=0.5, return_state=True)
    lines = watch.finish()
    assert watch.proc.returncode == 0, lines
    assert stages_of(lines, run_name(state)) == EXPECTED, lines
    assert run_name(before) not in "\n".join(lines)
    assert any("rows read 10" in line for line in lines)


@pytest.mark.slow
def test_watch_follows_a_real_ingestion(prefect_server, settings, monkeypatch, tmp_path):
    from flows.ingest import ingest_flow

    monkeypatch.setenv("TRIPS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TRIPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "local[2]")
    path = write_csv(tmp_path / "trips.csv", good_rows(8))
    watch = WatchProcess("--exit-on-end")
    watch.wait_ready()
    state = ingest_flow([str(path)], return_state=True)
    assert state.is_completed(), state.message
    lines = watch.finish()
    assert stages_of(lines, run_name(state)) == EXPECTED_REAL, lines
    assert any("load completed" in line and "rows loaded 8" in line for line in lines), lines


def _event(name: str, **payload) -> Event:
    return Event(
        occurred=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        event=name,
        resource={"prefect.resource.id": f"trips.ingestion.{uuid4()}",
                  "prefect.resource.name": "brave-otter"},
        payload=payload,
    )


def test_format_stage_event_lists_counts():
    line = format_event(_event("trips.ingestion.landing.completed", stage="landing",
                               status="completed", files=1, rows_read=7, rows_rejected=2,
                               duration_s=1.234))
    assert line.endswith("brave-otter  landing completed  "
                         "(files 1, rows read 7, rows rejected 2, 1.2s)")


def test_state_events_terminal_and_filtered_by_flow_name():
    run = uuid4()
    event = Event(
        occurred=datetime(2026, 1, 1, tzinfo=UTC), event="prefect.flow-run.Failed",
        resource={"prefect.resource.id": f"prefect.flow-run.{run}",
                  "prefect.resource.name": "brave-otter", "prefect.state-name": "Failed",
                  "prefect.state-type": "FAILED", "prefect.state-message": "dbt test x failed"},
        related=[{"prefect.resource.id": "prefect.flow.1", "prefect.resource.role": "flow",
                  "prefect.resource.name": "trips-ingest"}],
    )
    assert is_terminal(event) and is_ingestion_event(event)
    assert not is_ingestion_event(event, flow_name="other-flow")
    assert format_event(event).endswith("brave-otter  Failed: dbt test x failed")
