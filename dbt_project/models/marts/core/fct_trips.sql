{#-
    One row per trip. Incremental by load batch: a run only reads the batches committed since
    the last one (batch_id is a bigserial, and the filter is pushed down to raw.trips and its
    BRIN index), so the cost of a run follows the new data, not the 100M rows already here.
    delete+insert on trip_id keeps a re-delivered trip single.
-#}

{{
    config(
        materialized='incremental',
        unique_key='trip_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook=[
            {
                'sql': "{{ create_index(this, 'origin_cell_idx', ['origin_cell_x', 'origin_cell_y'],"
                    ~ " ['origin_lon', 'origin_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'destination_cell_idx', ['destination_cell_x', 'destination_cell_y'],"
                    ~ " ['destination_lon', 'destination_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'batch_id_idx', ['batch_id']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'region_week_idx', ['region_id', 'iso_week_start']) }}",
                'transaction': false,
            },
        ],
    )
}}

with

trips as (

    select * from {{ ref('int_trips_gridded') }}

    {% if is_incremental() %}
        where batch_id > (select coalesce(max(batch_id), -1) from {{ this }})
    {% endif %}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

datasources as (

    select * from {{ ref('dim_datasources') }}

),

final as (

    select
        trips.trip_id,
        coalesce(regions.region_id, '-1') as region_id,
        coalesce(datasources.datasource_id, '-1') as datasource_id,
        trips.region,
        trips.datasource,
        trips.origin_lon,
        trips.origin_lat,
        trips.destination_lon,
        trips.destination_lat,
        trips.origin_cell_x,
        trips.origin_cell_y,
        trips.destination_cell_x,
        trips.destination_cell_y,
        trips.time_bucket,
        trips.trip_group_id,
        trips.trip_date,
        trips.iso_week_start,
        trips.trip_at,
        trips.batch_id,
        trips.loaded_at

    from trips
    left join regions
        on trips.region_key = regions.region_id
    left join datasources
        on trips.datasource_key = datasources.datasource_id

)

select * from final
