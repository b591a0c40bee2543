"""Databases on the test server for the integration tier (the ``pg_url`` fixture and the
module-scoped warehouses that build once for many tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from trips_warehouse.db import with_database


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
