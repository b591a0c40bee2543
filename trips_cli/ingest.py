"""``trips ingest``: run the ingestion flow on files, folders or globs and print its summary."""

from __future__ import annotations

import json
import os
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
        f"dbt          {_dbt_line(summary)}\n"
        f"duration     {summary.duration_s:.1f}s "
        + " ".join(f"[{k} {v:.1f}s]" for k, v in summary.stage_seconds.items())
    )


def _dbt_line(summary) -> str:
    if summary.build.skipped:  # nothing new since the last build: nothing was built
        return f"build skipped: {summary.build.skipped}"
    return (f"{summary.models_built} models built, {summary.tests_passed} tests passed, "
            f"{summary.tests_failed} failed"
            f"{f' (checks: {summary.checks} rows)' if summary.checks else ''}")


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
    The summary goes to stdout; each stage's start and end, warnings and errors to stderr
    (the full log is in the Prefect UI; -v shows it here too).
    A path that matches nothing exits 2 at once; anything failed (a refused file, a failing
    dbt test, an unreachable database...) exits 1.
    """
    # the inputs first, before the imports of Spark and Prefect and before any wait for the
    # pipeline lock (another ingestion may hold it for minutes)
    from extract_load.sources import SourceError, expand_paths

    try:
        expand_paths(paths)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from None

    if not use_local_server:
        # Prefect's ephemeral API server gets 20 s to start by default, which a busy machine
        # overran (a traceback); an explicit setting wins. Before Prefect reads its settings.
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

    import contextlib

    import psycopg

    from flows.ingest import ingest_flow
    from flows.server import ui_url_for, use_server
    from flows.summary import IngestSummary
    from trips_cli.main import database_error_in
    from trips_cli.output import stage_display, stdout_kept_for_the_result
    from trips_warehouse.db import resolve_database_url
    from trips_warehouse.lock import pipeline_lock_free

    settings = load_settings()
    verbose = (ctx.find_root().obj or {}).get("verbose")
    # before Prefect starts: an unreachable database is one line, not a failed flow run
    with psycopg.connect(resolve_database_url(settings), connect_timeout=10,
                         autocommit=True) as conn:
        if not pipeline_lock_free(conn):
            click.echo("waiting for the pipeline lock: another ingestion, nightly build or "
                       "raw archive/replay is running", err=True)
    server = use_server(settings) if use_local_server else contextlib.nullcontext(None)
    with stdout_kept_for_the_result(), server as api_url:
        def run_url(run_id: str) -> str:
            return f"{ui_url_for(api_url)}/runs/flow-run/{run_id}"

        display = (contextlib.nullcontext(None) if as_json
                   else stage_display(run_url if api_url else None, stages=not verbose))
        with display as shown:
            state = ingest_flow(list(paths), run_dbt=run_dbt, return_state=True)
        run_id = str(state.state_details.flow_run_id)
        if api_url and (shown is None or shown.shown_run != run_id):
            click.echo(f"flow run     {run_url(run_id)}", err=True)
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
        if isinstance(summary, BaseException) and (verbose or database_error_in(summary)):
            raise summary  # the group reports a database error as one line with its URL
        click.echo(f"ingestion {state.name.lower()}: {_one_line(state.message)}", err=True)
    sys.exit(1)


def _one_line(message: str | None) -> str:
    lines = [line for line in (message or "").splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


def register(group: click.Group) -> None:
    group.add_command(ingest_command)
