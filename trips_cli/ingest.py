"""``trips ingest``: run the ingestion flow on files, folders or globs and print its summary."""

from __future__ import annotations

import json
import sys

import click

from trips_warehouse.config import load_settings


def _print_summary(summary, as_json: bool) -> None:
    duplicates = (f"  ({summary.rows_duplicate:,} identical to another row of their file, kept)"
                  if summary.rows_duplicate else "")
    if as_json:
        click.echo(
            json.dumps({**summary.counts(), "refused": summary.refused}, indent=2, default=str)
        )
        return
    click.echo(
        f"files        {summary.files} ({summary.files_loaded} loaded, "
        f"{summary.files_skipped} skipped: loaded before or a copy, "
        f"{summary.files_refused} refused)\n"
        f"rows read    {summary.rows_read:,}\n"
        f"rejected     {summary.rows_rejected:,}  (quarantined with their reason)\n"
        f"loaded       {summary.rows_loaded:,}"
        f"{duplicates}\n"
        f"dbt          {summary.models_built} models built, {summary.tests_passed} tests passed, "
        f"{summary.tests_failed} failed"
        f"{f' (checks: {summary.checks} rows)' if summary.checks else ''}\n"
        f"duration     {summary.duration_s:.1f}s "
        + " ".join(f"[{k} {v:.1f}s]" for k, v in summary.stage_seconds.items())
    )


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--dbt/--no-dbt",
    "run_dbt",
    default=True,
    show_default=True,
    help="Run `dbt build` after loading.",
)
@click.option(
    "--server/--no-server",
    "use_local_server",
    default=True,
    show_default=True,
    help="Use (and start if needed) the local Prefect server so runs show in its UI "
    "and automations fire; --no-server runs against PREFECT_API_URL or an "
    "ephemeral in-process API.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def ingest_command(
    ctx: click.Context, paths: tuple[str, ...], run_dbt: bool, use_local_server: bool,
    as_json: bool,
) -> None:
    """Ingest trip CSV PATHS (files, folders or globs; .csv or .csv.gz) end to end.

    Spark lands each new file as parquet (bad rows to the quarantine), COPY loads it into
    Postgres `raw`, then `dbt build` refreshes the models. Files already loaded are skipped.
    Exits 1 if anything failed (a refused file, a failing dbt test...).
    """
    import contextlib

    import psycopg

    from extract_load.sources import SourceError, expand_paths
    from flows.ingest import ingest_flow
    from flows.server import ui_url_for, use_server
    from flows.summary import IngestSummary
    from trips_warehouse.db import resolve_database_url

    settings = load_settings()
    try:
        expand_paths(paths)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from None
    # before Prefect starts: an unreachable database is one line, not a failed flow run
    psycopg.connect(resolve_database_url(settings), connect_timeout=10).close()
    server = use_server(settings) if use_local_server else contextlib.nullcontext(None)
    with server as api_url:
        state = ingest_flow(list(paths), run_dbt=run_dbt, return_state=True)
        if api_url:
            run_id = state.state_details.flow_run_id
            click.echo(f"flow run     {ui_url_for(api_url)}/runs/flow-run/{run_id}", err=True)
    if state.is_completed():
        _print_summary(state.result(), as_json)
        return
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, IngestSummary):  # refused files: the rest was ingested
        _print_summary(summary, as_json)
        for outcome in summary.outcomes:
            if outcome.status == "refused":
                click.echo(f"refused {outcome.path}: {outcome.message}", err=True)
    else:
        verbose = (ctx.find_root().obj or {}).get("verbose")
        if verbose and isinstance(summary, BaseException):
            raise summary
        click.echo(f"ingestion {state.name.lower()}: {_one_line(state.message)}", err=True)
    sys.exit(1)


def _one_line(message: str | None) -> str:
    lines = [line for line in (message or "").splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


def register(group: click.Group) -> None:
    group.add_command(ingest_command)
