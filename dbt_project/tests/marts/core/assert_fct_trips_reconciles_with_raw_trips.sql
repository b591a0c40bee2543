{#-
    Reconciliation: every landed trip is in fct_trips once, and nothing else is.
    Returns one row (failing) when the counts or the batch coverage differ.
-#}

with

raw_trips as (

    select
        count(*) as row_count,
        count(distinct trip_id) as trip_count,
        max(batch_id) as max_batch_id

    from {{ source('raw', 'trips') }}

),

fct as (

    select
        count(*) as row_count,
        count(distinct trip_id) as trip_count,
        max(batch_id) as max_batch_id

    from {{ ref('fct_trips') }}

),

final as (

    select
        raw_trips.row_count as raw_row_count,
        fct.row_count as fct_row_count,
        raw_trips.max_batch_id as raw_max_batch_id,
        fct.max_batch_id as fct_max_batch_id

    from raw_trips
    cross join fct
    where
        raw_trips.row_count <> fct.row_count
        or raw_trips.trip_count <> fct.trip_count
        or raw_trips.max_batch_id is distinct from fct.max_batch_id

)

select * from final
