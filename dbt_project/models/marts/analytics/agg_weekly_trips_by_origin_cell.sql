{#-
    Weekly trip counts per (origin cell, ISO week): a pre-aggregate the weekly-average functions
    read for everything strictly inside an area. Incremental on fct_trips.loaded_at (see the
    weekly_count_aggregate macro): a new ingestion adds its counts to the existing rows.
-#}

{% set keys = [
    'origin_cell_x',
    'origin_cell_y',
    'iso_week_start',
] %}
{% set index_columns = [
    'origin_cell_x',
    'origin_cell_y',
    'iso_week_start',
] %}

{{
    config(
        unique_key=keys,
        post_hook=[
            {
                'sql': "{{ create_index(this, 'key_idx', " ~ index_columns ~ ", ['trip_count']) }}",
                'transaction': false,
            },
        ],
    )
}}

{{ weekly_count_aggregate(ref('fct_trips_gridded'), keys) }}
