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
    {{ return(adapter.dispatch('newly_loaded_trips', 'trips_warehouse')(watermark_column)) }}
{%- endmacro %}

{#- Postgres: the `'-infinity'::timestamptz` watermark; the batch range is for raw.trips' BRIN index. -#}
{% macro postgres__newly_loaded_trips(watermark_column) -%}
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

{{- refuse_full_build_of_archived_raw() }}

trips as (

    select * from visible_trips

),

{%- endif %}
{%- endmacro %}


{#-
    A full build of a model that reads raw trips would lose every archived batch (their rows
    left raw.trips, extract_load/archive.py): refuse it, saying how to get them back. (A unit
    test's full build reads its fixtures, not raw.trips.)
-#}
{% macro refuse_full_build_of_archived_raw() -%}
    {%- if execute and model.resource_type != 'unit_test' -%}
        {%- set batches = adapter.get_relation(
            database=target.database, schema=var('raw_schema'), identifier='load_batches'
        ) -%}
        {#- a ledger from before archiving has no archived_at (and nothing archived) -#}
        {%- if batches is not none and 'archived_at' in (
            adapter.get_columns_in_relation(batches) | map(attribute='name') | list
        ) -%}
            {%- set archived = run_query(
                'select count(*) from ' ~ batches ~ ' where archived_at is not null'
            ).columns[0].values()[0] -%}
            {%- if archived > 0 -%}
                {{- exceptions.raise_compiler_error(
                    model.name ~ ": a full build needs the raw trips of " ~ archived
                    ~ " archived batches; run `trips raw replay` first (docs/scalability.md)"
                ) -}}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
