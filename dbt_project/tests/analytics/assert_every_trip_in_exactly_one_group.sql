-- Every fct_trips row maps (trip_group_id) to exactly one trip_groups row, and each group's
-- trip_count equals the number of trips mapped to it; so the counts sum to the fact's rows.
-- Returns the groups where that is not so.
-- Nightly (tag): it counts every trip of the fact; per ingestion the scoped relationships
-- test and assert_trip_group_counts_sum_to_fct_rows cover the new trips.

{{ config(tags=['nightly']) }}

with

fct_trips as (

    select * from {{ ref('fct_trips_gridded') }}

),

trip_groups as (

    select * from {{ ref('trip_groups') }}

),

mapped as (

    select
        trip_group_id,
        count(*) as trip_count
    from fct_trips
    group by trip_group_id

),

final as (

    select
        coalesce(mapped.trip_group_id, trip_groups.trip_group_id) as trip_group_id,
        mapped.trip_count as fact_trip_count,
        trip_groups.trip_count as group_trip_count
    from mapped
    full outer join trip_groups
        on mapped.trip_group_id = trip_groups.trip_group_id
    where mapped.trip_count is distinct from trip_groups.trip_count

)

select * from final
