"""dbt_build inside a Prefect flow: PrefectDbtRunner, one task per node, failures still raise."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from prefect import flow
from prefect.testing.utilities import prefect_test_harness

from extract_load.ledger import ensure_raw_schema
from flows.dbt_build import DbtBuildFailed, DbtRunResult, dbt_build
from tests.support.warehouse import CORE, OTHERS, add_file
from trips_warehouse.config import Settings


@pytest.fixture(scope="module")
def prefect_api():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _seed(url: str, region: str) -> None:
    with psycopg.connect(url) as conn:
        ensure_raw_schema(conn)
        add_file(conn, "h1", [
            ("t0", region, 7.6, 45.0, 7.7, 45.1, datetime(2018, 5, 21, 8, 0), "funny_car"),
        ])


def _build_in_flow(settings: Settings, url: str, target: Path) -> DbtRunResult:
    @flow(name="dbt-build-under-test")
    def build() -> DbtRunResult:
        return dbt_build(settings, url, select=CORE, exclude=OTHERS, target_path=target)

    return build()


def test_build_in_flow_creates_node_tasks(
    prefect_api, settings: Settings, pg_url: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client

    _seed(pg_url, "Turin")
    result = _build_in_flow(settings, pg_url, tmp_path / "target")
    assert result.success and result.models_built >= 10 and result.tests_failed == 0

    # task runs reach the API through events, asynchronously: poll briefly
    expected = {"model fct_trips", "model dim_regions", "model stg_trips__trips"}
    names: set[str] = set()
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while not expected <= names and time.monotonic() < deadline:
            names = {t.name for t in client.read_task_runs(limit=200)}
            time.sleep(1)
    assert expected <= names, sorted(names)


def test_failing_test_in_flow_raises(
    prefect_api, settings: Settings, pg_url: str, tmp_path: Path
) -> None:
    _seed(pg_url, "")
    with pytest.raises(DbtBuildFailed) as info:
        _build_in_flow(settings, pg_url, tmp_path / "target")
    assert any(f.startswith("expression_is_true_stg_trips__trips_region")
               for f in info.value.result.failures)
