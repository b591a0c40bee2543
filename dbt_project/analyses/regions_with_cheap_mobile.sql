-- Question 2: what regions has the "cheap_mobile" datasource appeared in?
-- One row per region with at least one cheap_mobile trip, with how many and when.
-- `trips answer` runs the same query (trips_warehouse/analytics.py).

with

fct_trips as (

    select * from {{ ref('fct_trips_gridded') }}

),

cheap_mobile_trips as (

    select * from fct_trips
    where datasource = 'cheap_mobile'

),

final as (

    select
        region,
        count(*) as trip_count,
        min(trip_at) as first_trip_at,
        max(trip_at) as last_trip_at
    from cheap_mobile_trips
    group by region

)

select * from final
order by region
