{#-
    Per-ISO-week trip counts of one region, every week of the period included (zero when
    no trip), read from the (region, week) aggregate.
-#}

with

region_counts as not materialized (

    select * from {{ ref('agg_weekly_trips_by_region') }}

),

period as (

    select
        date_trunc(
            'week', coalesce(from_date, (select min(iso_week_start) from region_counts))
        )::date as first_week,
        date_trunc(
            'week', coalesce(to_date, (select max(iso_week_start) from region_counts))
        )::date as last_week

),

weekly as (

    select
        region_counts.iso_week_start,
        sum(region_counts.trip_count) as trip_count
    from region_counts
    cross join period
    where
        region_counts.region = region_name
        and region_counts.iso_week_start between period.first_week and period.last_week
    group by region_counts.iso_week_start

),

weeks as (

    select week_start::date as iso_week_start
    from period
    cross join
        generate_series(
            period.first_week, period.last_week, interval '1 week'
        ) as week_start

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
