with

source as (

    select * from {{ source('raw', 'load_batches') }}

),

renamed as (

    select
        -- ids
        batch_id,
        file_hash,

        -- strings
        table_name,
        batch_key,

        -- numerics
        row_count,

        -- timestamps
        loaded_at,
        archived_at

    from source

)

select * from renamed
