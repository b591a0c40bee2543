{#-
    One row per trip of a completely loaded file. Incremental by FILE: loaded_at is when the
    trip's file was marked loaded (int_files_loaded), and a run adds the trips of the files
    loaded since the newest loaded_at already here. Ingestion runs are serialised, so file
    loaded_at values only grow and a file is never seen before it is complete: its early
    batches cannot fall below the watermark (which batch_id could, after a killed load).

    So that a run does not scan raw.trips, the trips are also restricted to the batch range of
    the new files (macro newly_loaded_trips, shared with the dimensions), which Postgres pushes
    down to raw.trips as a BRIN bitmap scan.

    Append, not delete+insert: a file becomes visible once and trip ids are unique per file,
    so there is nothing to replace; a trip seen twice violates the primary key and fails the
    run loudly instead of being double counted downstream.

    The last post_hook ANALYZEs the table: what reads the new rows next (the analytics marts,
    the tests of the rows since the last checks) filters on loaded_at values above the
    histogram, which the planner estimates at 1 row; with that estimate the reconciliation of
    10k new trips chose a nested loop that ran for minutes at 27M trips, against 0.5 s for the
    hash join fresh statistics give. ANALYZE samples: ~1 s at 27M.
-#}

-- depends_on: {{ ref('int_files_loaded') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        post_hook=[
            {
                'sql': "{{ create_index(this, 'origin_od_cell_idx',"
                    ~ " ['origin_cell_x', 'origin_cell_y', 'destination_cell_x', 'destination_cell_y'],"
                    ~ " ['origin_lon', 'origin_lat', 'destination_lon', 'destination_lat',"
                    ~ " 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'destination_od_cell_idx',"
                    ~ " ['destination_cell_x', 'destination_cell_y', 'origin_cell_x', 'origin_cell_y'],"
                    ~ " ['destination_lon', 'destination_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ drop_index(this, 'origin_cell_idx') }}",
                'transaction': false,
            },
            {
                'sql': "{{ drop_index(this, 'destination_cell_idx') }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'origin_cell_l2_idx',"
                    ~ " ['origin_cell_l2_x', 'origin_cell_l2_y'],"
                    ~ " ['origin_lon', 'origin_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'origin_cell_l2_yx_idx',"
                    ~ " ['origin_cell_l2_y', 'origin_cell_l2_x'],"
                    ~ " ['origin_lon', 'origin_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'destination_cell_l2_idx',"
                    ~ " ['destination_cell_l2_x', 'destination_cell_l2_y'],"
                    ~ " ['destination_lon', 'destination_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'destination_cell_l2_yx_idx',"
                    ~ " ['destination_cell_l2_y', 'destination_cell_l2_x'],"
                    ~ " ['destination_lon', 'destination_lat', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'loaded_at_idx', ['loaded_at']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'region_week_idx', ['region_id', 'iso_week_start']) }}",
                'transaction': false,
            },
            {
                'sql': "analyze {{ this }}",
                'transaction': false,
            },
        ],
    )
}}

with

{{ newly_loaded_trips('loaded_at') }}

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
        {% for level in range(1, trip_cell_finest_level() | int + 1) -%}
        trips.origin_cell_l{{ level }}_x,
        trips.origin_cell_l{{ level }}_y,
        trips.destination_cell_l{{ level }}_x,
        trips.destination_cell_l{{ level }}_y,
        {% endfor -%}
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
