"""``trips serve``: the always-on ingestion service (the logic is in :mod:`flows.service`)."""

from __future__ import annotations

import logging

import click

from trips_warehouse.config import load_settings


@click.command("serve")
@click.option(
    "--server/--no-server",
    "use_local_server",
    default=True,
    show_default=True,
    help="Use (and start if needed) the local Prefect server; --no-server needs "
    "PREFECT_API_URL (a deployment needs a real API).",
)
def serve_command(use_local_server: bool) -> None:
    """Ingest every file that arrives in the inbox (TRIPS_INBOX_DIR), within seconds.

    Serves the deployments trips-ingest/inbox (also startable from the Prefect UI or API)
    and trips-dbt-build/nightly-checks (its cron), keeping Spark and the parsed dbt project
    warm between runs. A file has arrived when it is closed after writing or renamed into
    the inbox: write it elsewhere or under a dot-name, then rename it. Files already in the
    inbox at start are ingested (those loaded before are skipped). Stops on SIGTERM / Ctrl-C.
    """
    import contextlib
    import os

    import psycopg

    from flows.server import ui_url_for, use_server
    from flows.service import serve
    from trips_warehouse.db import resolve_database_url

    settings = load_settings()
    # before Prefect and Spark start: an unreachable database is one line, not a traceback
    psycopg.connect(resolve_database_url(settings), connect_timeout=10).close()
    if not use_local_server and not os.environ.get("PREFECT_API_URL"):
        raise click.UsageError("--no-server needs PREFECT_API_URL: a deployment needs an API")
    # the service's own progress lines (arrivals, runs) at INFO, whatever -v says
    logging.getLogger("flows.service").setLevel(logging.INFO)
    server = use_server(settings) if use_local_server else contextlib.nullcontext(
        os.environ["PREFECT_API_URL"])
    with server as api_url:
        click.echo(f"Prefect UI: {ui_url_for(api_url)}", err=True)
        runs = serve(settings, ready=lambda message: click.echo(f"serving: {message}", err=True))
    click.echo(f"stopped after {runs} run(s)", err=True)


def register(group: click.Group) -> None:
    group.add_command(serve_command)
