"""Analytics service: similar-trip groups, weekly average trips for an area, the two questions.

Plain functions taking a psycopg connection; the ``trips`` commands in
:mod:`trips_cli.analytics` are thin wrappers. Every number comes from objects dbt
manages: the ``marts.trip_groups`` / ``marts.agg_weekly_trips_by_*`` models and the
``marts.weekly_trip_counts_*`` functions (``dbt_project/functions``). User input reaches SQL
only as bind parameters.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import jinja2
import psycopg
from psycopg.rows import dict_row

from trips_warehouse.config import DBT_PROJECT_DIR, MARTS_SCHEMA

MATCH_CHOICES = ("origin", "destination", "both")
ANALYSES_DIR = DBT_PROJECT_DIR / "analyses"
QUESTION_ANALYSES = {
    "latest_datasource_in_top_two_regions": (
        "From the two most commonly appearing regions, which is the latest datasource?"
    ),
    "regions_with_cheap_mobile": 'What regions has the "cheap_mobile" datasource appeared in?',
}


class AnalyticsInputError(ValueError):
    """Bad user input (unknown region, malformed box, reversed period): exit code 2."""


@dataclass(frozen=True)
class BBox:
    """A closed lon/lat box: a point exactly on an edge is inside."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        """Parse ``min_lon,min_lat,max_lon,max_lat`` and validate it."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            raise AnalyticsInputError(
                f"bounding box must be min_lon,min_lat,max_lon,max_lat (4 numbers), got {text!r}"
            )
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise AnalyticsInputError(
                f"bounding box values must be numbers, got {text!r}"
            ) from None
        box = cls(*values)
        box.validate()
        return box

    def validate(self) -> None:
        values = (self.min_lon, self.min_lat, self.max_lon, self.max_lat)
        if not all(math.isfinite(v) for v in values):
            raise AnalyticsInputError("bounding box values must be finite numbers")
        for name, v in (("min_lon", self.min_lon), ("max_lon", self.max_lon)):
            if not -180.0 <= v <= 180.0:
                raise AnalyticsInputError(f"{name} {v} is out of range [-180, 180]")
        for name, v in (("min_lat", self.min_lat), ("max_lat", self.max_lat)):
            if not -90.0 <= v <= 90.0:
                raise AnalyticsInputError(f"{name} {v} is out of range [-90, 90]")
        if self.min_lon > self.max_lon:
            raise AnalyticsInputError(
                f"min_lon {self.min_lon} is greater than max_lon {self.max_lon}"
            )
        if self.min_lat > self.max_lat:
            raise AnalyticsInputError(
                f"min_lat {self.min_lat} is greater than max_lat {self.max_lat}"
            )

    def __str__(self) -> str:
        return f"{self.min_lon:g},{self.min_lat:g},{self.max_lon:g},{self.max_lat:g}"


@dataclass(frozen=True)
class WeeklyAverage:
    """Trips in an area per ISO week of a period (zero-trip weeks included)."""

    area: str
    match: str | None
    first_week: date | None
    last_week: date | None
    total_trips: int
    weeks: list[tuple[date, int]] = field(default_factory=list)

    @property
    def week_count(self) -> int:
        return len(self.weeks)

    @property
    def weekly_average(self) -> Decimal | None:
        if not self.weeks:
            return None
        return Decimal(self.total_trips) / Decimal(len(self.weeks))

    def to_dict(self) -> dict:
        avg = self.weekly_average
        return {
            "area": self.area,
            "match": self.match,
            "first_week": self.first_week.isoformat() if self.first_week else None,
            "last_week": self.last_week.isoformat() if self.last_week else None,
            "week_count": self.week_count,
            "total_trips": self.total_trips,
            "weekly_average": float(avg) if avg is not None else None,
            "weeks": [{"iso_week_start": w.isoformat(), "trip_count": n} for w, n in self.weeks],
        }


def iso_week_start(day: date) -> date:
    """Monday of the ISO week containing ``day``."""
    return day - timedelta(days=day.weekday())


def validate_period(date_from: date | None, date_to: date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise AnalyticsInputError(f"--from {date_from} is after --to {date_to}")


def validate_match(match: str) -> None:
    if match not in MATCH_CHOICES:
        raise AnalyticsInputError(f"match must be one of {', '.join(MATCH_CHOICES)}, got {match!r}")


def list_regions(conn: psycopg.Connection) -> list[str]:
    # region_id -1 is dim_regions' "unknown" member, not a region trips can be in
    rows = conn.execute(
        f"select region_name from {MARTS_SCHEMA}.dim_regions "
        "where region_id <> -1 order by region_name"
    ).fetchall()
    return [r[0] for r in rows if r[0] is not None]


def resolve_region(conn: psycopg.Connection, name: str) -> str:
    """Return the region's exact name; unknown names raise with the closest known ones."""
    regions = list_regions(conn)
    if name in regions:
        return name
    by_lower = {r.lower(): r for r in regions}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(by_lower[c]) for c in close)}?" if close else ""
    known = f" (known regions: {', '.join(regions)})" if regions and len(regions) <= 20 else ""
    raise AnalyticsInputError(f"unknown region {name!r}{hint}{known}")


def weekly_average(
    conn: psycopg.Connection,
    *,
    region: str | None = None,
    bbox: BBox | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    match: str = "origin",
) -> WeeklyAverage:
    """Weekly average number of trips for a region or a bounding box (see docs/analytics.md).

    trips in the area during the period / ISO weeks in the period, zero-trip weeks included.
    The period is whole ISO weeks (week of ``date_from`` .. week of ``date_to``); a missing
    bound is the first/last week of the whole warehouse.
    """
    if (region is None) == (bbox is None):
        raise AnalyticsInputError("give exactly one area: a region or a bounding box")
    validate_period(date_from, date_to)
    if bbox is not None:
        bbox.validate()
        validate_match(match)
        rows = conn.execute(
            f"select iso_week_start, trip_count from {MARTS_SCHEMA}.weekly_trip_counts_bbox("
            "%s, %s, %s, %s, %s::date, %s::date, %s) order by iso_week_start",
            (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat, date_from, date_to, match),
        ).fetchall()
        area, used_match = f"bbox {bbox}", match
    else:
        name = resolve_region(conn, region)
        rows = conn.execute(
            f"select iso_week_start, trip_count from {MARTS_SCHEMA}.weekly_trip_counts_region("
            "%s, %s::date, %s::date) order by iso_week_start",
            (name, date_from, date_to),
        ).fetchall()
        area, used_match = f"region {name}", None
    weeks = [(w, int(n)) for w, n in rows]
    return WeeklyAverage(
        area=area,
        match=used_match,
        first_week=weeks[0][0] if weeks else None,
        last_week=weeks[-1][0] if weeks else None,
        total_trips=sum(n for _, n in weeks),
        weeks=weeks,
    )


def trip_groups(
    conn: psycopg.Connection,
    *,
    region: str | None = None,
    min_trips: int = 1,
    limit: int = 20,
) -> list[dict]:
    """The largest groups of similar trips, biggest first."""
    if min_trips < 1:
        raise AnalyticsInputError("--min-trips must be at least 1")
    if limit < 1:
        raise AnalyticsInputError("--limit must be at least 1")
    name = resolve_region(conn, region) if region is not None else None
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        "select trip_group_id, region, time_bucket, bucket_start, bucket_end, "
        "origin_center_lon, origin_center_lat, destination_center_lon, destination_center_lat, "
        "origin_min_lon, origin_min_lat, origin_max_lon, origin_max_lat, "
        "destination_min_lon, destination_min_lat, destination_max_lon, destination_max_lat, "
        "trip_count, datasources, first_seen_at, last_seen_at "
        f"from {MARTS_SCHEMA}.trip_groups "
        "where (%(region)s::text is null or region = %(region)s::text) "
        "and trip_count >= %(min_trips)s "
        "order by trip_count desc, last_seen_at desc, trip_group_id "
        "limit %(limit)s",
        {"region": name, "min_trips": min_trips, "limit": limit},
    ).fetchall()


def render_analysis(name: str, analyses_dir: Path = ANALYSES_DIR) -> str:
    """The SQL of ``dbt_project/analyses/<name>.sql`` with ``ref()`` resolved to the marts.

    The analyses only use ``ref()`` on marts models, whose schema is ``marts`` verbatim, so
    a plain Jinja render gives exactly what ``dbt compile`` would (without starting dbt).
    """
    source = (analyses_dir / f"{name}.sql").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(source).render(ref=lambda model: f"{MARTS_SCHEMA}.{model}")


def answer_questions(conn: psycopg.Connection) -> list[dict]:
    """Run the two question analyses; one entry per question with its rows."""
    answers = []
    for name, question in QUESTION_ANALYSES.items():
        cur = conn.cursor(row_factory=dict_row)
        rows = cur.execute(render_analysis(name)).fetchall()
        answers.append({"analysis": name, "question": question, "rows": rows})
    return answers
