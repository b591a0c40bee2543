"""Register the trips warehouse in Superset: one database, one dataset per table of ``marts``.

Runs inside the Superset image (``bootstrap.sh``) with Superset's app context. Idempotent: the
database URI is refreshed, existing datasets get their columns re-synced, new mart tables become
new datasets. Run it again after the first ``dbt build`` (or after adding a mart):

    docker compose run --rm superset-init

The pure helpers (URI, which tables) import nothing from Superset so the project's tests can
exercise them.
"""

from __future__ import annotations

import os
import sys
from urllib.parse import quote

DATABASE_NAME = os.environ.get("SUPERSET_WAREHOUSE_NAME", "trips_warehouse")
MARTS_SCHEMA = os.environ.get("SUPERSET_MARTS_SCHEMA", "marts")
# The marts the dashboards are built on; any other table found in the schema is registered too.
EXPECTED_DATASETS = (
    "fct_trips",
    "trip_groups",
    "dim_regions",
    "dim_datasources",
    "dim_weeks",
    "dim_time_of_day",
    "agg_weekly_trips_by_region",
    "agg_weekly_trips_by_origin_cell",
    "agg_weekly_trips_by_destination_cell",
    "agg_weekly_trips_by_od_cell",
)


def warehouse_uri(env: dict[str, str]) -> str:
    """SQLAlchemy URI of the warehouse for the read-only reader role (credentials URL-quoted)."""
    user = quote(env["SUPERSET_READER_USER"], safe="")
    password = quote(env["SUPERSET_READER_PASSWORD"], safe="")
    host = env.get("POSTGRES_HOST", "postgres")
    port = env.get("POSTGRES_PORT_INTERNAL", "5432")
    db = quote(env["POSTGRES_DB"], safe="")
    return f"postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}"


def tables_to_register(found: list[str]) -> tuple[list[str], list[str]]:
    """(tables to register: expected ones first, then the rest sorted; expected but missing)."""
    present = set(found)
    ordered = [t for t in EXPECTED_DATASETS if t in present]
    ordered += sorted(present - set(EXPECTED_DATASETS))
    missing = [t for t in EXPECTED_DATASETS if t not in present]
    return ordered, missing


def _mart_tables(uri: str, schema: str) -> list[str]:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(uri)
    try:
        inspector = inspect(engine)
        if schema not in inspector.get_schema_names():
            return []
        return inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
    finally:
        engine.dispose()


def main() -> int:
    uri = warehouse_uri(dict(os.environ))
    tables, missing = tables_to_register(_mart_tables(uri, MARTS_SCHEMA))

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db
        from superset.connectors.sqla.models import SqlaTable
        from superset.models.core import Database

        database = db.session.query(Database).filter_by(database_name=DATABASE_NAME).one_or_none()
        if database is None:
            database = Database(database_name=DATABASE_NAME)
            db.session.add(database)
        database.set_sqlalchemy_uri(uri)
        database.expose_in_sqllab = True
        database.allow_dml = False
        db.session.commit()
        print(f"database {DATABASE_NAME!r} registered")

        for name in tables:
            dataset = (
                db.session.query(SqlaTable)
                .filter_by(table_name=name, schema=MARTS_SCHEMA, database_id=database.id)
                .one_or_none()
            )
            created = dataset is None
            if created:
                dataset = SqlaTable(table_name=name, schema=MARTS_SCHEMA, database=database)
                db.session.add(dataset)
            dataset.fetch_metadata()
            db.session.commit()
            print(f"dataset {MARTS_SCHEMA}.{name} {'created' if created else 'refreshed'}")

    if missing:
        print(
            f"not built yet in {MARTS_SCHEMA!r}: {', '.join(missing)} -- run an ingestion "
            "(dbt build), then `docker compose run --rm superset-init` again",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
