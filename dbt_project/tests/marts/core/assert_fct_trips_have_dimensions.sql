{#-
    Every fact row joins to each of its dimensions (unknown members included). With var
    checks `new` the rows loaded since the last passing checks (macros/checks_scope.sql):
    fct_trips is append-only and the dimensions never lose a member.
-#}

with

trips as (

    select * from {{ ref('fct_trips_gridded') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

datasources as (

    select * from {{ ref('dim_datasources') }}

),

weeks as (

    select * from {{ ref('dim_weeks') }}

),

times_of_day as (

    select * from {{ ref('dim_time_of_day') }}

),

checked_trips as (

    select * from trips
    where {{ checks_scope('loaded_at') }}

),

final as (

    select
        trips.trip_id,
        regions.region_id is null as is_missing_region,
        datasources.datasource_id is null as is_missing_datasource,
        weeks.iso_week_start is null as is_missing_week,
        times_of_day.time_bucket is null as is_missing_time_of_day

    from checked_trips as trips
    left join regions
        on trips.region_id = regions.region_id
    left join datasources
        on trips.datasource_id = datasources.datasource_id
    left join weeks
        on trips.iso_week_start = weeks.iso_week_start
    left join times_of_day
        on trips.time_bucket = times_of_day.time_bucket
    where
        regions.region_id is null
        or datasources.datasource_id is null
        or weeks.iso_week_start is null
        or times_of_day.time_bucket is null

)

select * from final
