with

trips as (

    select * from {{ ref('int_trips_gridded') }}

),

regions as (

    select
        region as region_name,
        least(min(origin_lon), min(destination_lon)) as min_lon,
        least(min(origin_lat), min(destination_lat)) as min_lat,
        greatest(max(origin_lon), max(destination_lon)) as max_lon,
        greatest(max(origin_lat), max(destination_lat)) as max_lat,
        count(*) as trip_count,
        min(trip_at) as first_trip_at,
        max(trip_at) as last_trip_at

    from trips
    group by region

),

keyed as (

    select
        {{ surrogate_key(['region_name']) }} as region_id,
        region_name,
        min_lon,
        min_lat,
        max_lon,
        max_lat,
        trip_count,
        first_trip_at,
        last_trip_at

    from regions

),

unknown_member as (

    select
        '-1' as region_id,
        'unknown' as region_name,
        null::double precision as min_lon,
        null::double precision as min_lat,
        null::double precision as max_lon,
        null::double precision as max_lat,
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
