"""Extract/load commands for the ``trips`` group (``trips generate``; more register here)."""

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


def register(group: click.Group) -> None:
    """Attach this module's commands to the ``trips`` group."""
    group.add_command(generate_command)
