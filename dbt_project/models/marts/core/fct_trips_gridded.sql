{#-
    fct_trips with everything that is a function of its columns: the names of its dimension
    members, the grid cells at every level (trip_cell), the time-of-day bucket, the date, the
    ISO week, the batch and the similar-trip group. Computed, not stored: a view, so a query
    computes only the columns it reads, and filters on loaded_at reach fct_trips' BRIN index
    (the analytics marts fold only new trips through it). The weekly-average probes read
    fct_trips itself with the same trip_cell() expressions as its indexes: through this
    view's dimension joins Postgres 15 plans no index-only scan.
-#}

{{ config(materialized='view') }}

with

fct_trips as (

    select * from {{ ref('fct_trips') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

datasources as (

    select * from {{ ref('dim_datasources') }}

),

named as (

    select
        fct_trips.*,
        regions.region_name as region,
        datasources.datasource_name as datasource

    from fct_trips
    left join regions
        on fct_trips.region_id = regions.region_id
    left join datasources
        on fct_trips.datasource_id = datasources.datasource_id

),

gridded as (

    select
        trip_id,
        (trip_id >> 32) as batch_id,
        region_id,
        datasource_id,
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
        {{ trip_cell('origin_lon', 1) }} as origin_cell_l1_x,
        {{ trip_cell('origin_lat', 1) }} as origin_cell_l1_y,
        {{ trip_cell('destination_lon', 1) }} as destination_cell_l1_x,
        {{ trip_cell('destination_lat', 1) }} as destination_cell_l1_y,
        {{ trip_cell('origin_lon', 2) }} as origin_cell_l2_x,
        {{ trip_cell('origin_lat', 2) }} as origin_cell_l2_y,
        {{ trip_cell('destination_lon', 2) }} as destination_cell_l2_x,
        {{ trip_cell('destination_lat', 2) }} as destination_cell_l2_y,
        {{ time_of_day_bucket('trip_at') }} as time_bucket,
        trip_at::date as trip_date,
        date_trunc('week', trip_at)::date as iso_week_start,
        trip_at,
        loaded_at

    from named

),

grouped as (

    select
        *,
        {{ hash_key([
            'region',
            'origin_cell_x',
            'origin_cell_y',
            'destination_cell_x',
            'destination_cell_y',
            'time_bucket',
        ]) }} as trip_group_id

    from gridded

)

select * from grouped
