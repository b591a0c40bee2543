-- Each weekly pre-aggregate holds exactly the fact's count per week (incremental folding
-- neither loses nor double-counts a batch). Returns the (aggregate, week) pairs that differ.
-- Nightly (tag): it counts the whole fact per week.

{{ config(tags=['nightly']) }}

{% set aggregates = [
    'origin_cell',
    'destination_cell',
    'od_cell',
    'region',
    'region_datasource',
    'origin_cell_l1',
    'destination_cell_l1',
] %}

with

fct_trips as (

    select * from {{ ref('fct_trips_gridded') }}

),

{% for name in aggregates %}
by_{{ name }} as (

    select * from {{ ref('agg_weekly_trips_by_' ~ name) }}

),

{% endfor %}
fact_weekly as (

    select
        iso_week_start,
        count(*) as trip_count
    from fct_trips
    group by iso_week_start

),

aggregate_weekly as (

    {% for name in aggregates -%}
    {% if not loop.first %}
    union all
    {% endif -%}
    select
        '{{ name }}' as aggregate_name,
        iso_week_start,
        sum(trip_count) as trip_count
    from by_{{ name }}
    group by iso_week_start
    {%- endfor %}

),

aggregate_names as (

    select distinct aggregate_name from aggregate_weekly
    {% for name in aggregates -%}
    union
    select '{{ name }}' as aggregate_name
    {% endfor %}

),

expected as (

    select
        aggregate_names.aggregate_name,
        fact_weekly.iso_week_start,
        fact_weekly.trip_count
    from aggregate_names
    cross join fact_weekly

),

final as (

    select
        coalesce(expected.aggregate_name, aggregate_weekly.aggregate_name) as aggregate_name,
        coalesce(expected.iso_week_start, aggregate_weekly.iso_week_start) as iso_week_start,
        expected.trip_count as fact_trip_count,
        aggregate_weekly.trip_count as aggregate_trip_count
    from expected
    full outer join aggregate_weekly
        on
            expected.aggregate_name = aggregate_weekly.aggregate_name
            and expected.iso_week_start = aggregate_weekly.iso_week_start
    where expected.trip_count is distinct from aggregate_weekly.trip_count

)

select * from final
