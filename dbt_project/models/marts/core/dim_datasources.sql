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

datasources as (

    {{ fold_into_existing(
        'new_datasources',
        match_on=['datasource_name'],
        carry=['datasource_name'],
        folds=[
            ('trip_count', 'sum'), ('first_trip_at', 'min'), ('last_trip_at', 'max'),
            ('first_loaded_at', 'min'), ('max_loaded_at', 'max'),
        ],
        existing={'known_datasource_id': ('datasource_id', 'smallint')},
    ) }}

),

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
