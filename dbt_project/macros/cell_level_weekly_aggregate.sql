{#-
    A whole model: weekly trip counts per (level-<level> <end> cell, ISO week), the finer
    pieces weekly_trip_counts_bbox reads along a box's edges (levels: see trip_cell).
    Incremental on fct_trips.loaded_at (weekly_count_aggregate). Two covering indexes: edge
    columns are read by x (x, y, week), edge rows by y (y, x, week).
-#}
{% macro cell_level_weekly_aggregate(end, level) -%}
{%- set x = end ~ '_cell_l' ~ level ~ '_x' -%}
{%- set y = end ~ '_cell_l' ~ level ~ '_y' -%}
{%- set keys = [x, y, 'iso_week_start'] -%}
{{
    config(
        unique_key=keys,
        post_hook=[
            {
                'sql': "{{ create_index(this, 'key_idx', " ~ keys ~ ", ['trip_count']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'yx_idx', "
                    ~ [y, x, 'iso_week_start'] ~ ", ['trip_count']) }}",
                'transaction': false,
            },
        ],
    )
}}
{{ weekly_count_aggregate(ref('fct_trips_gridded'), keys) }}
{%- endmacro %}
