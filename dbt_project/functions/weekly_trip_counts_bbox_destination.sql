{#-
    Per-ISO-week counts of the trips whose destination lies in a closed bounding box, for the weeks
    first_week .. last_week that have trips (weekly_trip_counts_bbox adds the zero weeks).
    Exact without scanning fct_trips: see the bbox_end_counts macro.
-#}

with

fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

destination_counts_l0 as not materialized (

    select * from {{ ref('agg_weekly_trips_by_destination_cell') }}

),

{% for level in range(1, trip_cell_finest_level() | int + 1) %}
destination_counts_l{{ level }} as not materialized (

    select * from {{ ref('agg_weekly_trips_by_destination_cell_l' ~ level) }}

),

{% endfor %}
period as (

    select
        first_week,
        last_week

),

{{ bbox_cell_ranges() }}

{{ bbox_end_counts('destination') }}

final as (

    select
        iso_week_start,
        sum(trip_count)::bigint as trip_count
    from destination_matched
    group by iso_week_start

)

select * from final
