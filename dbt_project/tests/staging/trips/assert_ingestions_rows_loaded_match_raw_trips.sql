{#-
    The ledger and the data agree: for every file marked loaded, rows_loaded equals the rows
    of that file in raw.trips. Warn only: a re-landed file may legitimately be counted later.
-#}

{{ config(severity='warn') }}

with

ingestions as (

    select * from {{ ref('stg_trips__ingestions') }}

),

trips as (

    select * from {{ ref('stg_trips__trips') }}

),

trips_per_file as (

    select
        source_file_hash,
        count(*) as trip_count

    from trips
    group by source_file_hash

),

final as (

    select
        ingestions.file_hash,
        ingestions.rows_loaded,
        coalesce(trips_per_file.trip_count, 0) as trip_count

    from ingestions
    left join trips_per_file
        on ingestions.file_hash = trips_per_file.source_file_hash
    where
        ingestions.is_loaded
        and ingestions.rows_loaded is distinct from coalesce(trips_per_file.trip_count, 0)

)

select * from final
