"""Import the trips dashboard bundle (``assets/``: database, datasets, charts, dashboard).

Runs in Superset's interpreter: by ``trips superset up`` (Superset's own virtualenv) and by the
compose ``superset-init`` service. Idempotent: Superset's assets import overwrites every object
by its UUID, so running it again leaves one database, one dataset per mart, the same charts and
one dashboard, with the repository's definitions.

The bundle in the repo carries no secret: the database's ``sqlalchemy_uri`` is a placeholder
replaced here with the read-only reader's URI, from ``TRIPS_SUPERSET_WAREHOUSE_URI`` (``trips
superset up``) or built from the compose variables. The datasets list their columns, so the
import works before the first ``dbt build``; the charts show data once the marts exist.

The pure helpers (URI, bundle contents) import nothing from Superset so the project's tests can
exercise them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import yaml

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def warehouse_uri(env: dict[str, str]) -> str:
    """SQLAlchemy URI of the warehouse for the read-only reader role (credentials URL-quoted)."""
    if env.get("TRIPS_SUPERSET_WAREHOUSE_URI"):
        return env["TRIPS_SUPERSET_WAREHOUSE_URI"]
    user = quote(env["SUPERSET_READER_USER"], safe="")
    password = quote(env["SUPERSET_READER_PASSWORD"], safe="")
    host = env.get("POSTGRES_HOST", "postgres")
    port = env.get("POSTGRES_PORT_INTERNAL", "5432")
    db = quote(env["POSTGRES_DB"], safe="")
    return f"postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}"


def bundle_contents(assets_dir: Path, uri: str) -> tuple[dict[str, str], dict[str, str]]:
    """(file name -> YAML text with the real URI filled in, database file -> password)."""
    contents: dict[str, str] = {}
    passwords: dict[str, str] = {}
    for path in sorted(assets_dir.rglob("*.yaml")):
        name = path.relative_to(assets_dir).as_posix()
        text = path.read_text()
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            config["sqlalchemy_uri"] = uri
            text = yaml.safe_dump(config, sort_keys=False)
            passwords[name] = unquote(urlsplit(uri).password or "")
        contents[name] = text
    return contents, passwords


def dataset_tables(assets_dir: Path) -> list[str]:
    """The mart tables the bundle's datasets read."""
    return sorted(
        yaml.safe_load(p.read_text())["table_name"]
        for p in (assets_dir / "datasets").rglob("*.yaml")
    )


def scope_native_filters(metadata: dict, chart_ids: list[int]) -> dict:
    """Fill each native filter's ``chartsInScope`` from its scope (the dashboard's charts
    minus the excluded ones).

    The import maps ``scope.excluded`` to the new chart ids but leaves ``chartsInScope`` as it
    was in the file, and the dashboard applies a filter to ``chartsInScope``: without this the
    Region filter showed a region while the big number still averaged every region.
    """
    for native_filter in metadata.get("native_filter_configuration", []):
        excluded = set(native_filter.get("scope", {}).get("excluded", []))
        native_filter["chartsInScope"] = sorted(i for i in chart_ids if i not in excluded)
    return metadata


def main() -> int:
    contents, passwords = bundle_contents(ASSETS_DIR, warehouse_uri(dict(os.environ)))

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from flask import g
        from superset import security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand

        # the admin owns what is imported (and the import's permission checks pass)
        g.user = security_manager.find_user(username=os.environ["SUPERSET_ADMIN_USERNAME"])
        if g.user is None:
            print("admin user missing: run create_admin.py first", file=sys.stderr)
            return 1
        ImportAssetsCommand(contents, passwords=passwords).run()

        import json

        from superset import db
        from superset.models.dashboard import Dashboard

        for name, text in contents.items():
            if name.startswith("dashboards/"):
                dashboard = db.session.query(Dashboard).filter_by(
                    uuid=yaml.safe_load(text)["uuid"]
                ).one()
                metadata = scope_native_filters(
                    json.loads(dashboard.json_metadata or "{}"),
                    [chart.id for chart in dashboard.slices],
                )
                dashboard.json_metadata = json.dumps(metadata)
        db.session.commit()
    kinds = sorted({name.split("/")[0] for name in contents if "/" in name})
    counts = ", ".join(
        f"{sum(n.startswith(k + '/') for n in contents)} {k}" for k in kinds
    )
    print(f"imported the trips dashboard bundle: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
