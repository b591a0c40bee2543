"""Per-ingestion checks scope (dbt_project/macros/checks_scope.sql), on a real Postgres.

A per-ingestion build passes ``checks_since`` / ``checks_since_batch`` (what its last
successful build had checked) and excludes ``tag:nightly``: the data tests of fct_trips and of
the raw staging models then read only newer rows. These tests put a defect into an *old* row
(the scoped build passes, the full build fails) and into a *new* row (the scoped build fails),
for a generic test, a singular test and the reconciliation.
"""

from __future__ import annotations

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
from trips_warehouse.config import Settings

EMPTY_DATASOURCE_TEST = "expression_is_true_stg_trips__trips_datasource___"
RECONCILIATION_TEST = "assert_fct_trips_reconciles_with_raw_trips"


def _checked_state(url: str) -> dict:
    """The vars a per-ingestion build would pass after the builds so far."""
    with psycopg.connect(url) as conn:
        (since,) = conn.execute("select max(loaded_at) from marts.fct_trips").fetchone()
        (since_batch,) = conn.execute("select max(batch_id) from raw.load_batches").fetchone()
    return {"checks_since": since.isoformat(), "checks_since_batch": since_batch}


@pytest.fixture
def built(settings: Settings, pg_url: str, tmp_path: Path):
    """h1 loaded and fully built; returns a build function and the checked state after it."""
    with psycopg.connect(pg_url) as conn:
        ensure_raw_schema(conn)
        add_file(conn, "h1", FIRST_FILE)

    def build(dbt_vars: dict | None = None):
        exclude = [*OTHERS, *(["tag:nightly"] if dbt_vars else [])]
        return dbt_build(settings, pg_url, select=CORE, exclude=exclude,
                         target_path=tmp_path / "target", dbt_vars=dbt_vars)

    assert build().success
    return build, _checked_state(pg_url)


def test_old_defect_passes_the_scoped_build_and_fails_the_full_one(built, pg_url):
    build, checked = built
    with psycopg.connect(pg_url) as conn:
        # a defect in a row the last checks already passed (raw is append-only: this is
        # corruption behind the pipeline's back, what the nightly full checks are for)
        conn.execute(f"update raw.trips set datasource = '' where trip_id = {trip_id('t1', 1)}")
        add_file(conn, "h2", SECOND_FILE)

    scoped = build(checked)
    assert scoped.success and scoped.tests_failed == 0 and scoped.tests_passed > 30

    with pytest.raises(DbtBuildFailed) as failed:
        build()
    assert EMPTY_DATASOURCE_TEST in failed.value.result.failures


def test_new_defect_fails_the_scoped_build(built, pg_url):
    build, checked = built
    bad = [("t6", "Turin", 7.68, 45.07, 7.69, 45.06, SECOND_FILE[0][6], "")]
    with psycopg.connect(pg_url) as conn:
        add_file(conn, "h2", SECOND_FILE + bad)

    with pytest.raises(DbtBuildFailed) as failed:
        build(checked)
    assert EMPTY_DATASOURCE_TEST in failed.value.result.failures


def test_reconciliation_is_scoped_to_the_files_loaded_since(built, pg_url):
    build, checked = built
    with psycopg.connect(pg_url) as conn:
        add_file(conn, "h2", SECOND_FILE)
    assert build(checked).success  # h2 reconciles
    after_h2 = _checked_state(pg_url)

    with psycopg.connect(pg_url) as conn:
        # an h1 (old) trip
        conn.execute(f"delete from marts.fct_trips where trip_id = {trip_id('t1', 1)}")
    assert build(after_h2).success
    with pytest.raises(DbtBuildFailed) as failed:
        build()
    assert RECONCILIATION_TEST in failed.value.result.failures

    with psycopg.connect(pg_url) as conn:
        # an h2 trip
        conn.execute(f"delete from marts.fct_trips where trip_id = {trip_id('t4', 2)}")
    with pytest.raises(DbtBuildFailed) as failed:
        build(checked)  # the checks since h1: h2's files, one of its trips missing
    assert RECONCILIATION_TEST in failed.value.result.failures


def test_nightly_tests_are_excluded_from_scoped_builds_only(built, pg_url):
    build, checked = built
    full = build()
    scoped = build(checked)
    # the nightly tests run in a full build and not in a scoped one; nothing else differs
    # dim_weeks gaps, the dimensions' counts
    assert full.tests_passed - scoped.tests_passed == 2
