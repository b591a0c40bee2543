{#-
    Reconciliation with the gate: fct_trips holds every raw trip of a completely loaded file
    once, and nothing else (no trip of a file still loading, no trip twice), and its watermark
    is the newest loaded file that has trips. Returns one row (failing) when that is not so.
-#}

with

raw_trips as (

    select * from {{ source('raw', 'trips') }}

),

loaded_files as (

    select * from {{ ref('int_files_loaded') }}

),

fct_trips as (

    select * from {{ ref('fct_trips') }}

),

visible as (

    select
        count(*) as row_count,
        count(distinct raw_trips.trip_id) as trip_count,
        max(loaded_files.loaded_at) as max_loaded_at

    from raw_trips
    inner join loaded_files
        on raw_trips.source_file_hash = loaded_files.file_hash

),

fct as (

    select
        count(*) as row_count,
        count(distinct trip_id) as trip_count,
        max(loaded_at) as max_loaded_at

    from fct_trips

),

not_visible as (

    -- fact rows that are not a trip of a loaded file
    select count(*) as row_count

    from fct_trips
    where not exists (
        select 1
        from raw_trips
        inner join loaded_files
            on raw_trips.source_file_hash = loaded_files.file_hash
        where raw_trips.trip_id = fct_trips.trip_id
    )

),

final as (

    select
        visible.row_count as visible_row_count,
        fct.row_count as fct_row_count,
        not_visible.row_count as fct_rows_not_visible,
        visible.max_loaded_at as visible_max_loaded_at,
        fct.max_loaded_at as fct_max_loaded_at

    from visible
    cross join fct
    cross join not_visible
    where
        visible.row_count <> fct.row_count
        or visible.trip_count <> fct.trip_count
        or not_visible.row_count <> 0
        or visible.max_loaded_at is distinct from fct.max_loaded_at

)

select * from final
