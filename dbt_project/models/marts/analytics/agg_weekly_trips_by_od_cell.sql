{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=[
            'origin_cell_x',
            'origin_cell_y',
            'destination_cell_x',
            'destination_cell_y',
            'iso_week_start',
        ],
        on_schema_change='fail',
        post_hook=[
            {
                'sql': "{{ create_index(this, 'key_idx',"
                    ~ " ['origin_cell_x', 'origin_cell_y',"
                    ~ " 'destination_cell_x', 'destination_cell_y', 'iso_week_start'],"
                    ~ " ['trip_count']) }}",
                'transaction': false,
            },
        ],
    )
}}

{#-
    Weekly trip counts per (origin_cell_x, origin_cell_y, destination_cell_x,
    destination_cell_y, iso_week_start): the pre-aggregate that the weekly-average functions
    read for everything strictly inside an area. Incremental on fct_trips.batch_id: a new
    ingestion adds its counts to the existing rows instead of recounting history.
-#}

with

fct_trips as (

    select * from {{ ref('fct_trips') }}
    {% if is_incremental() %}
    where batch_id > (select coalesce(max(folded.max_batch_id), -1) from {{ this }} as folded)
    {% endif %}

),

new_counts as (

    select
        origin_cell_x,
        origin_cell_y,
        destination_cell_x,
        destination_cell_y,
        iso_week_start,
        count(*) as trip_count,
        max(batch_id) as max_batch_id
    from fct_trips
    group by origin_cell_x, origin_cell_y, destination_cell_x, destination_cell_y, iso_week_start

),

{% if is_incremental() %}

combined as (

    select
        new_counts.origin_cell_x,
        new_counts.origin_cell_y,
        new_counts.destination_cell_x,
        new_counts.destination_cell_y,
        new_counts.iso_week_start,
        new_counts.trip_count + coalesce(folded.trip_count, 0) as trip_count,
        greatest(new_counts.max_batch_id, folded.max_batch_id) as max_batch_id
    from new_counts
    left join {{ this }} as folded
        on
            new_counts.origin_cell_x = folded.origin_cell_x
            and new_counts.origin_cell_y = folded.origin_cell_y
            and new_counts.destination_cell_x = folded.destination_cell_x
            and new_counts.destination_cell_y = folded.destination_cell_y
            and new_counts.iso_week_start = folded.iso_week_start

),

{% else %}

combined as (

    select * from new_counts

),

{% endif %}

final as (

    select
        origin_cell_x,
        origin_cell_y,
        destination_cell_x,
        destination_cell_y,
        iso_week_start,
        trip_count,
        max_batch_id
    from combined

)

select * from final
