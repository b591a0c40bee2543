"""``trips db``: manage the embedded PostgreSQL and print connection details."""

from __future__ import annotations

import click

from trips_warehouse.config import load_settings
from trips_warehouse.db import resolve_database_url, stop_embedded_server


@click.group("db")
def db_group() -> None:
    """The warehouse database (embedded unless TRIPS_DATABASE_URL is set)."""


@db_group.command("url")
def db_url() -> None:
    """Print the database URL (starts the embedded server if needed)."""
    click.echo(resolve_database_url(load_settings()))


@db_group.command("stop")
def db_stop() -> None:
    """Stop the embedded server (no-op when TRIPS_DATABASE_URL is set)."""
    settings = load_settings()
    if settings.database_url:
        click.echo("TRIPS_DATABASE_URL is set: nothing embedded to stop")
        return
    click.echo("stopped" if stop_embedded_server(settings) else "no embedded server running")


def register(group: click.Group) -> None:
    group.add_command(db_group)
