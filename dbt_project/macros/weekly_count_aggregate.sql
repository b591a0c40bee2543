{#-
    Body of an incremental weekly pre-aggregate of fct_trips: trip counts per `keys`, folded
    into the existing rows. The watermark is fct_trips.loaded_at (the loaded_at of the trip's
    file): a run counts only the trips loaded after the newest max_loaded_at already folded in
    and folds them into the matching rows (fold_into_existing; delete+insert on `keys` in the
    calling model).
-#}
{% macro weekly_count_aggregate(source_relation, keys) -%}
    {{ return(adapter.dispatch('weekly_count_aggregate', 'trips_warehouse')(source_relation, keys)) }}
{%- endmacro %}

{#- Postgres: the `'-infinity'::timestamptz` watermark of an empty table. -#}
{% macro postgres__weekly_count_aggregate(source_relation, keys) -%}
with

fct_trips as (

    select * from {{ source_relation }}
    {% if is_incremental() -%}
    where
        loaded_at > (
            select coalesce(max(folded.max_loaded_at), '-infinity'::timestamptz)
            from {{ this }} as folded
        )
    {%- endif %}

),

new_counts as (

    select
        {% for key in keys -%}
        {{ key }},
        {% endfor -%}
        count(*) as trip_count,
        max(loaded_at) as max_loaded_at
    from fct_trips
    group by {{ keys | join(', ') }}

),

combined as (

    {{ fold_into_existing(
        'new_counts', match_on=keys, carry=keys,
        folds=[('trip_count', 'sum'), ('max_loaded_at', 'max')],
    ) }}

),

final as (

    select
        {% for key in keys -%}
        {{ key }},
        {% endfor -%}
        trip_count,
        max_loaded_at
    from combined

)

select * from final
{%- endmacro %}
