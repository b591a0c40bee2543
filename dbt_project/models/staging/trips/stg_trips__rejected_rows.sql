with

source as (

    select * from {{ source('raw', 'trips_rejected') }}

),

renamed as (

    select
        -- ids
        source_file_hash,
        batch_id,

        -- strings
        region,
        origin_coord,
        destination_coord,
        datetime as trip_datetime_text,
        datasource,
        raw_record,
        rejection_reason,

        -- timestamps
        loaded_at

    from source

)

select * from renamed
