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

from trips_warehouse.config import color_wanted, load_settings
from trips_warehouse.db import dbt_env, resolve_database_url


@click.command(
    "dbt",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
def dbt_command(args: tuple[str, ...]) -> None:
    """Run `dbt ARGS...` on the warehouse: `trips dbt docs generate`, `trips dbt docs serve`."""
    settings = load_settings()
    url = resolve_database_url(settings)
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, **dbt_env(url, settings)}
    # dbt colours its output even into a pipe or file (and dbt.log always): only on a
    # terminal without NO_COLOR; an explicit DBT_USE_COLORS* or --use-colors still wins
    if not color_wanted(sys.stdout):
        env.setdefault("DBT_USE_COLORS", "false")
    env.setdefault("DBT_USE_COLORS_FILE", "false")
    result = subprocess.run([str(dbt), *args], env=env, check=False)
    sys.exit(result.returncode)


def register(group: click.Group) -> None:
    group.add_command(dbt_command)
