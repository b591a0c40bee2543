"""Extract/load commands of the ``trips`` group: ``generate``, ``raw archive|replay``,
``cluster up|down|status``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click


def _progress_bar(rows: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(
        total=rows,
        unit="rows",
        unit_scale=True,
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        desc="generate",
    )


@click.command("generate")
@click.option("--rows", "-n", type=click.IntRange(min=0), required=True, help="Rows to write.")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    required=True,
    help="Output CSV path ('-' for stdout). A .gz suffix turns on gzip.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--gzip/--no-gzip",
    "gzip_output",
    default=None,
    help="Compress with gzip. [default: on when --out ends with .gz]",
)
@click.option(
    "--start-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2018-05-07",
    show_default=True,
    help="First day of the generated period.",
)
@click.option("--weeks", type=click.IntRange(min=1), default=4, show_default=True)
@click.option(
    "--bad-rows",
    "bad_fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Fraction of rows replaced by malformed ones (bad WKT, out-of-range coordinate, "
    "bad timestamp, missing column, empty region): exactly floor(rows * FRACTION).",
)
@click.option(
    "--region",
    "regions",
    multiple=True,
    help="Only trips of this region (repeatable); regions keep their relative weights. "
    "[default: all regions]",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line.")
def generate_command(
    rows: int,
    out: Path,
    seed: int,
    gzip_output: bool | None,
    start_date: datetime,
    weeks: int,
    bad_fraction: float,
    regions: tuple[str, ...],
    quiet: bool,
) -> None:
    """Write deterministic synthetic trips in the input CSV format.

    The same options and seed always give the same bytes. Rows are generated and written in
    chunks, so memory stays flat whatever --rows is.
    """
    from extract_load.generate import DEFAULT_SPEC, generate_file, write_csv

    try:
        spec = DEFAULT_SPEC.only(regions) if regions else DEFAULT_SPEC
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--region") from exc
    options = {
        "start": start_date.date(),
        "weeks": weeks,
        "bad_fraction": bad_fraction,
        "spec": spec,
    }
    with _progress_bar(rows, quiet) as bar:
        if str(out) == "-":
            result = write_csv(
                sys.stdout.buffer,
                rows,
                seed,
                gzip_output=bool(gzip_output),
                progress=bar.update,
                **options,
            )
            sys.stdout.buffer.flush()
        else:
            result = generate_file(
                out, rows, seed, gzip_output=gzip_output, progress=bar.update, **options
            )
    if not quiet:
        click.echo(
            f"wrote {result.rows:,} rows ({result.bad_rows:,} malformed, "
            f"{result.bytes_written:,} bytes uncompressed) to {out}",
            err=True,
        )


@click.group("raw")
def raw_group() -> None:
    """raw.trips retention: archive the batches the marts have, replay them from the landing."""


def _raw_connection():
    import psycopg

    from trips_warehouse.config import load_settings
    from trips_warehouse.db import resolve_database_url

    settings = load_settings()
    return settings, psycopg.connect(resolve_database_url(settings), autocommit=True)


@raw_group.command("archive")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def raw_archive(as_json: bool) -> None:
    """Remove from raw.trips the batches every mart has folded in (the ingest flow does this
    after each passing build unless TRIPS_RAW_RETENTION=keep)."""
    import json

    from extract_load.archive import archive_modelled_batches
    from extract_load.ledger import ensure_raw_schema
    from trips_warehouse.config import MARTS_SCHEMA
    from trips_warehouse.lock import pipeline_lock

    settings, conn = _raw_connection()
    with conn, pipeline_lock(conn):
        ensure_raw_schema(conn, settings.raw_schema)
        result = archive_modelled_batches(conn, raw=settings.raw_schema, marts=MARTS_SCHEMA)
    if as_json:
        click.echo(json.dumps({"batches": result.batches, "rows": result.rows,
                               "truncated": result.truncated}))
    else:
        click.echo(f"archived {result.rows:,} rows of {result.batches:,} batches")


@raw_group.command("replay")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def raw_replay(as_json: bool) -> None:
    """COPY every archived batch back into raw.trips from its landed parquet (same batch and
    trip ids). Then `trips dbt build --full-refresh` rebuilds the marts from raw."""
    import json

    from extract_load.archive import replay_archived
    from extract_load.ledger import ensure_raw_schema
    from trips_warehouse.lock import pipeline_lock

    settings, conn = _raw_connection()
    with conn, pipeline_lock(conn):
        ensure_raw_schema(conn, settings.raw_schema)
        rows = replay_archived(conn, settings.landing_dir, raw=settings.raw_schema,
                               chunk_rows=settings.load_batch_rows)
    click.echo(json.dumps({"rows": rows}) if as_json else f"replayed {rows:,} rows")


@click.group("cluster")
def cluster_group() -> None:
    """A Spark standalone cluster on this machine (master + workers on 127.0.0.1) to run the
    landing on: `trips cluster up`, then TRIPS_SPARK_MASTER=<its URL> trips ingest ..."""


def _cluster_report(cluster, as_json: bool) -> None:
    import json

    from extract_load.cluster import master_state

    state = master_state(cluster) or {}
    if as_json:
        click.echo(json.dumps({**cluster.to_json(),
                               "alive_workers": state.get("aliveworkers", 0)}, indent=2))
        return
    click.echo(cluster.master_url)
    click.echo(
        f"master UI {cluster.master.webui_url}, {state.get('aliveworkers', 0)} of "
        f"{len(cluster.workers)} workers alive, {state.get('cores', 0)} cores\n"
        f"use it:  export TRIPS_SPARK_MASTER={cluster.master_url}\n"
        f"logs:    {Path(cluster.master.log_file).parent}",
        err=True,
    )


@cluster_group.command("up")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--cores", type=click.IntRange(min=1), default=1, show_default=True,
              help="Cores per worker.")
@click.option("--memory", default="1g", show_default=True,
              help="Memory per worker for its executors (Spark's executor default is 1g).")
@click.option("--port", type=click.IntRange(min=0), default=7077, show_default=True,
              help="Master port (0: any free port).")
@click.option("--webui-port", type=click.IntRange(min=0), default=8080, show_default=True,
              help="Master web UI port (0: any free port).")
@click.option("--json", "as_json", is_flag=True, help="Print the cluster as JSON.")
def cluster_up(workers: int, cores: int, memory: str, port: int, webui_port: int,
               as_json: bool) -> None:
    """Start the cluster in the background (state and logs under $TRIPS_DATA_DIR/spark-cluster)
    and print its master URL; no-op if it already runs."""
    from extract_load.cluster import ClusterSpec, running, start
    from trips_warehouse.config import load_settings

    home = load_settings().spark_cluster_dir
    cluster = running(home)
    if cluster is None:
        spec = ClusterSpec(workers=workers, cores_per_worker=cores, memory_per_worker=memory,
                           master_port=port, master_webui_port=webui_port)
        try:
            cluster = start(home, spec)
        except (RuntimeError, TimeoutError) as exc:  # e.g. a port in use: the log says which
            raise click.ClickException(str(exc)) from None
    else:
        click.echo("already running", err=True)
    _cluster_report(cluster, as_json)


@cluster_group.command("down")
def cluster_down() -> None:
    """Stop the workers (and their executors) and the master."""
    from extract_load.cluster import stop
    from trips_warehouse.config import load_settings

    click.echo("stopped" if stop(load_settings().spark_cluster_dir) else "not running")


@cluster_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the cluster as JSON.")
def cluster_status(as_json: bool) -> None:
    """Print the master URL and the workers alive (exit code 1 if not running)."""
    from extract_load.cluster import running
    from trips_warehouse.config import load_settings

    cluster = running(load_settings().spark_cluster_dir)
    if cluster is None:
        click.echo("not running")
        raise SystemExit(1)
    _cluster_report(cluster, as_json)


def register(group: click.Group) -> None:
    """Attach this module's commands to the ``trips`` group."""
    group.add_command(generate_command)
    group.add_command(raw_group)
    group.add_command(cluster_group)
