with

trips as (

    select * from {{ ref('int_trips_gridded') }}

),

datasources as (

    select
        datasource as datasource_name,
        count(*) as trip_count,
        min(trip_at) as first_trip_at,
        max(trip_at) as last_trip_at

    from trips
    group by datasource

),

keyed as (

    select
        {{ surrogate_key(['datasource_name']) }} as datasource_id,
        datasource_name,
        trip_count,
        first_trip_at,
        last_trip_at

    from datasources

),

unknown_member as (

    select
        '-1' as datasource_id,
        'unknown' as datasource_name,
        0::bigint as trip_count,
        null::timestamp as first_trip_at,
        null::timestamp as last_trip_at

),

final as (

    select * from keyed
    union all
    select * from unknown_member

)

select * from final
