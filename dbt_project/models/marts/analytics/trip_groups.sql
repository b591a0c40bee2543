{{
    config(
        unique_key='trip_group_id',
        indexes=[
            {'columns': ['trip_group_id'], 'unique': true},
            {'columns': ['region', 'trip_count']},
        ],
    )
}}

{#-
    One row per group of similar trips: same region, origin cell, destination cell and
    time-of-day bucket. Incremental: only fct_trips rows whose loaded_at (the loaded_at of the
    trip's file) is above the newest one already folded in are aggregated, then combined with
    the existing group rows.
-#}

with

fct_trips as (

    select * from {{ ref('fct_trips_gridded') }}
    {% if is_incremental() %}
    where
        loaded_at > (
            select coalesce(max(folded.max_loaded_at), '-infinity'::timestamptz)
            from {{ this }} as folded
        )
    {% endif %}

),

new_groups as (

    select
        trip_group_id,
        region_id,
        region,
        origin_cell_x,
        origin_cell_y,
        destination_cell_x,
        destination_cell_y,
        time_bucket,
        count(*) as trip_count,
        min(trip_at) as first_seen_at,
        max(trip_at) as last_seen_at,
        array_agg(distinct datasource order by datasource) as datasources,
        max(loaded_at) as max_loaded_at
    from fct_trips
    group by
        trip_group_id,
        region_id,
        region,
        origin_cell_x,
        origin_cell_y,
        destination_cell_x,
        destination_cell_y,
        time_bucket

),

combined as (

    {{ fold_into_existing(
        'new_groups',
        match_on=['trip_group_id'],
        carry=[
            'trip_group_id', 'region_id', 'region', 'origin_cell_x', 'origin_cell_y',
            'destination_cell_x', 'destination_cell_y', 'time_bucket',
        ],
        folds=[
            ('trip_count', 'sum'), ('first_seen_at', 'min'), ('last_seen_at', 'max'),
            ('datasources', 'union'), ('max_loaded_at', 'max'),
        ],
    ) }}

),

final as (

    select
        trip_group_id,
        region_id,
        region,
        origin_cell_x,
        origin_cell_y,
        destination_cell_x,
        destination_cell_y,
        time_bucket,
        -- cell bounds in degrees: [cell * size, (cell + 1) * size)
        origin_cell_x * {{ var('trip_cell_size_deg') }}::double precision as origin_min_lon,
        origin_cell_y * {{ var('trip_cell_size_deg') }}::double precision as origin_min_lat,
        (origin_cell_x + 1) * {{ var('trip_cell_size_deg') }}::double precision as origin_max_lon,
        (origin_cell_y + 1) * {{ var('trip_cell_size_deg') }}::double precision as origin_max_lat,
        (origin_cell_x + 0.5) * {{ var('trip_cell_size_deg') }}::double precision
            as origin_center_lon,
        (origin_cell_y + 0.5) * {{ var('trip_cell_size_deg') }}::double precision
            as origin_center_lat,
        destination_cell_x * {{ var('trip_cell_size_deg') }}::double precision
            as destination_min_lon,
        destination_cell_y * {{ var('trip_cell_size_deg') }}::double precision
            as destination_min_lat,
        (destination_cell_x + 1) * {{ var('trip_cell_size_deg') }}::double precision
            as destination_max_lon,
        (destination_cell_y + 1) * {{ var('trip_cell_size_deg') }}::double precision
            as destination_max_lat,
        (destination_cell_x + 0.5) * {{ var('trip_cell_size_deg') }}::double precision
            as destination_center_lon,
        (destination_cell_y + 0.5) * {{ var('trip_cell_size_deg') }}::double precision
            as destination_center_lat,
        (time '00:00' + make_interval(mins => time_bucket * {{ var('time_bucket_minutes') }}))
            as bucket_start,
        (time '00:00' + make_interval(mins => (time_bucket + 1) * {{ var('time_bucket_minutes') }}))
            as bucket_end,
        trip_count,
        datasources,
        max_loaded_at,
        first_seen_at,
        last_seen_at
    from combined

)

select * from final
