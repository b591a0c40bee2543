"""A per-file dbt build inside a flow: a Prefect task per dbt node, or plain dbtRunner.

    .venv/bin/python benchmarks/bench_dbt_runner.py [--pairs 2] [--rows 100]

Fresh database (``trips_dbt_runner_bench``) and a throwaway Prefect server. One ingestion
builds the marts; then, alternately, a new file is loaded (``run_dbt=False``) and the
incremental build of its rows (tests of the new rows) runs inside a flow, either as
``trips ingest`` does it (``PrefectDbtRunner``: a parse, then one Prefect task per node) or as
``trips serve`` does it (``dbtRunner`` on a manifest parsed once, no task per node). Prints the
seconds of each build and the load average (docs/pipeline.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.csvdata import good_rows, write_csv  # noqa: E402
from trips_warehouse.config import load_settings  # noqa: E402
from trips_warehouse.db import with_database  # noqa: E402
from trips_warehouse.processes import free_port  # noqa: E402

ADMIN_URL = os.environ.get("TRIPS_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "trips_dbt_runner_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-dbt-runner-"))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{DATABASE}" with (force)')
        admin.execute(f'create database "{DATABASE}"')
    url = with_database(ADMIN_URL, DATABASE)
    os.environ.update(TRIPS_DATABASE_URL=url, TRIPS_DATA_DIR=str(work), TRIPS_DBT_THREADS="2")

    from prefect import flow
    from prefect.context import refresh_global_settings_context

    from flows import server
    from flows.dbt_build import ParsedProject, building_with, dbt_build
    from flows.ingest import NEWS_SELECTOR, ingest_flow

    settings = replace(load_settings(), data_dir=work, database_url=url)
    api = server.start_background(settings, port=free_port(),
                                  extra_env={"PREFECT_UI_ENABLED": "false"})
    os.environ["PREFECT_API_URL"] = api
    refresh_global_settings_context()

    def new_file(i: int) -> str:
        return str(write_csv(work / f"f{i}.csv", good_rows(args.rows, day=1 + i % 28,
                                                           region=f"R{i}")))

    @flow(name="bench-dbt-runner")
    def build(per_node_tasks: bool) -> tuple[float, str]:
        options = {"selector": NEWS_SELECTOR, "dbt_vars": {"checks": "new"}}
        t0 = time.monotonic()
        if per_node_tasks:
            result = dbt_build(settings, url, **options)
        else:
            with building_with(project):
                result = dbt_build(settings, url, per_node_tasks=False, **options)
        return time.monotonic() - t0, result.summary()

    try:
        ingest_flow([new_file(0)])
        project = ParsedProject(settings, url)
        project.manifest()
        figures: dict[str, list] = {"prefect_tasks_per_node": [], "plain_dbt_runner": []}
        for i in range(1, 2 * args.pairs + 1):
            per_node = i % 2 == 1
            ingest_flow([new_file(i)], run_dbt=False)
            seconds, summary = build(per_node)
            key = "prefect_tasks_per_node" if per_node else "plain_dbt_runner"
            figures[key].append({"s": round(seconds, 1), "load_avg": round(os.getloadavg()[0], 1)})
            print(key, figures[key][-1], summary, flush=True)
        print(json.dumps(figures))
    finally:
        server.stop(settings)


if __name__ == "__main__":
    main()
