{#-
    Per-ISO-week trip counts for a closed bounding box, every week of the period included
    (zero when no trip). Resolves the period, then calls the function of the requested end:
    weekly_trip_counts_bbox_origin, _destination or _both. Each is a separate SQL function so
    that a call plans only the query it runs (Postgres plans a SQL function's body at every
    call, and planning the three together cost more than running one).
-#}

with

region_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_region') }}

),

period as (

    -- whole ISO weeks: the week containing from_date through the week containing to_date;
    -- a missing bound defaults to the first/last week of the whole warehouse
    select
        date_trunc(
            'week', coalesce(from_date, (select min(iso_week_start) from region_counts))
        )::date as first_week,
        date_trunc(
            'week', coalesce(to_date, (select max(iso_week_start) from region_counts))
        )::date as last_week

),

matched as (

    {% for end in ['origin', 'destination', 'both'] -%}
    {% if not loop.first %}
    union all
    {% endif -%}
    select counts.*
    from period
    cross join
        lateral {{ function('weekly_trip_counts_bbox_' ~ end) }}(
            bbox_min_lon, bbox_min_lat, bbox_max_lon, bbox_max_lat,
            period.first_week, period.last_week
        ) as counts
    where match_on = '{{ end }}'
    {%- endfor %}

),

weekly as (

    select
        iso_week_start,
        sum(trip_count) as trip_count
    from matched
    group by iso_week_start

),

weeks as (

    select week_start::date as iso_week_start
    from period
    cross join
        generate_series(
            period.first_week, period.last_week, interval '1 week'
        ) as week_start
    where
        -- an unknown match_on fails loudly (a SQL function cannot raise; a bad cast can)
        case
            when match_on in ('origin', 'destination', 'both') then true
            else (
                'weekly_trip_counts_bbox: match_on must be origin, destination or both, not '
                || coalesce(match_on, 'null')
            )::boolean
        end

),

final as (

    select
        weeks.iso_week_start,
        coalesce(weekly.trip_count, 0)::bigint as trip_count
    from weeks
    left join weekly
        on weeks.iso_week_start = weekly.iso_week_start

)

select * from final
order by iso_week_start
