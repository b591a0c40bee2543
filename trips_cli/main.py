"""The ``trips`` command: one click group; each area registers its commands from its own module."""

from __future__ import annotations

import click

from trips_cli.output import setup as setup_output
from trips_warehouse import __version__
from trips_warehouse.config import load_settings


class _Group(click.Group):
    """The ``trips`` group: one line per problem on stderr. A usage error is its message
    alone, exit 2 (no usage block: ``--help`` has it); a database that cannot be reached is
    one line naming its URL (password masked), exit 1, however deep in a flow run or another
    exception it was raised (the traceback only with ``-v``)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None  # click prints the usage lines only when it has the context
            raise
        except Exception as exc:
            verbose = (ctx.obj or {}).get("verbose")
            if _is_server_error(exc) and not verbose:
                raise click.ClickException(f"Prefect server: {exc}") from None
            cause = database_error_in(exc)
            if cause is None or verbose:
                raise
            raise click.ClickException(
                f"database {database_named()}: {database_error(cause)}"
            ) from None


def _is_server_error(exc: Exception) -> bool:
    import sys

    server = sys.modules.get("flows.server")  # only a command that imported it raises it
    return server is not None and isinstance(exc, server.ServerError)


def database_error_in(exc: BaseException | None) -> Exception | None:
    """The psycopg.OperationalError that ``exc`` is or was raised from (a flow run wraps it,
    a library may re-raise it as its own error), else None."""
    import psycopg

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, psycopg.OperationalError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None


def database_named() -> str:
    """The database the commands use, for a message: TRIPS_DATABASE_URL (password masked)
    or the embedded server's folder."""
    from trips_warehouse.db import masked_url

    try:
        settings = load_settings()
    except ValueError:
        return "(TRIPS_* settings do not parse)"
    if settings.database_url:
        return masked_url(settings.database_url)
    return f"(embedded, {settings.embedded_pg_dir})"


def database_error(exc: Exception) -> str:
    """psycopg's connection error on one line (it is several, one per address tried)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(dict.fromkeys(lines)) or type(exc).__name__


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trips")
@click.option("-v", "--verbose", count=True,
              help="Logs on stderr: -v adds INFO (the flow runs' logs, dbt's lines) and "
              "tracebacks, -vv DEBUG. [default: warnings and errors]")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """trips warehouse: CSV trips -> Spark -> parquet -> Postgres COPY -> dbt marts.

    stdout carries each command's result (with --json only the JSON document); logs and
    progress go to stderr, with no escape codes unless it is a terminal (NO_COLOR honoured).
    """
    ctx.ensure_object(dict)["verbose"] = verbose
    setup_output(verbose)
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
