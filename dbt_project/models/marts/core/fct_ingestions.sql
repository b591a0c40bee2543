{#-
    One row per source file in the ingestion ledger, with what its committed batches hold.
    Built from raw.load_batches (one row per batch), never by scanning raw.trips.
-#}

with

ingestions as (

    select * from {{ ref('stg_trips__ingestions') }}

),

load_batches as (

    select * from {{ ref('stg_trips__load_batches') }}

),

batches_per_file as (

    select
        file_hash,
        count(*) as batch_count,
        coalesce(sum(row_count) filter (where table_name = 'trips'), 0) as trip_rows_committed,
        coalesce(sum(row_count) filter (where table_name = 'trips_rejected'), 0)
            as rejected_rows_committed,
        min(batch_id) as first_batch_id,
        max(batch_id) as last_batch_id,
        min(loaded_at) as first_batch_loaded_at,
        max(loaded_at) as last_batch_loaded_at

    from load_batches
    group by file_hash

),

final as (

    select
        ingestions.file_hash,
        ingestions.flow_run_id,
        ingestions.file_path,
        ingestions.ingestion_status,
        ingestions.error_message,
        ingestions.file_size_bytes,
        ingestions.rows_read,
        ingestions.rows_rejected,
        ingestions.rows_loaded,
        coalesce(batches_per_file.batch_count, 0) as batch_count,
        coalesce(batches_per_file.trip_rows_committed, 0)::bigint as trip_rows_committed,
        coalesce(batches_per_file.rejected_rows_committed, 0)::bigint as rejected_rows_committed,
        batches_per_file.first_batch_id,
        batches_per_file.last_batch_id,
        ingestions.is_loaded,
        ingestions.first_seen_at,
        ingestions.landed_at,
        ingestions.loaded_at,
        extract(epoch from ingestions.loaded_at - ingestions.first_seen_at)::double precision
            as ingestion_duration_s

    from ingestions
    left join batches_per_file
        on ingestions.file_hash = batches_per_file.file_hash

)

select * from final
