with

source as (

    select * from {{ source('raw', 'ingestions') }}

),

renamed as (

    select
        -- ids
        file_hash,
        flow_run_id,

        -- strings
        file_path,
        status as ingestion_status,
        error as error_message,

        -- numerics
        file_size_bytes,
        rows_read,
        rows_rejected,
        rows_accepted,
        rows_loaded,

        -- booleans
        status = 'loaded' as is_loaded,

        -- timestamps
        first_seen_at,
        landed_at,
        loaded_at,
        updated_at

    from source

)

select * from renamed
