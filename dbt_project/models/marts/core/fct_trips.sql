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
    construction (batch_id << 32 | row); the unique test on trip_id guards it without a
    primary-key index (20 bytes a trip).

    The last post_hook ANALYZEs the table: what reads the new rows next filters on loaded_at
    values above the histogram, which the planner would otherwise estimate at 1 row.
-#}

-- depends_on: {{ ref('int_files_loaded') }}

{%- set l2 = trip_cell_finest_level() | int %}
{%- set origin_l2 = [trip_cell('origin_lon', l2), trip_cell('origin_lat', l2)] %}
{%- set destination_l2 = [trip_cell('destination_lon', l2), trip_cell('destination_lat', l2)] %}
{%- set origin_l0 = [trip_cell('origin_lon'), trip_cell('origin_lat')] %}
{%- set destination_l0 = [trip_cell('destination_lon'), trip_cell('destination_lat')] %}
{%- set origin_point = ['origin_lon', 'origin_lat', 'trip_at'] %}
{%- set destination_point = ['destination_lon', 'destination_lat', 'trip_at'] %}
{#- (name, key expressions, covering columns): the bbox edge probes read by cell column
    (x, y) and by cell row (y, x) at the finest level, the --match both probes by the
    (origin, destination) level-0 cells from either end -#}
{%- set btree_indexes = [
    ('origin_od_cell_idx', origin_l0 + destination_l0,
        ['origin_lon', 'origin_lat', 'destination_lon', 'destination_lat', 'trip_at']),
    ('destination_od_cell_idx', destination_l0 + origin_l0, destination_point),
    ('origin_cell_l2_idx', origin_l2, origin_point),
    ('origin_cell_l2_yx_idx', origin_l2 | reverse | list, origin_point),
    ('destination_cell_l2_idx', destination_l2, destination_point),
    ('destination_cell_l2_yx_idx', destination_l2 | reverse | list, destination_point),
] %}
{#- hooks are rendered when they run (`this` is only final then): pass the specs as text -#}
{%- set hooks = [{
    'sql': "{{ create_index(this, 'loaded_at_brin', ['loaded_at'], using='brin') }}",
    'transaction': false,
}] %}
{%- for name, columns, include in btree_indexes %}
{%- do hooks.append({
    'sql': "{{ create_index(this, '" ~ name ~ "', " ~ columns ~ ", " ~ include ~ ") }}",
    'transaction': false,
}) %}
{%- endfor %}
{%- do hooks.append({'sql': 'analyze {{ this }}', 'transaction': false}) %}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        post_hook=hooks,
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
