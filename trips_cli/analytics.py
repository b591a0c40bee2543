"""``trips groups``, ``trips weekly-average``, ``trips answer``: thin wrappers over
:mod:`trips_warehouse.analytics`. Bad input exits with code 2 (click usage errors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

import click
import psycopg

from trips_warehouse import analytics
from trips_warehouse.config import load_settings
from trips_warehouse.db import connect, resolve_database_url

# the largest number SQL takes for a limit or a count (bigint): larger is a usage error
BIGINT_MAX = 2**63 - 1


def _json_default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _echo_json(payload) -> None:
    click.echo(json.dumps(payload, indent=2, default=_json_default))


@contextmanager
def _connection() -> Iterator[psycopg.Connection]:
    url = resolve_database_url(load_settings())
    try:
        with connect(url) as conn:
            yield conn
    except analytics.AnalyticsInputError as exc:
        raise click.UsageError(str(exc)) from exc
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction,
            psycopg.errors.InvalidSchemaName) as exc:
        raise click.ClickException(
            f"the analytics marts are not built in this database ({exc.diag.message_primary}); "
            "load data and run `trips dbt build` first (`dbt run` alone does not create the"
            " SQL functions)"
        ) from exc


def _parse_bbox(ctx, param, value):
    if value is None:
        return None
    try:
        return analytics.BBox.parse(value)
    except analytics.AnalyticsInputError as exc:
        raise click.BadParameter(str(exc)) from exc


def _fmt_time(value) -> str:
    return value.strftime("%H:%M") if value is not None else "?"


@click.command("groups")
@click.option("--region", help="Only groups of this region.")
@click.option("--min-trips", type=click.IntRange(0, BIGINT_MAX), default=1, show_default=True,
              help="Only groups with at least this many trips.")
@click.option("--limit", type=click.IntRange(0, BIGINT_MAX), default=20, show_default=True,
              help="Show at most K groups.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def groups_command(region: str | None, min_trips: int, limit: int, as_json: bool) -> None:
    """Groups of similar trips (same region, origin cell, destination cell, time-of-day
    bucket), largest first."""
    with _connection() as conn:
        rows = analytics.trip_groups(conn, region=region, min_trips=min_trips, limit=limit)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("no groups match")
        return
    click.echo(
        f"{'trips':>6}  {'region':<12} {'time':<11}  {'origin (cell center)':<20}  "
        f"{'destination (cell center)':<25}  {'first seen':<16}  {'last seen':<16}  datasources"
    )
    for r in rows:
        origin = f"{r['origin_center_lon']:.3f},{r['origin_center_lat']:.3f}"
        dest = f"{r['destination_center_lon']:.3f},{r['destination_center_lat']:.3f}"
        bucket = f"{_fmt_time(r['bucket_start'])}-{_fmt_time(r['bucket_end'])}"
        click.echo(
            f"{r['trip_count']:>6}  {r['region']:<12} {bucket:<11}  {origin:<20}  {dest:<25}  "
            f"{r['first_seen_at']:%Y-%m-%d %H:%M}  {r['last_seen_at']:%Y-%m-%d %H:%M}  "
            f"{','.join(r['datasources'])}"
        )


@click.command("weekly-average")
@click.option("--region", help="Area = this region (by name).")
@click.option("--bbox", callback=_parse_bbox, metavar="MIN_LON,MIN_LAT,MAX_LON,MAX_LAT",
              help="Area = this closed box (a trip exactly on an edge counts).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]),
              help="Period starts with the ISO week containing this day (default: first week "
                   "of the data).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]),
              help="Period ends with the ISO week containing this day (default: last week of "
                   "the data).")
@click.option("--match", type=click.Choice(analytics.MATCH_CHOICES), default="origin",
              show_default=True, help="For --bbox: which end of the trip must be in the box.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def weekly_average_command(region, bbox, date_from, date_to, match, as_json) -> None:
    """Weekly average number of trips in an area: trips in the area during the period divided
    by the number of ISO weeks in the period (weeks with zero trips included)."""
    if (region is None) == (bbox is None):
        raise click.UsageError("give exactly one of --region or --bbox")
    with _connection() as conn:
        result = analytics.weekly_average(
            conn,
            region=region,
            bbox=bbox,
            date_from=date_from.date() if date_from else None,
            date_to=date_to.date() if date_to else None,
            match=match,
        )
    if as_json:
        _echo_json(result.to_dict())
        return
    avg = result.weekly_average
    what = result.area + (f" (match {result.match})" if result.match else "")
    if avg is None:
        click.echo(f"{what}: no weeks in the period (empty warehouse?)")
        return
    click.echo(
        f"{what}: {avg:.4f} trips/week = {result.total_trips} trips / {result.week_count} "
        f"ISO weeks ({result.first_week} .. week of {result.last_week})"
    )
    click.echo(f"{'iso_week_start':<15} {'iso_week':<9} trips")
    for week, count in result.weeks:
        year, num, _ = week.isocalendar()
        click.echo(f"{week.isoformat():<15} {year}-W{num:02d}  {count}")


@click.command("answer")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def answer_command(as_json: bool) -> None:
    """Answer the two questions (dbt_project/analyses/) on the loaded data."""
    with _connection() as conn:
        answers = analytics.answer_questions(conn)
    if as_json:
        _echo_json(answers)
        return
    for i, answer in enumerate(answers, start=1):
        click.echo(f"{i}. {answer['question']}")
        rows = answer["rows"]
        if not rows:
            click.echo("   (no data)")
        for row in rows:
            click.echo("   " + "  ".join(f"{k}={_json_default(v) if v is not None else '-'}"
                                         for k, v in row.items()))
        click.echo()


def register(group: click.Group) -> None:
    """Attach this module's commands to the ``trips`` group."""
    for command in (groups_command, weekly_average_command, answer_command):
        group.add_command(command)
