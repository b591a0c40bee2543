"""The dashboard bundle against the dbt project, and the reader role against real Postgres.

Fast checks that keep the three descriptions of the dashboard in step: the Superset bundle
(docker/superset/assets), the dbt exposure that names the marts it reads, and those marts'
enforced contracts. A column renamed in dbt fails its contract in `dbt build` and fails here
until the bundle follows.
"""

from __future__ import annotations

import json
import sys

import yaml

from trips_warehouse.config import DBT_PROJECT_DIR
from trips_warehouse.superset import ASSETS_DIR, SUPERSET_DIR, reader_uri

EXPOSURE = "trips_dashboard"
# Superset's column types (as the bundle spells them) for the contracts' data types
SUPERSET_TYPES = {
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "text": "TEXT",
    "text[]": "TEXT[]",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "time": "TIME WITHOUT TIME ZONE",
    "timestamp": "TIMESTAMP WITHOUT TIME ZONE",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "double precision": "DOUBLE PRECISION",
}


def _load(kind: str) -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in (ASSETS_DIR / kind).rglob("*.yaml")}


def _import_assets_module():
    sys.path.insert(0, str(SUPERSET_DIR))
    try:
        import import_assets
    finally:
        sys.path.remove(str(SUPERSET_DIR))
    return import_assets


def _dbt_models() -> dict[str, dict]:
    models = {}
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            models[model["name"]] = model
    return models


def _exposure() -> dict:
    path = DBT_PROJECT_DIR / "models" / "marts" / "_marts__exposures.yml"
    (exposure,) = [e for e in yaml.safe_load(path.read_text())["exposures"]
                   if e["name"] == EXPOSURE]
    return exposure


def test_exposure_lists_exactly_the_marts_the_datasets_read() -> None:
    datasets = _load("datasets")
    assert {d["schema"] for d in datasets.values()} == {"marts"}
    read = {d["table_name"] for d in datasets.values()}
    refs = {dep.removeprefix("ref('").removesuffix("')") for dep in _exposure()["depends_on"]}
    assert refs == read
    assert "fct_trips" not in read and "fct_trips_gridded" not in read  # aggregates only
    assert _import_assets_module().dataset_tables(ASSETS_DIR) == sorted(read)


def test_dataset_columns_follow_the_marts_enforced_contracts() -> None:
    models = _dbt_models()
    for dataset in _load("datasets").values():
        model = models[dataset["table_name"]]
        assert model.get("config", {}).get("contract", {}).get("enforced") is True, model["name"]
        contract = {c["name"]: c["data_type"] for c in model["columns"]}
        for column in dataset["columns"]:
            name = column["column_name"]
            assert name in contract, f"{model['name']}.{name} is not in the dbt model"
            assert column["type"] == SUPERSET_TYPES[contract[name]], f"{model['name']}.{name}"
            assert column["is_dttm"] == contract[name].startswith(("date", "timestamp"))
        if dataset["main_dttm_col"]:
            assert dataset["main_dttm_col"] in contract


def _chart_columns(params: dict) -> set[str]:
    """Columns a chart's form data names (axes, groupings, raw columns, order by, filters)."""
    names: set[str] = set()
    for key in ("x_axis", "groupby", "all_columns"):
        value = params.get(key) or []
        names.update([value] if isinstance(value, str) else value)
    names.update(json.loads(order)[0] for order in params.get("order_by_cols", []))
    names.update(f["subject"] for f in params.get("adhoc_filters", []))
    return names


def test_charts_read_existing_columns_and_metrics_and_all_are_on_the_dashboard() -> None:
    datasets = {d["uuid"]: d for d in _load("datasets").values()}
    charts = _load("charts")
    (dashboard,) = _load("dashboards").values()
    for name, chart in charts.items():
        dataset = datasets[chart["dataset_uuid"]]
        columns = {c["column_name"] for c in dataset["columns"]}
        metrics = {m["metric_name"] for m in dataset["metrics"]}
        params = chart["params"]
        assert chart["viz_type"] == params["viz_type"], name
        assert _chart_columns(params) <= columns, (name, _chart_columns(params) - columns)
        used = params.get("metrics") or ([params["metric"]] if "metric" in params else [])
        assert set(used) <= metrics, (name, used)
    placed = {
        item["meta"]["uuid"]
        for item in dashboard["position"].values()
        if isinstance(item, dict) and item.get("type") == "CHART"
    }
    assert placed == {c["uuid"] for c in charts.values()}
    (region_filter,) = dashboard["metadata"]["native_filter_configuration"]
    assert region_filter["targets"][0]["datasetUuid"] in datasets
    assert region_filter["scope"]["rootPath"] == ["ROOT_ID"]


def test_bundle_has_no_secret_and_the_import_fills_the_uri() -> None:
    import_assets = _import_assets_module()
    (database,) = _load("databases").values()
    assert ":XXXXXXXXXX@" in database["sqlalchemy_uri"]  # Superset's password mask
    uri = "postgresql+psycopg2://reader:p%40ss@db.example:5432/trips"
    contents, passwords = import_assets.bundle_contents(ASSETS_DIR, uri)
    assert passwords == {"databases/trips_warehouse.yaml": "p@ss"}
    assert yaml.safe_load(contents["databases/trips_warehouse.yaml"])["sqlalchemy_uri"] == uri
    assert "metadata.yaml" in contents and len(contents) == 1 + 1 + 5 + 6 + 1
    assert import_assets.warehouse_uri(
        {"SUPERSET_READER_USER": "r", "SUPERSET_READER_PASSWORD": "p/w", "POSTGRES_DB": "trips"}
    ) == "postgresql+psycopg2://r:p%2Fw@postgres:5432/trips"
    assert import_assets.warehouse_uri({"TRIPS_SUPERSET_WAREHOUSE_URI": uri}) == uri


def test_native_filters_get_their_charts_in_scope() -> None:
    scope = _import_assets_module().scope_native_filters
    metadata = {"native_filter_configuration": [{"scope": {"excluded": [7, 9]}}]}
    assert scope(metadata, [9, 8, 7, 10])["native_filter_configuration"][0][
        "chartsInScope"
    ] == [8, 10]


def test_dbt_selects_what_the_exposure_reads(dbt_project) -> None:
    result = dbt_project.run("ls", "--select", f"+exposure:{EXPOSURE}", "--resource-type",
                             "model", "--output", "name", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    selected = set(result.stdout.split())
    assert {"agg_weekly_trips_by_region_datasource", "trip_groups", "fct_ingestions",
            "fct_trips", "stg_trips__trips"} <= selected
    assert "agg_weekly_trips_by_od_cell" not in selected  # not read by the dashboard


def test_reader_uri_for_tcp_and_the_embedded_socket() -> None:
    assert reader_uri("postgresql://o:x@db:5433/trips", "r", "p@ss") == (
        "postgresql+psycopg2://r:p%40ss@db:5433/trips"
    )
    assert reader_uri("postgresql://postgres:@/postgres?host=/tmp/pg%20dir", "r", "pw") == (
        "postgresql+psycopg2://r:pw@/postgres?host=/tmp/pg%20dir&port=5432"
    )
