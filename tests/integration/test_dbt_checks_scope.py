"""The checks scope (dbt_project/macros/checks_scope.sql, its one owner), on a real Postgres.

A build with var ``checks: new`` (what an ingestion passes) tests only the rows that arrived
since the last build whose checks all passed; dbt records that watermark itself, in its
on-run-end hook (``dbt_meta.checks_watermark``). These tests put defects into old rows (a
``new`` build passes, an ``all`` build fails) and into new rows (a ``new`` build fails and
keeps failing until they are fixed), for a generic test and for the reconciliation, and check
which builds move the watermark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from extract_load.ledger import ensure_raw_schema
from flows.dbt_build import DbtBuildFailed, dbt_build
from tests.support.warehouse import (
    CORE,
    FIRST_FILE,
    OTHERS,
    SECOND_FILE,
    add_file,
    trip_id,
)
from trips_warehouse.config import PROJECT_ROOT, Settings
from trips_warehouse.db import dbt_env

EMPTY_DATASOURCE_TEST = "expression_is_true_stg_trips__trips_datasource___"
RECONCILIATION_TEST = "assert_fct_trips_reconciles_with_raw_trips"
# a trip no landing lets through: dbt's tests must catch it
BLANK_DATASOURCE_TRIP = ("t6", "Turin", 7.68, 45.07, 7.69, 45.06, SECOND_FILE[0][6], "")
THIRD_FILE = [("t7", "Turin", 7.66, 45.05, 7.67, 45.04, SECOND_FILE[1][6], "funny_car")]


def watermarks(url: str) -> list[tuple]:
    """(checks, checked_loaded_at, checked_batch_id) of every recorded watermark, oldest first."""
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('dbt_meta.checks_watermark')").fetchone()[0] is None:
            return []
        return conn.execute(
            "select checks, checked_loaded_at, checked_batch_id from dbt_meta.checks_watermark"
            " order by recorded_at"
        ).fetchall()


def loaded_at(url: str, file_hash: str):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select loaded_at from raw.ingestions where file_hash = %s", (file_hash,)
        ).fetchone()[0]


def add(url: str, file_hash: str, trips: list[tuple]) -> int:
    with psycopg.connect(url) as conn:
        return add_file(conn, file_hash, trips)


@pytest.fixture
def build(settings: Settings, pg_url: str, tmp_path: Path):
    """dbt build of the core layers with var ``checks`` (None: a build by hand, no var); a
    ``new`` build leaves the nightly tests out, as the ingestion_checks selector does."""
    with psycopg.connect(pg_url) as conn:
        ensure_raw_schema(conn)

    def build(checks: str | None = "new", select: list[str] = CORE):
        exclude = [*OTHERS, *(["tag:nightly"] if checks == "new" else [])]
        return dbt_build(settings, pg_url, select=select, exclude=exclude,
                         target_path=tmp_path / "target",
                         dbt_vars={"checks": checks} if checks else None)

    return build


@pytest.fixture
def built(build, pg_url: str):
    """h1 loaded and checked by a first ``new`` build (which reads every row: no watermark)."""
    add(pg_url, "h1", FIRST_FILE)
    assert build().success
    assert watermarks(pg_url) == [("new", loaded_at(pg_url, "h1"), 1)]
    return build


def test_first_build_checks_every_row_and_records_the_watermark(build, pg_url):
    add(pg_url, "h1", FIRST_FILE + [BLANK_DATASOURCE_TRIP])
    with pytest.raises(DbtBuildFailed) as failed:
        build()  # `new`, but nothing passed yet: every row
    assert EMPTY_DATASOURCE_TEST in failed.value.result.failures
    assert watermarks(pg_url) == []

    with psycopg.connect(pg_url) as conn:
        conn.execute("update raw.trips set datasource = 'fixed' where datasource = ''")
    assert build().success
    assert watermarks(pg_url) == [("new", loaded_at(pg_url, "h1"), 1)]


def test_scope_narrows_after_a_passing_build_and_all_reads_every_row(built, pg_url):
    with psycopg.connect(pg_url) as conn:
        # a defect in a row the last checks already passed (raw is append-only: this is
        # corruption behind the pipeline's back, what the nightly full checks are for)
        conn.execute(f"update raw.trips set datasource = '' where trip_id = {trip_id('t1', 1)}")
    second_batch = add(pg_url, "h2", SECOND_FILE)

    scoped = built("new")
    assert scoped.success and scoped.tests_failed == 0 and scoped.tests_passed > 30
    after_h2 = [("new", loaded_at(pg_url, "h1"), 1), ("new", loaded_at(pg_url, "h2"), second_batch)]
    assert watermarks(pg_url) == after_h2

    with pytest.raises(DbtBuildFailed) as failed:
        built("all")
    assert EMPTY_DATASOURCE_TEST in failed.value.result.failures
    assert watermarks(pg_url) == after_h2  # a failed build records nothing


def test_a_failed_test_keeps_the_watermark_until_the_rows_are_fixed(built, pg_url):
    after_h1 = watermarks(pg_url)
    add(pg_url, "h2", SECOND_FILE + [BLANK_DATASOURCE_TRIP])
    with pytest.raises(DbtBuildFailed) as failed:
        built("new")
    assert EMPTY_DATASOURCE_TEST in failed.value.result.failures
    assert watermarks(pg_url) == after_h1

    # the next build checks h2's rows again, with its own
    third_batch = add(pg_url, "h3", THIRD_FILE)
    with pytest.raises(DbtBuildFailed) as failed:
        built("new")
    assert EMPTY_DATASOURCE_TEST in failed.value.result.failures
    assert watermarks(pg_url) == after_h1

    with psycopg.connect(pg_url) as conn:
        conn.execute("update raw.trips set datasource = 'fixed' where datasource = ''")
    assert built("new").success
    after_h3 = [*after_h1, ("new", loaded_at(pg_url, "h3"), third_batch)]
    assert watermarks(pg_url) == after_h3

    # any failed test keeps it, a full-table one too
    with psycopg.connect(pg_url) as conn:
        conn.execute("update marts.dim_regions set trip_count = trip_count + 1")
    with pytest.raises(DbtBuildFailed) as failed:
        built("all")
    assert failed.value.result.failures == ["assert_dimension_counts_match_fct"]
    assert watermarks(pg_url) == after_h3


def test_builds_by_hand_and_partial_builds_keep_the_watermark(built, pg_url):
    after_h1 = watermarks(pg_url)
    second_batch = add(pg_url, "h2", SECOND_FILE)

    assert built(None).success  # by hand: every row, and not under the pipeline lock
    assert built("new", select=["fct_trips"]).success  # the staging tests did not run
    assert watermarks(pg_url) == after_h1

    assert built("all").success
    assert watermarks(pg_url) == [*after_h1, ("all", loaded_at(pg_url, "h2"), second_batch)]


def test_reconciliation_reads_the_files_loaded_since(built, pg_url):
    with psycopg.connect(pg_url) as conn:
        # an h1 (old) trip
        conn.execute(f"delete from marts.fct_trips where trip_id = {trip_id('t1', 1)}")
    assert built("new").success
    with pytest.raises(DbtBuildFailed) as failed:
        built("all")
    assert RECONCILIATION_TEST in failed.value.result.failures

    second_batch = add(pg_url, "h2", SECOND_FILE)
    # h2 into the fact (a partial build: it leaves the watermark at h1) ...
    assert built("new", select=["fct_trips"]).success
    with psycopg.connect(pg_url) as conn:
        # ... and one of its trips out
        conn.execute(f"delete from marts.fct_trips where trip_id = {trip_id('t4', second_batch)}")
    with pytest.raises(DbtBuildFailed) as failed:
        built("new")  # the checks since h1: h2's file, one of its trips missing
    assert RECONCILIATION_TEST in failed.value.result.failures


def _dbt_ls(url: str, tmp_path: Path, *args: str) -> set[str]:
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "ls", "-q", "--output", "name",
         "--target-path", str(tmp_path / "target"), *args],
        cwd=PROJECT_ROOT, env={**os.environ, **dbt_env(url)},
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return set(proc.stdout.split())


def test_ingestion_checks_selector_leaves_out_only_the_nightly_tests(pg_url, tmp_path):
    everything = _dbt_ls(pg_url, tmp_path, "--exclude-resource-type", "source")
    nightly = _dbt_ls(pg_url, tmp_path, "--select", "tag:nightly")
    ingestion = _dbt_ls(pg_url, tmp_path, "--selector", "ingestion_checks")
    assert nightly == {
        "assert_dim_weeks_have_no_gaps",
        "assert_dimension_counts_match_fct",
        "assert_every_trip_in_exactly_one_group",
        "assert_weekly_aggregates_match_fct",
    }
    assert ingestion == everything - nightly
