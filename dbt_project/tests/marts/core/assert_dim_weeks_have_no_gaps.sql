{#-
    Consecutive dim_weeks rows are exactly 7 days apart, and the dimension spans all trips.
    Nightly (tag): it reads every trip's timestamp.
-#}

{{ config(tags=['nightly']) }}

with

weeks as (

    select * from {{ ref('dim_weeks') }}

),

trips as (

    select * from {{ ref('fct_trips') }}

),

expected as (

    select
        ((date_trunc('week', max(trip_at))::date - date_trunc('week', min(trip_at))::date) / 7 + 1)
            as week_count

    from trips
    having count(*) > 0

),

actual as (

    select
        count(*) as week_count,
        (max(iso_week_start) - min(iso_week_start)) / 7 + 1 as span_weeks

    from weeks

),

final as (

    select
        expected.week_count as expected_week_count,
        actual.week_count as actual_week_count,
        actual.span_weeks

    from expected
    cross join actual
    where
        expected.week_count <> actual.week_count
        or actual.week_count <> actual.span_weeks

)

select * from final
