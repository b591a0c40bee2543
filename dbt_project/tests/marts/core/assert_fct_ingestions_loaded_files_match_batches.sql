{#-
    For every loaded file, the ledger's rows_loaded equals the rows of its committed raw.trips
    batches: the ledger and the batches were written in the same transactions. A warning, not
    an error: a mismatch points at the loader, and the trips themselves are still consistent.
-#}

{{ config(severity='warn') }}

with

ingestions as (

    select * from {{ ref('fct_ingestions') }}

),

final as (

    select
        file_hash,
        rows_loaded,
        trip_rows_committed

    from ingestions
    where
        is_loaded
        and rows_loaded is distinct from trip_rows_committed

)

select * from final
