{#-
    Adds the grid cells, the time-of-day bucket, the ISO week and the keys to every trip of a
    completely loaded file (the gate: a file still 'loading' after a killed run is invisible).
    loaded_at is the FILE's loaded_at, batch_loaded_at the commit time of the trip's batch.
    A view: fct_trips selects from it with loaded_at / batch_id filters, which Postgres pushes
    down into int_files_loaded and raw.trips (no window functions, so nothing blocks it).
-#}

with

trips as (

    select * from {{ ref('stg_trips__trips') }}

),

loaded_files as (

    select * from {{ ref('int_files_loaded') }}

),

visible as (

    select
        trips.trip_id,
        trips.source_file_hash,
        trips.batch_id,
        trips.region,
        trips.datasource,
        trips.origin_lon,
        trips.origin_lat,
        trips.destination_lon,
        trips.destination_lat,
        trips.trip_date,
        trips.trip_at,
        trips.loaded_at as batch_loaded_at,
        loaded_files.loaded_at

    from trips
    inner join loaded_files
        on trips.source_file_hash = loaded_files.file_hash

),

gridded as (

    select
        trip_id,
        source_file_hash,
        region,
        datasource,
        origin_lon,
        origin_lat,
        destination_lon,
        destination_lat,
        {{ trip_cell('origin_lon') }} as origin_cell_x,
        {{ trip_cell('origin_lat') }} as origin_cell_y,
        {{ trip_cell('destination_lon') }} as destination_cell_x,
        {{ trip_cell('destination_lat') }} as destination_cell_y,
        {% for level in range(1, trip_cell_finest_level() | int + 1) -%}
        {{ trip_cell('origin_lon', level) }} as origin_cell_l{{ level }}_x,
        {{ trip_cell('origin_lat', level) }} as origin_cell_l{{ level }}_y,
        {{ trip_cell('destination_lon', level) }} as destination_cell_l{{ level }}_x,
        {{ trip_cell('destination_lat', level) }} as destination_cell_l{{ level }}_y,
        {% endfor -%}
        {{ time_of_day_bucket('trip_at') }} as time_bucket,
        trip_date,
        date_trunc('week', trip_at)::date as iso_week_start,
        trip_at,
        batch_id,
        batch_loaded_at,
        loaded_at

    from visible

),

keyed as (

    select
        trip_id,
        {{ surrogate_key(['region']) }} as region_key,
        {{ surrogate_key(['datasource']) }} as datasource_key,
        {{ surrogate_key([
            'region',
            'origin_cell_x',
            'origin_cell_y',
            'destination_cell_x',
            'destination_cell_y',
            'time_bucket',
        ]) }} as trip_group_id,
        source_file_hash,
        region,
        datasource,
        origin_lon,
        origin_lat,
        destination_lon,
        destination_lat,
        origin_cell_x,
        origin_cell_y,
        destination_cell_x,
        destination_cell_y,
        {% for level in range(1, trip_cell_finest_level() | int + 1) -%}
        origin_cell_l{{ level }}_x,
        origin_cell_l{{ level }}_y,
        destination_cell_l{{ level }}_x,
        destination_cell_l{{ level }}_y,
        {% endfor -%}
        time_bucket,
        trip_date,
        iso_week_start,
        trip_at,
        batch_id,
        batch_loaded_at,
        loaded_at

    from gridded

)

select * from keyed
