-- Question 1: from the two most commonly appearing regions, which is the latest datasource?
-- "Most commonly appearing" = most trips in fct_trips (ties broken by region name);
-- "latest datasource" = the datasource of the most recent trip (max trip_at). A tie on
-- the timestamp lists every tied datasource. scope = 'overall': the latest trip across
-- both regions (and the region it was in); scope = 'region': the latest per region.
-- `trips answer` runs the same query (trips_warehouse/analytics.py).

with

fct_trips as (

    select * from {{ ref('fct_trips_gridded') }}

),

region_counts as (

    select
        region,
        count(*) as trip_count
    from fct_trips
    group by region

),

top_regions as (

    select
        region,
        trip_count,
        row_number() over (order by trip_count desc, region asc) as region_rank
    from region_counts
    order by region_rank
    limit 2

),

latest_per_datasource as (

    select
        fct_trips.region,
        fct_trips.datasource,
        max(fct_trips.trip_at) as latest_trip_at
    from fct_trips
    inner join top_regions
        on fct_trips.region = top_regions.region
    group by fct_trips.region, fct_trips.datasource

),

ranked as (

    select
        'region' as scope,
        latest_per_datasource.region,
        latest_per_datasource.datasource,
        latest_per_datasource.latest_trip_at,
        rank() over (
            partition by latest_per_datasource.region
            order by latest_per_datasource.latest_trip_at desc
        ) as recency_rank
    from latest_per_datasource
    union all
    select
        'overall' as scope,
        latest_per_datasource.region,
        latest_per_datasource.datasource,
        latest_per_datasource.latest_trip_at,
        rank() over (order by latest_per_datasource.latest_trip_at desc) as recency_rank
    from latest_per_datasource

),

final as (

    select
        ranked.scope,
        ranked.region,
        ranked.datasource,
        top_regions.trip_count as region_trip_count,
        ranked.latest_trip_at
    from ranked
    left join top_regions
        on ranked.region = top_regions.region
    where ranked.recency_rank = 1

)

select * from final
order by scope, region, datasource
