with

source as (

    select * from {{ source('raw', 'trips') }}

),

renamed as (

    select
        -- ids
        trip_id,
        batch_id,

        -- strings
        region,
        datasource,

        -- numerics
        origin_lon,
        origin_lat,
        destination_lon,
        destination_lat,

        -- dates
        trip_datetime::date as trip_date,

        -- timestamps (raw stores naive UTC)
        trip_datetime::timestamp as trip_at

    from source

)

select * from renamed
