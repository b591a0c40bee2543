{#-
    The import and selection CTEs of fct_trips and of the dimensions it joins, ending in
    `trips`: every visible trip (int_trips_visible) in a full build; in an incremental run only
    the trips of the files loaded after the model's own watermark, max(`watermark_column`) of
    {{ this }} (CTEs `visible_trips`, `watermark`, `loaded_files`, `new_batches`, `trips`).

    Files, not batches, are the unit: a file becomes visible when it is completely loaded, and
    its loaded_at is then above every watermark (runs are serialised), even when early batches
    committed in a killed run long before. So that a run does not scan raw.trips, the trips
    are also restricted to the batch range of those files (raw.load_batches via
    int_files_loaded, a few rows), which Postgres pushes down to raw.trips as a BRIN bitmap scan.
    The caller needs `-- depends_on: {{ ref('int_files_loaded') }}` (this ref is only rendered
    in incremental runs).
-#}
{% macro newly_loaded_trips(watermark_column) -%}
visible_trips as (

    select * from {{ ref('int_trips_visible') }}

),

{% if is_incremental() -%}

watermark as (

    select coalesce(max({{ watermark_column }}), '-infinity'::timestamptz) as max_loaded_at
    from {{ this }}

),

loaded_files as (

    select * from {{ ref('int_files_loaded') }}

),

new_batches as (

    -- the batch range of the newly loaded files: a two-sided range lets the planner pick the
    -- BRIN index of raw.trips (an open "batch_id >= param" is estimated at a third of the table)
    select
        min(first_trip_batch_id) as first_batch_id,
        max(last_trip_batch_id) as last_batch_id
    from loaded_files
    where loaded_at > (select watermark.max_loaded_at from watermark)

),

trips as (

    select * from visible_trips
    where
        loaded_at > (select watermark.max_loaded_at from watermark)
        and batch_id between
        (select new_batches.first_batch_id from new_batches)
        and (select new_batches.last_batch_id from new_batches)

),

{%- else -%}

trips as (

    select * from visible_trips

),

{%- endif %}
{%- endmacro %}
