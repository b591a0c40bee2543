-- The group counts sum to the fact's row count (one row returned when they do not).

with

fct_trips as (

    select * from {{ ref('fct_trips_gridded') }}

),

trip_groups as (

    select * from {{ ref('trip_groups') }}

),

totals as (

    select
        (select count(*) from fct_trips) as fact_rows,
        (select coalesce(sum(trip_count), 0) from trip_groups) as grouped_trips

),

final as (

    select * from totals
    where fact_rows <> grouped_trips

)

select * from final
