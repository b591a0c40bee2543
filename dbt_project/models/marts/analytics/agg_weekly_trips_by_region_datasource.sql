{#-
    Weekly trip counts per (region, datasource, ISO week): which datasources report in which
    region, for the dashboard's "datasources by region" chart without reading fct_trips.
    Incremental on fct_trips.loaded_at like the other weekly aggregates (weekly_count_aggregate).
-#}

{% set keys = [
    'region_id',
    'region',
    'datasource_id',
    'datasource',
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
        ],
    )
}}

{{ weekly_count_aggregate(ref('fct_trips_gridded'), keys) }}
