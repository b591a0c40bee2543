"""The ``trips`` command: one click group; each area registers its commands from its own module."""

from __future__ import annotations

import logging

import click

from trips_warehouse import __version__
from trips_warehouse.config import load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trips")
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """trips warehouse: CSV trips -> Spark -> parquet -> Postgres COPY -> dbt marts."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        load_settings()
    except ValueError as exc:  # a TRIPS_* variable that does not parse: say which, exit 2
        raise click.UsageError(f"configuration: {exc}") from None


def _register_all() -> None:
    from extract_load.cli import register as register_extract_load
    from flows.cli import register as register_flows
    from flows.ingest_cli import register as register_ingest
    from trips_warehouse.analytics_cli import register as register_analytics
    from trips_warehouse.db_cli import register as register_db
    from trips_warehouse.dbt_cli import register as register_dbt
    from trips_warehouse.superset_cli import register as register_superset

    for register in (
        register_extract_load, register_ingest, register_flows, register_analytics, register_db,
        register_dbt, register_superset,
    ):
        register(main)


_register_all()

if __name__ == "__main__":  # pragma: no cover - `python -m trips_warehouse.cli`
    main()
