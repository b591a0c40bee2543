{#-
    Reconciliation with the gate: fct_trips holds every raw trip of a completely loaded file
    once, and nothing else (no trip of a file still loading, no trip twice), and its watermark
    is the newest loaded file that has trips. Returns one row (failing) when that is not so.

    Per ingestion (checks_since set, see macros/checks_scope.sql) it reconciles the files
    loaded since the last successful checks: their raw trips (read through the BRIN index by
    their batch range) against the fact rows with a newer loaded_at. Without the var, every
    file against the whole fact.
-#}

{%- set scoped = var('checks_since', none) not in (none, '') %}

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
    where {{ checks_scope_predicate('loaded_at', 'checks_since', 'timestamptz') }}

),

checked_raw_trips as not materialized (

    select raw_trips.*
    from raw_trips
    inner join load_batches
        on raw_trips.batch_id = load_batches.batch_id
    inner join checked_files
        on load_batches.file_hash = checked_files.file_hash
    {%- if scoped %}
    -- the two-sided batch range lets the planner use raw.trips' BRIN index
    where
        raw_trips.batch_id between
        (select min(checked_files.first_trip_batch_id) from checked_files)
        and (select max(checked_files.last_trip_batch_id) from checked_files)
    {%- endif %}

),

checked_fct_trips as not materialized (

    select * from fct_trips
    where {{ checks_scope_predicate('loaded_at', 'checks_since', 'timestamptz') }}

),

visible as (

    select
        count(*) as row_count,
        count(distinct trip_id) as trip_count

    from checked_raw_trips

),

fct as (

    select
        count(*) as row_count,
        count(distinct trip_id) as trip_count

    from checked_fct_trips

),

not_visible as (

    -- fact rows that are not a trip of a loaded file
    select count(*) as row_count

    from checked_fct_trips
    where not exists (
        select 1
        from checked_raw_trips
        where checked_raw_trips.trip_id = checked_fct_trips.trip_id
    )

),

watermarks as (

    -- whole tables, both cheap: the ledger is small, fct_trips has an index on loaded_at
    select
        (
            select max(loaded_files.loaded_at) from loaded_files
            where exists (
                select 1 from load_batches
                where
                    load_batches.file_hash = loaded_files.file_hash
                    and load_batches.table_name = 'trips'
                    and load_batches.row_count > 0
            )
        ) as visible_max_loaded_at,
        (select max(fct_trips.loaded_at) from fct_trips) as fct_max_loaded_at

),

final as (

    select
        visible.row_count as visible_row_count,
        fct.row_count as fct_row_count,
        not_visible.row_count as fct_rows_not_visible,
        watermarks.visible_max_loaded_at,
        watermarks.fct_max_loaded_at

    from visible
    cross join fct
    cross join not_visible
    cross join watermarks
    where
        visible.row_count <> fct.row_count
        or visible.trip_count <> fct.trip_count
        or not_visible.row_count <> 0
        or watermarks.visible_max_loaded_at is distinct from watermarks.fct_max_loaded_at

)

select * from final
