"""The compose stack's database roles on a real server: the pipeline ingests and builds every
model as its own role (no superuser), and Superset's reader can read the marts and write
nothing. Runs docker/postgres/trips-roles.psql exactly as the init script does (psql)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from tests.support.csvdata import good_rows, write_csv

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("psql") is None, reason="needs the psql client"),
]

ROLES_SQL = Path(__file__).resolve().parents[2] / "docker" / "postgres" / "trips-roles.psql"


def _as_user(url: str, user: str, password: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
    return urlunparse(parsed._replace(netloc=f"{user}:{password}@{host}"))


@pytest.fixture
def roles(pg_url, admin_url):
    """The pipeline and reader roles of trips-roles.psql on the test database (unique names:
    roles belong to the whole server); dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = {"pipeline": f"trips_pipeline_{suffix}", "reader": f"superset_reader_{suffix}"}
    subprocess.run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", pg_url, "-v", "owner=postgres",
         "-v", f"pipeline={names['pipeline']}", "-v", "pipeline_password=pipeline-pw",
         "-v", f"reader={names['reader']}", "-v", "reader_password=reader-pw",
         "-f", str(ROLES_SQL)],
        check=True, capture_output=True, text=True,
    )
    yield {
        "pipeline_url": _as_user(pg_url, names["pipeline"], "pipeline-pw"),
        "reader_url": _as_user(pg_url, names["reader"], "reader-pw"),
        **names,
    }
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity"
                     " where usename = any(%s)", (list(names.values()),))
        for name in names.values():
            conn.execute(f'drop owned by "{name}" cascade')
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'drop role if exists "{name}"')


def test_the_pipeline_runs_as_its_role_and_the_reader_cannot_write(
    roles, settings, monkeypatch, prefect_server, tmp_path
):
    from flows.ingest import ingest_flow

    monkeypatch.setenv("TRIPS_DATABASE_URL", roles["pipeline_url"])
    monkeypatch.setenv("TRIPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "local[2]")
    state = ingest_flow([str(write_csv(tmp_path / "t.csv", good_rows(12)))], return_state=True)
    assert state.is_completed(), state.message
    assert state.result().rows_loaded == 12 and state.result().tests_failed == 0

    with psycopg.connect(roles["pipeline_url"]) as conn:
        is_super, can_create_role, can_create_db = conn.execute(
            "select rolsuper, rolcreaterole, rolcreatedb from pg_roles"
            " where rolname = current_user").fetchone()
        owners = dict(conn.execute(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace"
            " where nspname in ('raw', 'staging', 'intermediate', 'marts', 'dbt_meta')"
        ).fetchall())
    assert (is_super, can_create_role, can_create_db) == (False, False, False)
    # dbt_meta: dbt's checks watermark, recorded by the passing build
    assert owners == dict.fromkeys(("raw", "staging", "intermediate", "marts", "dbt_meta"),
                                   roles["pipeline"])

    with psycopg.connect(roles["reader_url"], autocommit=True) as conn:
        # reads the marts, tables dbt created after the grants included
        assert conn.execute("select count(*) from marts.fct_trips").fetchone()[0] == 12
        assert conn.execute("select count(*) from marts.trip_groups").fetchone()[0] > 0
        # its transactions are read-only by default ...
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("delete from marts.trip_groups")
        # ... and a session that turns that off still has no right to write anything
        conn.execute("set default_transaction_read_only = off")
        for statement in (
            "insert into marts.dim_regions select * from marts.dim_regions limit 1",
            "update marts.fct_trips set trip_at = trip_at",
            "delete from marts.trip_groups",
            "truncate marts.fct_trips",
            "create table marts.mine (x int)",
            "drop table marts.fct_trips",
            "create table public.mine (x int)",
            "create schema mine",
            "select count(*) from raw.trips",
            "select count(*) from raw.ingestions",
            "select count(*) from dbt_meta.checks_watermark",
            "insert into raw.ingestions (file_hash, file_path, file_size_bytes, status)"
            " values ('x', 'x', 0, 'loaded')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
