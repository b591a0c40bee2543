"""The raw schema's versioned migrations (extract_load/raw_schema.py) on real Postgres databases."""

from __future__ import annotations

import threading

import psycopg
import pytest

from extract_load import ledger
from extract_load.raw_schema import applied, ensure_raw_schema, migrations

# What the unversioned DDL (extract_load/ledger.py's RAW_DDL before the migrations) made of a
# warehouse from the lean layout (0.2) until the raw archive: the checks watermark columns, no
# archived_at, no rows_duplicate, no schema_migrations.
PREVIOUS_LAYOUT = """
create schema {raw};
create table {raw}.ingestions (
    file_hash text primary key, file_path text not null, file_size_bytes bigint not null,
    status text not null
        check (status in ('landing', 'landed', 'loading', 'loaded', 'refused', 'failed')),
    rows_read bigint, rows_rejected bigint, rows_accepted bigint, rows_loaded bigint,
    error text, flow_run_id text, first_seen_at timestamptz not null default now(),
    landed_at timestamptz, loaded_at timestamptz, updated_at timestamptz not null default now()
);
create table {raw}.load_batches (
    batch_id bigserial primary key,
    file_hash text not null references {raw}.ingestions (file_hash),
    table_name text not null, batch_key text not null, row_count bigint not null,
    loaded_at timestamptz not null default now(), unique (file_hash, table_name, batch_key)
);
create table {raw}.trips (
    trip_id bigint not null, batch_id bigint not null, origin_lon double precision not null,
    origin_lat double precision not null, destination_lon double precision not null,
    destination_lat double precision not null, trip_datetime timestamp not null,
    region text not null, datasource text not null
);
create index trips_batch_id_brin on {raw}.trips using brin (batch_id);
create table {raw}.trips_rejected (
    source_file_hash text not null, region text, origin_coord text, destination_coord text,
    datetime text, datasource text, raw_record text, rejection_reason text not null,
    batch_id bigint not null, loaded_at timestamptz not null default now()
);
create table {raw}.ingestion_runs (
    run_id text primary key, flow_run_id text, status text not null, paths text,
    files_total integer, files_loaded integer, files_skipped integer, files_refused integer,
    rows_read bigint, rows_rejected bigint, rows_loaded bigint, models_built integer,
    tests_passed integer, tests_failed integer, duration_s double precision, error text,
    started_at timestamptz not null default now(), finished_at timestamptz
);
alter table {raw}.ingestion_runs add column checked_loaded_at timestamptz;
alter table {raw}.ingestion_runs add column checked_batch_id bigint;
"""
# what that DDL added later, to the same warehouses, on their next start
LATER_COLUMNS = """
alter table {raw}.load_batches add column if not exists archived_at timestamptz;
alter table {raw}.ingestions add column if not exists rows_duplicate bigint;
alter table {raw}.ingestion_runs add column if not exists rows_duplicate bigint;
"""
# what dbt's one-off migrate_checks_watermark_from_ledger does once it has moved the watermark
# (and the last unversioned DDL no longer created them)
WATERMARK_DROPPED = """
alter table {raw}.ingestion_runs drop column checked_loaded_at, drop column checked_batch_id;
"""
WATERMARK = {("ingestion_runs", "checked_loaded_at"), ("ingestion_runs", "checked_batch_id")}
EVERY_VERSION = [m.version for m in migrations()]


def layout(conn: psycopg.Connection, schema: str) -> dict[str, list[tuple]]:
    """Every column (type, nullability, default), constraint and index of a schema's tables but
    the bookkeeping one, the schema's name replaced by S."""
    queries = {
        "columns": "select table_name, column_name, data_type, is_nullable, column_default"
                   " from information_schema.columns where table_schema = %(s)s"
                   " order by table_name, ordinal_position",
        "constraints": "select conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                       " from pg_constraint where connamespace = %(s)s::regnamespace"
                       " order by 1, 2",
        "indexes": "select tablename, indexdef from pg_indexes where schemaname = %(s)s"
                   " order by 1, 2",
    }
    found = {}
    for kind, query in queries.items():
        rows = conn.execute(query, {"s": schema}).fetchall()
        found[kind] = [
            tuple(str(v).replace(f"{schema}.", "S.") for v in row)
            for row in rows
            if "schema_migrations" not in str(row[0])
        ]
    return found


def test_a_new_warehouse_gets_every_version_once(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert ensure_raw_schema(conn) == EVERY_VERSION
        recorded = conn.execute(
            "select version, name, applied_at from raw.schema_migrations order by version"
        ).fetchall()
        assert [(v, n) for v, n, _ in recorded] == [(m.version, m.name) for m in migrations()]
        assert ensure_raw_schema(conn) == []  # current: nothing runs
        assert conn.execute(
            "select version, name, applied_at from raw.schema_migrations order by version"
        ).fetchall() == recorded
        columns = {r[0] for r in conn.execute(
            "select table_name || '.' || column_name from information_schema.columns"
            " where table_schema = 'raw'")}
        assert {"load_batches.archived_at", "ingestions.rows_duplicate",
                "ingestion_runs.rows_duplicate"} <= columns
        assert not {"ingestion_runs.checked_loaded_at", "ingestion_runs.checked_batch_id"} & columns


@pytest.mark.parametrize(
    ("later_columns", "watermark"),
    [(False, True), (True, True), (True, False)],
    ids=["0.2", "before-dbt-owned-the-watermark", "latest-unversioned"],
)
def test_an_unversioned_warehouse_is_upgraded_to_the_new_layout_keeping_its_rows(
    pg_url, later_columns, watermark
):
    """A warehouse the unversioned DDL made, at any of its stages, ends with exactly a new
    warehouse's layout, its rows kept; running again changes nothing. The old checks watermark,
    where it still is, is left for dbt's one-off to move: with it, the same layout plus it."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(PREVIOUS_LAYOUT.replace("{raw}", "old"))
        if later_columns:
            conn.execute(LATER_COLUMNS.replace("{raw}", "old"))
        if not watermark:
            conn.execute(WATERMARK_DROPPED.replace("{raw}", "old"))
        ledger.upsert_ingestion(conn, "h1", raw="old", file_path="/in/a.csv",
                                file_size_bytes=10, status="loaded", rows_loaded=3)
        ledger.start_run(conn, "run-1", raw="old", paths="/in/a.csv")
        if watermark:
            conn.execute("update old.ingestion_runs set checked_batch_id = 7")
        conn.execute("insert into old.load_batches (file_hash, table_name, batch_key, row_count)"
                     " values ('h1', 'trips', 'part-0', 3)")

        assert ensure_raw_schema(conn, "old") == EVERY_VERSION  # 0001 adopts what is there
        assert ensure_raw_schema(conn, "new") == EVERY_VERSION
        upgraded = layout(conn, "old")
        columns = {(table, column) for table, column, *_ in upgraded["columns"]}
        assert (columns >= WATERMARK) is watermark
        if watermark:
            assert conn.execute("select checked_batch_id from old.ingestion_runs"
                                ).fetchall() == [(7,)]
            conn.execute(WATERMARK_DROPPED.replace("{raw}", "old"))
        assert layout(conn, "old") == layout(conn, "new")
        assert ledger.get_ingestion(conn, "h1", raw="old")["rows_loaded"] == 3
        assert ledger.get_ingestion(conn, "h1", raw="old")["rows_duplicate"] is None
        assert conn.execute("select run_id, status, rows_duplicate from old.ingestion_runs"
                            ).fetchall() == [("run-1", "running", None)]
        assert conn.execute("select batch_key, archived_at from old.load_batches"
                            ).fetchall() == [("part-0", None)]

        before = layout(conn, "old")
        assert ensure_raw_schema(conn, "old") == []
        assert layout(conn, "old") == before


def test_the_pre_02_layout_is_refused_untouched(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("create schema raw; create table raw.trips"
                     " (trip_id text, source_file_hash text)")
        with pytest.raises(RuntimeError, match="pre-0.2 layout"):
            ensure_raw_schema(conn)
        assert applied(conn) is None  # nothing recorded, nothing created
        assert conn.execute("select to_regclass('raw.ingestions')").fetchone()[0] is None


def test_a_warehouse_newer_than_the_code_is_refused(pg_url):
    """A version this code lacks, or one it has under another name (two branches numbering
    different changes alike), means the warehouse's layout is not the one this code knows."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ensure_raw_schema(conn)
        latest = EVERY_VERSION[-1]
        conn.execute("insert into raw.schema_migrations (version, name) values (%s, 'later')",
                     (latest + 1,))
        with pytest.raises(RuntimeError, match=f"{latest + 1}: 'later'"):
            ensure_raw_schema(conn)
        conn.execute("delete from raw.schema_migrations where version = %s", (latest + 1,))
        conn.execute("update raw.schema_migrations set name = 'other' where version = %s",
                     (latest,))
        with pytest.raises(RuntimeError, match=f"{latest}: 'other'"):
            ensure_raw_schema(conn)


def test_concurrent_first_runs_apply_each_version_once(pg_url):
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                start.wait()
                results.append(ensure_raw_schema(conn))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(results) == [[], [], [], EVERY_VERSION]
    with psycopg.connect(pg_url) as conn:
        assert applied(conn) == {m.version: m.name for m in migrations()}
