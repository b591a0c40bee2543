{#-
    The trips of completely loaded files (the gate: a file still 'loading' after a killed run
    is invisible), with their file's loaded_at. A view: fct_trips and the dimensions select
    from it with loaded_at / batch_id filters, which Postgres pushes down into
    int_files_loaded and raw.trips (no window functions, so nothing blocks it). Derived
    columns (cells, time bucket, ISO week, group) are computed from the fact, not here: see
    fct_trips_gridded.
-#}

with

trips as (

    select * from {{ ref('stg_trips__trips') }}

),

load_batches as (

    select * from {{ ref('stg_trips__load_batches') }}

),

loaded_files as (

    select * from {{ ref('int_files_loaded') }}

),

visible as (

    select
        trips.trip_id,
        trips.batch_id,
        trips.region,
        trips.datasource,
        trips.origin_lon,
        trips.origin_lat,
        trips.destination_lon,
        trips.destination_lat,
        trips.trip_at,
        loaded_files.loaded_at

    from trips
    inner join load_batches
        on trips.batch_id = load_batches.batch_id
    inner join loaded_files
        on load_batches.file_hash = loaded_files.file_hash

)

select * from visible
