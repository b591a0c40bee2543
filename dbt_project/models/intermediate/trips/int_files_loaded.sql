{#-
    The visibility gate: one row per source file whose ledger status is 'loaded', i.e. all of
    its batches are committed and reconciled. Only trips of these files reach the marts.
    loaded_at is when the file was marked loaded (clock_timestamp() in the loader); ingestion
    runs are serialised, so it only grows from one run to the next: the marts' watermark.
-#}

with

ingestions as (

    select * from {{ ref('stg_trips__ingestions') }}

),

load_batches as (

    select * from {{ ref('stg_trips__load_batches') }}

),

trip_batches as (

    select
        file_hash,
        min(batch_id) as first_trip_batch_id,
        max(batch_id) as last_trip_batch_id

    from load_batches
    where table_name = 'trips'
    group by file_hash

),

final as (

    select
        ingestions.file_hash,
        trip_batches.first_trip_batch_id,
        trip_batches.last_trip_batch_id,
        -- a ledger row marked loaded without loaded_at (written by hand or by an older
        -- loader) counts as loaded when it was last updated
        coalesce(ingestions.loaded_at, ingestions.updated_at) as loaded_at

    from ingestions
    left join trip_batches
        on ingestions.file_hash = trip_batches.file_hash
    where ingestions.is_loaded

)

select * from final
