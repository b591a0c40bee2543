-- The raw schema as of 0.2 (the lean raw.trips), the baseline every warehouse shares: a new one
-- gets it here; one created before migrations were versioned already has it ("if not exists").
-- {raw} is the raw schema's name (TRIPS_RAW_SCHEMA). See extract_load/raw_schema.py.

create schema if not exists {raw};

-- one row per source file, keyed by the SHA-256 of its bytes: loaded once, whatever its path
create table if not exists {raw}.ingestions (
    file_hash        text primary key,
    file_path        text not null,
    file_size_bytes  bigint not null,
    status           text not null
        check (status in ('landing', 'landed', 'loading', 'loaded', 'refused', 'failed')),
    rows_read        bigint,
    rows_rejected    bigint,
    rows_accepted    bigint,
    rows_loaded      bigint,
    error            text,
    flow_run_id      text,
    first_seen_at    timestamptz not null default now(),
    landed_at        timestamptz,
    loaded_at        timestamptz,
    updated_at       timestamptz not null default now()
);

-- one row per committed COPY batch, written in the batch's transaction
create table if not exists {raw}.load_batches (
    batch_id    bigserial primary key,
    file_hash   text not null references {raw}.ingestions (file_hash),
    table_name  text not null,
    batch_key   text not null,
    row_count   bigint not null,
    loaded_at   timestamptz not null default now(),
    unique (file_hash, table_name, batch_key)
);

-- lean: the batch says which file and when (raw.load_batches); trip_id is
-- batch_id << 32 | row number in the batch (loader.TRIP_ID_ROW_BITS)
create table if not exists {raw}.trips (
    trip_id           bigint not null,
    batch_id          bigint not null,
    origin_lon        double precision not null,
    origin_lat        double precision not null,
    destination_lon   double precision not null,
    destination_lat   double precision not null,
    trip_datetime     timestamp not null,
    region            text not null,
    datasource        text not null
);
create index if not exists trips_batch_id_brin on {raw}.trips using brin (batch_id);

create table if not exists {raw}.trips_rejected (
    source_file_hash   text not null,
    region             text,
    origin_coord       text,
    destination_coord  text,
    datetime           text,
    datasource         text,
    raw_record         text,
    rejection_reason   text not null,
    batch_id           bigint not null,
    loaded_at          timestamptz not null default now()
);

-- one row per pipeline run (a Prefect flow run) with its counts
create table if not exists {raw}.ingestion_runs (
    run_id          text primary key,
    flow_run_id     text,
    status          text not null,
    paths           text,
    files_total     integer,
    files_loaded    integer,
    files_skipped   integer,
    files_refused   integer,
    rows_read       bigint,
    rows_rejected   bigint,
    rows_loaded     bigint,
    models_built    integer,
    tests_passed    integer,
    tests_failed    integer,
    duration_s      double precision,
    error           text,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);
-- Not here: ingestion_runs.checked_loaded_at / checked_batch_id, the checks watermark the
-- unversioned DDL added (0.2 warehouses have them). dbt owns that watermark now; its one-off
-- `trips dbt run-operation migrate_checks_watermark_from_ledger` moves it and drops the two
-- columns, so no migration touches them.
