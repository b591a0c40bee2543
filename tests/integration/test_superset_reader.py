"""Superset's reader role on a real Postgres: reads the marts, tables built later included, and
writes nothing (trips_warehouse.superset.ensure_reader_role)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from trips_warehouse.superset import ensure_reader_role, reader_uri


@pytest.fixture
def reader(pg_url: str, admin_url: str):
    role = f"trips_reader_test_{uuid.uuid4().hex[:8]}"
    yield role
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'drop owned by "{role}"')
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'drop role if exists "{role}"')


def test_reader_role_reads_marts_only_and_cannot_write(pg_url: str, reader: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute("create schema raw")
        owner.execute("create table raw.secret as select 1 as x")
    ensure_reader_role(pg_url, reader, "pw-1")
    ensure_reader_role(pg_url, reader, "pw-2")  # idempotent; the password follows
    with psycopg.connect(pg_url, autocommit=True) as owner:
        # created after the grants, as a later dbt build does: default privileges cover it
        owner.execute("create table marts.built_later as select 42 as answer")
    url = reader_uri(pg_url, reader, "pw-2").replace("postgresql+psycopg2://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select answer from marts.built_later").fetchone() == (42,)
        assert conn.execute("show default_transaction_read_only").fetchone() == ("on",)
        for statement in ("select * from raw.secret", "create table marts.x (y int)",
                          "delete from marts.built_later"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)
