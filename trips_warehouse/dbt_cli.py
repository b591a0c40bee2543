"""``trips dbt ...``: any dbt command against the warehouse this project uses.

The connection comes from TRIPS_DATABASE_URL or the embedded server (started if needed), so
``trips dbt docs generate`` / ``trips dbt docs serve`` / ``trips dbt build -s fct_trips`` work on
the embedded defaults without setting the TRIPS_PG_* variables by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from trips_warehouse.config import DBT_PROFILES_DIR, DBT_PROJECT_DIR, load_settings
from trips_warehouse.db import ConnectionParams, resolve_database_url


def dbt_env(database_url: str) -> dict[str, str]:
    """Environment for a dbt subprocess: connection, project and profiles folders."""
    return {
        **os.environ,
        **ConnectionParams.from_url(database_url).dbt_env(),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROFILES_DIR": str(DBT_PROFILES_DIR),
    }


@click.command(
    "dbt",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
def dbt_command(args: tuple[str, ...]) -> None:
    """Run `dbt ARGS...` on the warehouse: `trips dbt docs generate`, `trips dbt docs serve`."""
    url = resolve_database_url(load_settings())
    dbt = Path(sys.executable).with_name("dbt")
    result = subprocess.run([str(dbt), *args], env=dbt_env(url), check=False)
    sys.exit(result.returncode)


def register(group: click.Group) -> None:
    group.add_command(dbt_command)
