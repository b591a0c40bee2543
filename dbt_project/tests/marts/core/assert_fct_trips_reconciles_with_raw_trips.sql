{#-
    Reconciliation with the ledger and the gate: fct_trips holds every trip of a completely
    loaded file, and nothing else (no trip of a file still loading), and
    its watermark is the newest loaded file that has trips (of the checked files). Returns one
    row (failing) when that is not so.

    The count a file's trips must reach is the ledger's: raw.load_batches.row_count, written in
    the transaction that COPYed the batch. Batches still in raw.trips must hold exactly that
    many rows; archived batches (extract_load/archive.py) have left raw.trips, their count
    stays in the ledger. In a build with var checks `new` (macros/checks_scope.sql) it
    reconciles the files loaded since the last passing checks; otherwise every file against
    the whole fact. That no trip is there twice is fct_trips.trip_id's unique_by_sort test
    (with the counts here, every trip once): one sort of every id, not two.
-#}

{%- set scoped = checks_scope('loaded_at') | trim != 'true' %}

with

-- not materialized: each is read twice, and inlining lets the scope predicates and max()
-- reach the indexes (a materialized fct_trips is a full scan)
raw_trips as not materialized (

    select * from {{ source('raw', 'trips') }}

),

loaded_files as (

    select * from {{ ref('int_files_loaded') }}

),

fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

load_batches as (

    select * from {{ ref('stg_trips__load_batches') }}

),

checked_files as not materialized (

    select * from loaded_files
    where {{ checks_scope('loaded_at') }}

),

checked_batches as not materialized (

    select load_batches.*
    from load_batches
    inner join checked_files
        on load_batches.file_hash = checked_files.file_hash
    where load_batches.table_name = 'trips'

),

kept_batches as (

    select checked_batches.batch_id
    from checked_batches
    where checked_batches.archived_at is null

),

raw_batch_counts as (

    -- counted per batch first, then matched to the kept batches: a join per batch would
    -- be a nested loop of BRIN scans, each reading every range not yet summarized (all of
    -- raw.trips before its first vacuum: at 100M trips the test never finished)
    select
        raw_trips.batch_id,
        count(*) as row_count
    from raw_trips
    {%- if scoped %}
    -- the two-sided batch range lets the planner use raw.trips' BRIN index
    where
        raw_trips.batch_id between
        (select min(checked_files.first_trip_batch_id) from checked_files)
        and (select max(checked_files.last_trip_batch_id) from checked_files)
    {%- endif %}
    group by raw_trips.batch_id

),

kept_raw_trips as (

    select coalesce(sum(raw_batch_counts.row_count), 0) as row_count
    from raw_batch_counts
    inner join kept_batches
        on raw_batch_counts.batch_id = kept_batches.batch_id

),

ledger as (

    select
        coalesce(sum(row_count), 0) as row_count,
        coalesce(sum(row_count) filter (where archived_at is null), 0) as kept_row_count
    from checked_batches

),

checked_fct_trips as not materialized (

    select * from fct_trips
    where {{ checks_scope('loaded_at') }}

),

fct as (

    select
        count(*) as row_count,
        -- fact rows whose batch (trip_id >> 32) is not a batch of a checked loaded file
        count(*) filter (
            where (trip_id >> 32) not in (select checked_batches.batch_id from checked_batches)
        ) as not_visible_count,
        -- in the same scan: max() cannot use a BRIN index, so a separate max over fct_trips
        -- would read the whole fact (at 100M trips, twice: the planner copies the subquery)
        max(loaded_at) as max_loaded_at
    from checked_fct_trips

),

watermarks as (

    -- the newest checked file that has trips, against the newest trip of the checked fact
    select
        (
            select max(checked_files.loaded_at) from checked_files
            where exists (
                select 1 from load_batches
                where
                    load_batches.file_hash = checked_files.file_hash
                    and load_batches.table_name = 'trips'
                    and load_batches.row_count > 0
            )
        ) as visible_max_loaded_at,
        fct.max_loaded_at as fct_max_loaded_at
    from fct

),

final as (

    select
        ledger.row_count as ledger_row_count,
        ledger.kept_row_count as ledger_kept_row_count,
        kept_raw_trips.row_count as raw_row_count,
        fct.row_count as fct_row_count,
        fct.not_visible_count as fct_rows_not_visible,
        watermarks.visible_max_loaded_at,
        watermarks.fct_max_loaded_at
    from ledger
    cross join kept_raw_trips
    cross join fct
    cross join watermarks
    where
        ledger.row_count <> fct.row_count
        or ledger.kept_row_count <> kept_raw_trips.row_count
        or fct.not_visible_count <> 0
        or watermarks.visible_max_loaded_at is distinct from watermarks.fct_max_loaded_at

)

select * from final
