{#-
    The incremental dimensions count exactly the fact's trips: per region and per datasource,
    dim trip_count = the fct_trips rows pointing at it (the unknown members count 0, and no
    fact row points at them). Returns the members that differ. Nightly (tag): it counts the
    whole fact.
-#}

{{ config(tags=['nightly']) }}

with

fct_trips as not materialized (

    select * from {{ ref('fct_trips') }}

),

regions as (

    select * from {{ ref('dim_regions') }}

),

datasources as (

    select * from {{ ref('dim_datasources') }}

),

fact_by_region as (

    select
        region_id as member_id,
        count(*) as trip_count
    from fct_trips
    group by region_id

),

fact_by_datasource as (

    select
        datasource_id as member_id,
        count(*) as trip_count
    from fct_trips
    group by datasource_id

),

compared as (

    select
        'dim_regions' as dimension,
        coalesce(regions.region_id, fact_by_region.member_id) as member_id,
        regions.trip_count as dimension_trip_count,
        coalesce(fact_by_region.trip_count, 0) as fact_trip_count
    from regions
    full outer join fact_by_region
        on regions.region_id = fact_by_region.member_id

    union all

    select
        'dim_datasources' as dimension,
        coalesce(datasources.datasource_id, fact_by_datasource.member_id) as member_id,
        datasources.trip_count as dimension_trip_count,
        coalesce(fact_by_datasource.trip_count, 0) as fact_trip_count
    from datasources
    full outer join fact_by_datasource
        on datasources.datasource_id = fact_by_datasource.member_id

),

final as (

    select * from compared
    where dimension_trip_count is distinct from fact_trip_count

)

select * from final
