{#-
    One row per datasource with its trip count and activity span, plus the unknown member.
    Incremental like dim_regions (macro newly_loaded_trips): only the trips of newly loaded
    files are aggregated and folded into the existing rows.
-#}

-- depends_on: {{ ref('int_files_loaded') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='datasource_id',
        on_schema_change='fail',
    )
}}

with

{{ newly_loaded_trips('max_loaded_at') }}

new_datasources as (

    select
        datasource as datasource_name,
        count(*) as trip_count,
        min(trip_at) as first_trip_at,
        max(trip_at) as last_trip_at,
        min(loaded_at) as first_loaded_at,
        max(loaded_at) as max_loaded_at

    from trips
    group by datasource

),

{% if is_incremental() %}

datasources as (

    -- least/greatest ignore nulls: a datasource seen for the first time keeps its own values
    select
        folded.datasource_id as known_datasource_id,
        new_datasources.datasource_name,
        new_datasources.trip_count + coalesce(folded.trip_count, 0) as trip_count,
        least(new_datasources.first_trip_at, folded.first_trip_at) as first_trip_at,
        greatest(new_datasources.last_trip_at, folded.last_trip_at) as last_trip_at,
        least(new_datasources.first_loaded_at, folded.first_loaded_at) as first_loaded_at,
        greatest(new_datasources.max_loaded_at, folded.max_loaded_at) as max_loaded_at

    from new_datasources
    left join {{ this }} as folded
        on new_datasources.datasource_name = folded.datasource_name

),

{% else %}

datasources as (

    select
        null::smallint as known_datasource_id,
        *
    from new_datasources

),

{% endif %}

keyed as (

    select
        {{ dictionary_id(
            'known_datasource_id', 'datasource_id', ['first_loaded_at', 'datasource_name']
        ) }} as datasource_id,
        datasource_name,
        trip_count,
        first_trip_at,
        last_trip_at,
        first_loaded_at,
        max_loaded_at

    from datasources

),

unknown_member as (

    select
        -1::smallint as datasource_id,
        'unknown' as datasource_name,
        0::bigint as trip_count,
        null::timestamp as first_trip_at,
        null::timestamp as last_trip_at,
        null::timestamptz as first_loaded_at,
        null::timestamptz as max_loaded_at

),

final as (

    select * from keyed
    union all
    select * from unknown_member

)

select * from final
