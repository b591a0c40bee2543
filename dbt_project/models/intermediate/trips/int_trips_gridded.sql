{#-
    Adds the grid cells, the time-of-day bucket, the ISO week and the keys to every trip.
    A view: fct_trips selects from it with a batch_id filter, which Postgres pushes down
    into stg_trips__trips / raw.trips (no window functions, so nothing blocks the pushdown).
-#}

with

trips as (

    select * from {{ ref('stg_trips__trips') }}

),

gridded as (

    select
        trip_id,
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
        {{ time_of_day_bucket('trip_at') }} as time_bucket,
        trip_date,
        date_trunc('week', trip_at)::date as iso_week_start,
        trip_at,
        batch_id,
        loaded_at

    from trips

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
        time_bucket,
        trip_date,
        iso_week_start,
        trip_at,
        batch_id,
        loaded_at

    from gridded

)

select * from keyed
