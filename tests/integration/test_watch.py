"""``trips watch``: the live view follows a concurrent run stage by stage, from the event stream."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

import pytest

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
