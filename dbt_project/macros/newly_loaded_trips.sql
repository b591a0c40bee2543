{#-
    CTEs `loaded_files`, `new_batches` and `trips`: the visible trips of the files loaded after
    `watermark` (a scalar SQL expression, the caller's own watermark), read from
    `gridded_trips` (a CTE over int_trips_gridded). The incremental runs of fct_trips and of the
    dimensions it joins share it.

    Files, not batches, are the unit: a file becomes visible when it is completely loaded, and
    its loaded_at is then above every watermark (runs are serialised), even when early batches
    committed in a killed run long before. So that a run does not scan raw.trips, the trips
    are also restricted to the batch range of those files (raw.load_batches via
    int_files_loaded, a few rows), which Postgres pushes down to raw.trips as a BRIN bitmap scan.
    The caller needs `-- depends_on: {{ ref('int_files_loaded') }}` (this ref is only rendered
    in incremental runs).
-#}
{% macro newly_loaded_trips(gridded_trips, watermark) -%}
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
    where loaded_at > {{ watermark }}

),

trips as (

    select * from {{ gridded_trips }}
    where
        loaded_at > {{ watermark }}
        and batch_id between
        (select new_batches.first_batch_id from new_batches)
        and (select new_batches.last_batch_id from new_batches)

),
{%- endmacro %}
