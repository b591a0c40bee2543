{#-
    One row per trip of a completely loaded file, lean: the ids, the four coordinates, the
    time and the file's loaded_at (88 bytes a row with Postgres's tuple header). Everything
    that is a cheap function of these (grid cells, time bucket, ISO week, group, names) is
    computed by the view fct_trips_gridded, and stored only where an index needs it: the
    expression indexes below, on the same trip_cell() expressions that view uses.

    Incremental by FILE: loaded_at is when the trip's file was marked loaded (int_files_loaded),
    and a run adds the trips of the files loaded since the newest loaded_at already here.
    Ingestion runs are serialised, so file loaded_at values only grow and a file is never seen
    before it is complete: its early batches cannot fall below the watermark (which batch_id
    could, after a killed load). So that a run does not scan raw.trips, the trips are also
    restricted to the batch range of the new files (macro newly_loaded_trips, shared with the
    dimensions), which Postgres pushes down to raw.trips as a BRIN bitmap scan.

    Append, not delete+insert: a file becomes visible once and trip ids are unique by
    construction (batch_id << 32 | row); the unique_by_sort test on trip_id guards it without a
    primary-key index (20 bytes a trip).

    The last post_hook ANALYZEs the table: what reads the new rows next filters on loaded_at
    values above the histogram, which the planner would otherwise estimate at 1 row.
-#}

-- depends_on: {{ ref('int_files_loaded') }}

{#- the level-1 cells (~100 m) of each end, as the expressions fct_trips_gridded computes -#}
{%- set origin_cell = [trip_cell('origin_lon', 1), trip_cell('origin_lat', 1)] %}
{%- set destination_cell = [trip_cell('destination_lon', 1), trip_cell('destination_lat', 1)] %}

{#- Hooks are rendered when they run (`this` is only final then), hence the SQL as text.
    Two covering indexes, one per end, keyed by the end's level-1 cell and holding both
    ends' coordinates and the time: the weekly-average functions count the trips of the
    cells a box's edges cut from them with index-only scans (both ends for --match both).
    fillfactor 100: the fact is append-only. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        post_hook=[
            {
                'sql': "{{ create_index(this, 'loaded_at_brin', ['loaded_at'], using='brin') }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'origin_cell_l1_idx', " ~ origin_cell ~ ","
                    ~ " ['origin_lon', 'origin_lat', 'destination_lon', 'destination_lat',"
                    ~ " 'trip_at'], fillfactor=100) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'destination_cell_l1_idx', " ~ destination_cell ~ ","
                    ~ " ['destination_lon', 'destination_lat', 'origin_lon', 'origin_lat',"
                    ~ " 'trip_at'], fillfactor=100) }}",
                'transaction': false,
            },
            {
                'sql': 'analyze {{ this }}',
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

    -- column order packs the row: 8-byte columns first, the two smallints last
    select
        trips.trip_id,
        trips.trip_at,
        trips.loaded_at,
        trips.origin_lon,
        trips.origin_lat,
        trips.destination_lon,
        trips.destination_lat,
        coalesce(regions.region_id, -1)::smallint as region_id,
        coalesce(datasources.datasource_id, -1)::smallint as datasource_id

    from trips
    left join regions
        on trips.region = regions.region_name
    left join datasources
        on trips.datasource = datasources.datasource_name

)

select * from final
