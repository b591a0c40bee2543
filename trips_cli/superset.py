"""``trips superset up|down|status|install``: Superset with the trips dashboard, on 127.0.0.1.

Thin wrappers over :mod:`trips_warehouse.superset`.
"""

from __future__ import annotations

import click

from trips_warehouse.config import load_settings


@click.group("superset")
def superset_group() -> None:
    """Superset on the dbt marts (own virtualenv, SQLite metadata, read-only warehouse role)."""


@superset_group.command("install")
def superset_install() -> None:
    """Create Superset's virtualenv if it is missing or outdated (what `up` does first)."""
    from trips_warehouse import superset

    paths = superset.superset_paths(load_settings())
    if superset.venv_ready(paths):
        click.echo(f"already installed: {paths.venv}")
        return
    superset.install_venv(paths, echo=click.echo)
    click.echo(f"installed: {paths.venv}")


@superset_group.command("up")
def superset_up() -> None:
    """Install (once), grant the reader role, import the dashboard, start Superset."""
    from trips_warehouse import superset

    settings = load_settings()
    try:
        result = superset.up(settings, echo=click.echo)
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    paths = superset.superset_paths(settings)
    click.echo(f"Superset {'started' if result.started else 'already running'}: {result.url}")
    click.echo(f"dashboard: {result.dashboard_url}")
    if settings.superset_admin_password:
        click.echo(f"log in as {result.admin_user} (password: TRIPS_SUPERSET_ADMIN_PASSWORD)")
    else:
        click.echo(
            f"log in as {result.admin_user}, password in {paths.secret('admin-password')}"
        )
    click.echo(f"logs: {paths.log_file}; stop: trips superset down")


@superset_group.command("down")
def superset_down() -> None:
    """Stop Superset (its metadata and the virtualenv stay)."""
    from trips_warehouse import superset

    click.echo("stopped" if superset.stop(load_settings()) else "not running")


@superset_group.command("status")
def superset_status() -> None:
    """Say whether Superset is running and where (exit code 1 if not)."""
    from trips_warehouse import superset

    url = superset.running_url(load_settings())
    if not url:
        click.echo("not running")
        raise SystemExit(1)
    port = int(url.rsplit(":", 1)[1])
    click.echo(f"running: {url}, dashboard {superset.dashboard_url(port)}")


def register(group: click.Group) -> None:
    group.add_command(superset_group)
