{#-
    Weekly trip counts per (level-2 origin cell, ISO week): the finer pieces
    weekly_trip_counts_bbox reads along a box's edges (see the trip_cell macro for the levels).
    Incremental on fct_trips.loaded_at (see the weekly_count_aggregate macro). Two indexes:
    edges running north-south read it by x, edges running east-west by y.
-#}

{% set keys = [
    'origin_cell_l2_x',
    'origin_cell_l2_y',
    'iso_week_start',
] %}

{{
    config(
        unique_key=keys,
        post_hook=[
            {
                'sql': "{{ create_index(this, 'key_idx', " ~ keys ~ ", ['trip_count']) }}",
                'transaction': false,
            },
            {
                'sql': "{{ create_index(this, 'yx_idx', ['origin_cell_l2_y',"
                    ~ " 'origin_cell_l2_x', 'iso_week_start'], ['trip_count']) }}",
                'transaction': false,
            },
        ],
    )
}}

{{ weekly_count_aggregate(ref('fct_trips'), keys) }}
