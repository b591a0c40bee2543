"""The ``trips`` command: one click group; each area registers its commands from its own module."""

from __future__ import annotations

import logging

import click

from trips_warehouse import __version__
from trips_warehouse.config import load_settings


class _Group(click.Group):
    """The ``trips`` group: one line per problem on stderr. A usage error is its message
    alone, exit 2 (no usage block: ``--help`` has it); a database that cannot be reached is
    one line, exit 1 (the traceback only with ``-v``)."""

    def invoke(self, ctx: click.Context):
        import psycopg

        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None  # click prints the usage lines only when it has the context
            raise
        except psycopg.OperationalError as exc:
            if (ctx.obj or {}).get("verbose"):
                raise
            raise click.ClickException(f"database: {database_error(exc)}") from None


def database_error(exc: Exception) -> str:
    """psycopg's connection error on one line (it is several, one per address tried)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(dict.fromkeys(lines)) or type(exc).__name__


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trips")
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level; show tracebacks.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """trips warehouse: CSV trips -> Spark -> parquet -> Postgres COPY -> dbt marts."""
    ctx.ensure_object(dict)["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        load_settings()
    except ValueError as exc:  # a TRIPS_* variable that does not parse: say which, exit 2
        raise click.UsageError(f"configuration: {exc}") from None


def _register_all() -> None:
    from trips_cli.analytics import register as register_analytics
    from trips_cli.db import register as register_db
    from trips_cli.dbt import register as register_dbt
    from trips_cli.extract_load import register as register_extract_load
    from trips_cli.flows import register as register_flows
    from trips_cli.ingest import register as register_ingest
    from trips_cli.serve import register as register_serve
    from trips_cli.superset import register as register_superset

    for register in (
        register_extract_load, register_ingest, register_flows, register_analytics, register_db,
        register_dbt, register_superset, register_serve,
    ):
        register(main)


_register_all()

if __name__ == "__main__":  # pragma: no cover - `python -m trips_cli`
    main()
