{#- Every ISO week from the first to the last trip, including weeks without trips. -#}

with

trips as (

    select * from {{ ref('int_trips_gridded') }}

),

bounds as (

    select
        date_trunc('week', min(trip_at))::date as first_week_start,
        date_trunc('week', max(trip_at))::date as last_week_start

    from trips

),

weeks as (

    select
        generate_series(
            first_week_start,
            last_week_start,
            interval '1 week'
        )::date as iso_week_start

    from bounds

),

week_trips as (

    select
        date_trunc('week', trip_at)::date as iso_week_start,
        count(*) as trip_count

    from trips
    group by date_trunc('week', trip_at)::date

),

final as (

    select
        weeks.iso_week_start,
        extract(isoyear from weeks.iso_week_start)::integer as iso_year,
        extract(week from weeks.iso_week_start)::integer as iso_week,
        to_char(weeks.iso_week_start, 'IYYY-"W"IW') as week_label,
        coalesce(week_trips.trip_count, 0)::bigint as trip_count,
        (weeks.iso_week_start + 6) as week_end_date

    from weeks
    left join week_trips
        on weeks.iso_week_start = week_trips.iso_week_start

)

select * from final
