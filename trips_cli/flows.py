"""CLI commands of the orchestration area: ``trips server``, ``trips notify``, ``trips watch``.

Thin wrappers: the logic lives in :mod:`flows.server`, :mod:`flows.automations` and
:mod:`flows.watch`. Every command that talks to Prefect goes through
:func:`flows.server.use_server`, so it starts the local server when needed (or uses
``PREFECT_API_URL`` when it is set).
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

import click

from trips_warehouse.config import load_settings


@click.group("server")
def server_group() -> None:
    """The local Prefect server (SQLite under $TRIPS_DATA_DIR/prefect, 127.0.0.1, with the UI)."""


@server_group.command("start")
@click.option("--port", default=4200, show_default=True, help="Loopback port of the API + UI.")
@click.option("--foreground", is_flag=True, help="Run in this terminal instead of the background.")
def server_start(port: int, foreground: bool) -> None:
    """Start the server (in the background unless --foreground); no-op if already running."""
    from flows import server

    settings = load_settings()
    if foreground:
        click.echo(f"Prefect UI: {server.ui_url_for(server.api_url_for(port))}")
        server.run_foreground(settings, port=port)
    running = server.running_api_url(settings)
    if running:
        click.echo(f"already running: {running} (UI {server.ui_url_for(running)})")
        return
    url = server.start_background(settings, port=port)
    click.echo(f"Prefect server running: API {url}, UI {server.ui_url_for(url)}")
    click.echo(f"logs: {server.server_paths(settings).log_file}; stop: trips server stop")


@server_group.command("stop")
def server_stop() -> None:
    """Stop the background server of this data dir."""
    from flows import server

    click.echo("stopped" if server.stop(load_settings()) else "not running")


@server_group.command("status")
def server_status() -> None:
    """Say whether the server is running and where (exit code 1 if not)."""
    from flows import server

    url = server.running_api_url(load_settings())
    if not url:
        click.echo("not running")
        raise SystemExit(1)
    click.echo(f"running: API {url}, UI {server.ui_url_for(url)}")


@click.group("notify")
def notify_group() -> None:
    """Notifications: Prefect automations that push run states and stage progress."""


@notify_group.command("apply")
def notify_apply() -> None:
    """Save the destinations from TRIPS_NOTIFY_* and reconcile the automations (idempotent)."""
    from flows.automations import aapply
    from flows.server import use_server

    settings = load_settings()
    with use_server(settings):
        report = asyncio.run(aapply(settings))
    for line in report.lines():
        click.echo(line)


@notify_group.command("list")
def notify_list() -> None:
    """List the managed automations on the server."""
    from flows.automations import alist
    from flows.server import use_server

    with use_server(load_settings()):
        rows = asyncio.run(alist())
    if not rows:
        click.echo("no trips automations (run `trips notify apply`)")
    for name, enabled, actions in rows:
        click.echo(f"{name}  {'enabled' if enabled else 'disabled'}  {actions} destination(s)")


@notify_group.command("remove")
def notify_remove() -> None:
    """Delete the managed automations."""
    from flows.automations import aremove
    from flows.server import use_server

    with use_server(load_settings()):
        removed = asyncio.run(aremove())
    click.echo(f"removed: {', '.join(removed) or 'nothing'}")


@notify_group.command("test")
def notify_test() -> None:
    """Send a test message to every configured destination, directly (not via the server)."""
    from flows.automations import destination_blocks

    blocks = destination_blocks(load_settings())
    if not blocks:
        raise click.ClickException("no destination configured (TRIPS_NOTIFY_*)")

    async def send(block) -> None:
        # as the server's send-notification action does (without raise_on_failure, Apprise
        # blocks only log a failure)
        with block.raise_on_failure():
            await block.notify("Test message from `trips notify test`.", "[trips] test")

    failed = False
    for name, block in blocks.items():
        try:
            asyncio.run(send(block))
            click.echo(f"{name}: sent")
        except Exception as exc:  # report every destination, then fail
            failed = True
            click.echo(f"{name}: FAILED {type(exc).__name__}: {exc}", err=True)
    if failed:
        raise SystemExit(1)


@click.command("watch")
@click.option("--run", "run_id", type=click.UUID, default=None, help="Follow one flow run only.")
@click.option("--exit-on-end", is_flag=True, help="Exit when the first run seen ends.")
def watch_command(run_id: UUID | None, exit_on_end: bool) -> None:
    """Live view of ingestion runs: each stage and state as it happens (no polling)."""
    from flows.server import use_server
    from flows.watch import watch

    with use_server(load_settings()) as api_url:
        target = f"run {run_id}" if run_id else "trips-ingest runs"
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                watch(
                    run_id,
                    exit_on_end=exit_on_end,
                    echo=lambda line: click.echo(line),
                    ready=lambda: click.echo(f"watching {target} on {api_url} (Ctrl-C to stop)"),
                )
            )


def register(group: click.Group) -> None:
    """Attach this module's commands to the ``trips`` group."""
    group.add_command(server_group)
    group.add_command(notify_group)
    group.add_command(watch_command)
